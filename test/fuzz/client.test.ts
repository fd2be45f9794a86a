/**
 * Random, mutated and hostile messages fed to `PresenceClient.receive`, mixed with valid
 * ones. It never throws; what it cannot use is reported through `error` and changes
 * nothing, so it ends up with the same state, count and events as a client that was sent
 * only the valid messages; its state stays whole (every key holds metas with a string
 * `phx_ref`) and nothing reaches `Object.prototype`.
 */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { PresenceClient } from '../../src/client/index.js'
import type { Meta } from '../../src/index.js'
import { check, checkPrototype, nastyString, runs, timeoutFor } from './support.js'
import { mutateTree, treeMutation, wireValue } from './wire.js'

const KEYS = ['alice', 'bob', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '']
const REFS = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', '__proto__', '']

const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KEYS) }, fc.string())
const ref = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...REFS) }, fc.string())

const wireMeta = fc
  .record(
    {
      phx_ref: ref,
      phx_ref_prev: ref,
      status: fc.constantFrom('online', 'away'),
      ['__proto__']: fc.constant('x'),
    },
    { requiredKeys: ['phx_ref'] },
  )
  .map((meta) => JSON.parse(JSON.stringify(meta)) as Record<string, unknown>)

const presences = fc
  .array(fc.tuple(key, fc.array(wireMeta, { minLength: 1, maxLength: 3 })), { maxLength: 4 })
  .map((pairs) => {
    const state: Record<string, unknown> = {}
    for (const [k, metas] of pairs) {
      Object.defineProperty(state, k, { value: { metas }, enumerable: true, configurable: true })
    }
    return state
  })

/** A message rollcall (or Phoenix) could send. */
const validMessage = fc.oneof(
  presences.map((payload) => ({ event: 'presence_state', payload })),
  fc
    .record({ joins: presences, leaves: presences })
    .map((payload) => ({ event: 'presence_diff', payload })),
  fc
    .record({ keys: fc.nat(), entries: fc.nat() })
    .map((payload) => ({ event: 'presence_count', payload })),
)

/** Values no client may take as a message: each breaks one rule. */
const brokenMessage = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    undefined,
    'presence_state',
    42,
    [],
    { event: 'presence_state' },
    { event: 'presence_state', payload: [] },
    { event: 'presence_state', payload: { alice: { metas: [{ phx_ref: 1 }] } } },
    { event: 'presence_state', payload: { alice: { metas: [{}] } } },
    { event: 'presence_state', payload: { alice: { metas: {} } } },
    { event: 'presence_state', payload: { alice: { metas: [] } } },
    { event: 'presence_state', payload: { alice: [] } },
    { event: 'presence_state', payload: { alice: { metas: [null] } } },
    { event: 'presence_state', payload: { a: { metas: [{ phx_ref: 'r', phx_ref_prev: 2 }] } } },
    { event: 'presence_diff', payload: { joins: {} } },
    { event: 'presence_diff', payload: { joins: { a: { metas: [] } }, leaves: {} } },
    { event: 'presence_diff', payload: { joins: {}, leaves: { a: 5 } } },
    { event: 'presence_count', payload: { keys: -1, entries: 0 } },
    { event: 'presence_count', payload: { keys: 1.5, entries: 0 } },
    { event: 'presence_count', payload: { keys: Number.NaN, entries: 0 } },
    { event: 'presence_count', payload: { keys: 1 } },
    { event: 'presence_leave', payload: {} },
    { event: '__proto__', payload: {} },
    JSON.parse('{"event":"presence_state","payload":{"__proto__":{"metas":"x"}}}'),
    Symbol('message'),
    10n,
    () => ({ event: 'presence_state', payload: {} }),
  ),
  nastyString,
)

const throwing = () => {
  throw new Error('a getter threw')
}

/** Objects with getters that throw: a socket layer never hands these over, a bug might. */
const throwingObject = fc.constantFrom<unknown>(
  Object.defineProperty({ payload: {} }, 'event', { get: throwing, enumerable: true }),
  {
    event: 'presence_state',
    payload: Object.defineProperty({}, 'k', { get: throwing, enumerable: true }),
  },
  Object.create({ event: 'presence_state', payload: {} }),
)

