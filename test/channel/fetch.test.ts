import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import type { FetchHook } from '../../src/channel.js'
import type { Meta, PresenceState } from '../../src/types.js'
import { setup } from '../core/helpers.js'
import { canonical, type Msg, ReferenceClient, recorder } from './helpers.js'
import { opArb, run } from './ops.js'

/** Adds `who` to every meta, as an app's fetch adds user details from a database. */
function enrich(presences: PresenceState<Meta>): PresenceState<Meta> {
  const out = Object.create(null) as PresenceState<Meta>
  for (const key of Object.keys(presences)) {
    out[key] = { metas: presences[key]!.metas.map((meta) => ({ ...meta, who: `user ${key}` })) }
  }
  return out
}

/** A message with the enrichment taken out again, to compare with an unenriched one. */
function strip(message: Msg): Msg {
  return JSON.parse(JSON.stringify(message), (key, value) => (key === 'who' ? undefined : value))
}

describe('fetch', () => {
  it('sync: enriches the state and every diff, in order', () => {
    const { tracker } = setup()
    tracker.track('s1', 'r', 'alice', {})
    const { messages, send } = recorder()
    const fetch = vi.fn((_topic: string, presences: PresenceState<Meta>) => enrich(presences))
    tracker.subscribe('r', send, { fetch })
    const ref = tracker.track('s2', 'r', 'bob', {})

    expect(fetch.mock.calls[0]![0]).toBe('r')
    expect(messages.map((m) => m.event)).toEqual(['presence_state', 'presence_diff'])
    expect(messages[1]).toEqual({
      event: 'presence_diff',
      payload: { joins: { bob: { metas: [{ phx_ref: ref, who: 'user bob' }] } }, leaves: {} },
    })
  })

  it('sends the same metas as a subscriber without fetch, phx_ref_prev of leaves too', () => {
    const { tracker } = setup()
    const plain = recorder()
    const fetched = recorder()
    tracker.subscribe('r', plain.send)
    tracker.subscribe('r', fetched.send, { fetch: (_topic, presences) => enrich(presences) })
    tracker.track('s1', 'r', 'bob', { n: 0 })
    tracker.update('s1', 'r', 'bob', { n: 1 })
    tracker.update('s1', 'r', 'bob', { n: 2 })
    expect(fetched.messages.map(strip)).toEqual(plain.messages)
    expect(plain.messages.at(-1)).toMatchObject({
      payload: { leaves: { bob: { metas: [{ n: 1, phx_ref_prev: expect.any(String) }] } } },
    })
  })

  it('async, with random delays, keeps the order of the messages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 40 }),
        fc.array(fc.oneof(fc.constant(-1), fc.nat(80)), { minLength: 1, maxLength: 20 }),
        fc.constantFrom(0, 25),
        async (ops, delays, diffWindowMs) => {
          const { tracker, clock } = setup()
          let call = 0
          // A delay of -1 answers synchronously; others resolve on the clock, out of order.
          const fetch: FetchHook<Meta> = (_topic, presences) => {
            const delay = delays[call++ % delays.length]!
            if (delay < 0) return enrich(presences)
            return new Promise((resolve) => {
              clock.setTimeout(() => resolve(enrich(presences)), delay)
            })
          }
          const plain = recorder()
          const fetched = recorder()
          const client = new ReferenceClient()
          tracker.subscribe('room', plain.send, { diffWindowMs })
          tracker.subscribe(
            'room',
            (message) => {
              fetched.send(message)
              client.receive(strip(message))
            },
            { diffWindowMs, fetch },
          )
          for (const op of ops) await run(tracker, clock, op)
          await clock.advance(1000)

          expect(fetched.messages.map(strip)).toEqual(plain.messages)
          expect(client.canonical()).toEqual(canonical(tracker.list('room')))
          for (const message of fetched.messages) {
            if (message.event !== 'presence_diff') continue
            for (const state of [message.payload.joins, message.payload.leaves]) {
              for (const key of Object.keys(state)) {
                for (const meta of state[key]!.metas) expect(meta.who).toBe(`user ${key}`)
              }
            }
          }
        },
      ),
      { numRuns: 150 },
    )
  })

  it('that throws ends that subscription with onError; the tracker serves the others', () => {
    const { tracker, logs } = setup()
    const boom = new Error('db down')
    let calls = 0
    const fetch: FetchHook<Meta> = (_topic, presences) => {
      if (++calls === 2) throw boom
      return presences
    }
    const onError = vi.fn()
    const failing = recorder()
    const other = recorder()
    tracker.subscribe('r', failing.send, { fetch, onError })
    tracker.subscribe('r', other.send)

    expect(() => tracker.track('s1', 'r', 'alice', {})).not.toThrow()
    tracker.track('s2', 'r', 'bob', {})

    expect(onError).toHaveBeenCalledExactlyOnceWith(boom)
    expect(failing.messages.map((m) => m.event)).toEqual(['presence_state'])
    expect(other.messages.map((m) => m.event)).toEqual([
      'presence_state',
      'presence_diff',
      'presence_diff',
    ])
    expect(tracker.count('r')).toBe(2)
    expect(logs).toContainEqual({
      level: 'error',
      message: 'fetch failed; the subscription ended',
      data: { topic: 'r', error: boom },
    })
  })

  it('that throws on the state ends the subscription at once', () => {
    const { tracker } = setup()
    const onError = vi.fn()
    const { messages, send } = recorder()
    tracker.subscribe('r', send, {
      fetch: () => {
        throw new Error('no')
      },
      onError,
    })
    tracker.track('s1', 'r', 'alice', {})
    expect(messages).toEqual([])
    expect(onError).toHaveBeenCalledTimes(1)
  })

  it('that rejects ends that subscription, drops what was queued, serves others', async () => {
    const { tracker, clock } = setup()
    const boom = new Error('timeout')
    let calls = 0
    const fetch: FetchHook<Meta> = (_topic, presences) => {
      calls++
      return new Promise((resolve, reject) => {
        const fail = calls === 2
        clock.setTimeout(() => (fail ? reject(boom) : resolve(presences)), 10)
      })
    }
    const onError = vi.fn()
    const failing = recorder()
    const other = recorder()
    tracker.subscribe('r', failing.send, { fetch, onError })
    tracker.subscribe('r', other.send)
    tracker.track('s1', 'r', 'alice', {})
    tracker.track('s2', 'r', 'bob', {})
    tracker.track('s3', 'r', 'carol', {})
    await clock.advance(100)

    expect(onError).toHaveBeenCalledExactlyOnceWith(boom)
    expect(failing.messages.map((m) => m.event)).toEqual(['presence_state'])
    expect(other.messages).toHaveLength(4)
    tracker.track('s4', 'r', 'dave', {})
    await clock.advance(100)
    expect(failing.messages).toHaveLength(1)
    expect(other.messages).toHaveLength(5)
  })

  it('an onError that throws is reported, not thrown', () => {
    const { tracker, logs } = setup()
    tracker.subscribe('r', () => {}, {
      fetch: () => {
        throw new Error('fetch')
      },
      onError: () => {
        throw new Error('handler')
      },
    })
    expect(logs.map((log) => log.message)).toEqual([
      'fetch failed; the subscription ended',
      'onError threw',
    ])
  })

  it('unsubscribing while a fetch is pending drops its message', async () => {
    const { tracker, clock } = setup()
    const { messages, send } = recorder()
    const stop = tracker.subscribe('r', send, {
      fetch: (_topic, presences) =>
        new Promise((resolve) => clock.setTimeout(() => resolve(presences), 10)),
    })
    tracker.track('s1', 'r', 'alice', {})
    stop()
    await clock.advance(100)
    expect(messages).toEqual([])
  })
})