/** Odd objects that may or may not pass as a message. */
const oddObject = fc.constantFrom<unknown>(
  Object.freeze({ event: 'presence_state', payload: Object.freeze({}) }),
  { event: 'presence_state', payload: new Date() },
  { event: 'presence_diff', payload: { joins: new Map(), leaves: [] } },
  { event: 'presence_state', payload: Object.create(null) },
)

/** Something a client may be sent: a valid message, a broken one, or a mutated valid one. */
const anyMessage = fc.oneof(
  { weight: 5, arbitrary: validMessage.map((message) => ({ message, valid: true })) },
  { weight: 2, arbitrary: brokenMessage.map((message) => ({ message, valid: false })) },
  { weight: 1, arbitrary: throwingObject.map((message) => ({ message, valid: false })) },
  { weight: 1, arbitrary: oddObject.map((message) => ({ message, valid: undefined })) },
  { weight: 2, arbitrary: wireValue.map((message) => ({ message, valid: undefined })) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(validMessage, treeMutation)
      .map(([message, mutation]) => ({ message: mutateTree(message, mutation), valid: undefined })),
  },
)

interface Watched {
  client: PresenceClient<Meta>
  events: string[]
  errors: number
}

function watched(): Watched {
  const client = new PresenceClient<Meta>()
  const out: Watched = { client, events: [], errors: 0 }
  client.on('join', (k, meta) => out.events.push(`join ${k} ${meta.phx_ref}`))
  client.on('leave', (k, meta) => out.events.push(`leave ${k} ${meta.phx_ref}`))
  client.on('update', (k, meta, prev) =>
    out.events.push(`update ${k} ${prev.phx_ref}>${meta.phx_ref}`),
  )
  client.on('sync', () => out.events.push('sync'))
  client.on('count', (count) => out.events.push(`count ${count.keys}/${count.entries}`))
  client.on('error', () => out.errors++)
  return out
}

/** The client's state as comparable text; throws when a key's presence is not whole. */
function stateOf(client: PresenceClient<Meta>): string {
  const state = client.state
  const keys = Object.keys(state)
  check(client.list().length === keys.length, 'list() disagrees with state')
  for (const k of keys) {
    const metas = state[k]?.metas
    check(Array.isArray(metas) && metas.length > 0, () => `key ${JSON.stringify(k)} has no metas`)
    for (const meta of metas) {
      check(typeof meta === 'object' && meta !== null, `a meta of ${k} is not an object`)
      check(typeof meta.phx_ref === 'string', `a meta of ${k} has no string phx_ref`)
    }
  }
  return JSON.stringify(keys.map((k) => [k, state[k]!.metas]))
}

const RUNS = runs(40_000)

describe('PresenceClient.receive under random, mutated and hostile messages', () => {
  it(
    'never throws, reports what it drops, and ends as a client sent only valid ones',
    () => {
      fc.assert(
        fc.property(fc.array(anyMessage, { maxLength: 12 }), (messages) => {
          const all = watched()
          const clean = watched()
          for (const [i, { message, valid }] of messages.entries()) {
            const before = all.errors
            all.client.receive(message)
            const dropped = all.errors > before
            check(valid !== true || !dropped, `message ${i} is valid but was dropped`)
            check(valid !== false || dropped, `message ${i} is broken but was taken`)
            if (!dropped) clean.client.receive(message)
            stateOf(all.client)
          }
          check(clean.errors === 0, 'a message the client took was refused the second time')
          check(stateOf(all.client) === stateOf(clean.client), 'garbage changed the state')
          check(JSON.stringify(all.client.count) === JSON.stringify(clean.client.count), 'count')
          check(all.events.join() === clean.events.join(), 'garbage changed the events')
          check(all.client.inPendingSyncState() === clean.client.inPendingSyncState(), 'sync')
          checkPrototype()
        }),
        { numRuns: RUNS },
      )
    },
    timeoutFor(RUNS, 1),
  )
})
