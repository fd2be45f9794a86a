/**
 * Random operations from random owners on random topics and keys, valid and invalid mixed,
 * checked after every step against a plain model of the entries: what the tracker shows
 * must equal the model, every rejected call must change nothing and emit nothing.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PresenceError, type PresenceErrorCode } from '../../src/errors.js'
import type { Tracker } from '../../src/tracker.js'
import { setup, snapshot, type TestMeta } from './helpers.js'

const OWNERS = ['s1', 's2', '__proto__', 'constructor']
const TOPICS = ['room:1', 'room:2', 'toString']
const KEYS = ['alice', 'bob', '__proto__', 'hasOwnProperty']

type Target = { owner: number; topic: number; key: number }
type Op =
  | ({ kind: 'track'; n: number } & Target)
  | ({ kind: 'update'; n: number; fn: boolean } & Target)
  | ({ kind: 'untrack' } & Target)
  | { kind: 'untrackAll'; owner: number }
  | ({ kind: 'invalid'; which: number } & Target)

const target = {
  owner: fc.nat(OWNERS.length - 1),
  topic: fc.nat(TOPICS.length - 1),
  key: fc.nat(KEYS.length - 1),
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('track' as const), n: fc.nat(9), ...target }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('update' as const),
      n: fc.nat(9),
      fn: fc.boolean(),
      ...target,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('untrack' as const), ...target }) },
  fc.record({ kind: fc.constant('untrackAll' as const), owner: target.owner }),
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('invalid' as const), which: fc.nat(), ...target }),
  },
)

/** Calls that must always be refused, whatever the state. */
const INVALID: Array<
  [PresenceErrorCode, (t: Tracker<TestMeta>, o: string, p: string, k: string) => unknown]
> = [
  ['invalid_argument', (t, o, _p, k) => t.track(o, '', k, {})],
  ['invalid_argument', (t, o, p) => t.track(o, p, 'x'.repeat(300), {})],
  ['invalid_argument', (t, _o, p, k) => t.track('\u0000name:x', p, k, {})],
  ['invalid_argument', (t, _o, p, k) => t.update(7 as never, p, k, {})],
  ['invalid_argument', (t, o, _p, k) => t.untrack(o, null as never, k)],
  ['invalid_meta', (t, o, p, k) => t.track(o, p, k, { n: Number.NaN })],
  ['invalid_meta', (t, o, p, k) => t.track(o, p, k, { phx_ref: 'forged' })],
  ['invalid_meta', (t, o, p, k) => t.track(o, p, k, [] as never)],
  ['names_disabled', (t, _o, p, k) => t.update({ name: 'n' }, p, k, {})],
]

interface ModelEntry {
  owner: string
  topic: string
  key: string
  meta: TestMeta
  ref: string
  prevRef?: string
}

class Model {
  readonly entries = new Map<string, ModelEntry>()

  static id(owner: string, topic: string, key: string): string {
    return JSON.stringify([owner, topic, key])
  }

  topics(): string[] {
    return [...new Set([...this.entries.values()].map((entry) => entry.topic))].sort()
  }

  inTopic(topic: string): ModelEntry[] {
    return [...this.entries.values()].filter((entry) => entry.topic === topic)
  }
}

function wireOf(entry: ModelEntry): object {
  const wire: Record<string, unknown> = { ...entry.meta, phx_ref: entry.ref }
  if (entry.prevRef !== undefined) wire.phx_ref_prev = entry.prevRef
  return wire
}

const byRef = (a: { phx_ref: string }, b: { phx_ref: string }) =>
  a.phx_ref < b.phx_ref ? -1 : a.phx_ref > b.phx_ref ? 1 : 0

function expectEqualToModel(tracker: Tracker<TestMeta>, model: Model): void {
  expect([...tracker.topics()].sort()).toEqual(model.topics())
  for (const topic of TOPICS) {
    const entries = model.inTopic(topic)
    const keys = [...new Set(entries.map((entry) => entry.key))].sort()
    const state = tracker.list(topic)
    expect(Object.keys(state).sort()).toEqual(keys)
    expect(tracker.count(topic)).toBe(entries.length)
    expect(tracker.countKeys(topic)).toBe(keys.length)
    for (const key of KEYS) {
      const mine = entries.filter((entry) => entry.key === key)
      const metas = [...(state[key]?.metas ?? [])].sort(byRef)
      expect(metas).toEqual(mine.map(wireOf).sort(byRef as never))
      const got = tracker
        .get(topic, key)
        .map(({ owner, meta, ref }) => ({ owner, meta, ref }))
        .sort(byOwner)
      expect(got).toEqual(mine.map(({ owner, meta, ref }) => ({ owner, meta, ref })).sort(byOwner))
    }
  }
}

const byOwner = (a: { owner: string }, b: { owner: string }) =>
  a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0

/** Runs one op on both; returns the events the tracker must have emitted, by kind. */
function step(tracker: Tracker<TestMeta>, model: Model, op: Op): string[] | 'refused' {
  const owner = OWNERS[op.owner]!
  if (op.kind === 'untrackAll') {
    const gone = [...model.entries.values()].filter((entry) => entry.owner === owner)
    tracker.untrackAll(owner)
    for (const entry of gone) model.entries.delete(Model.id(owner, entry.topic, entry.key))
    const diffs = new Set(gone.map((entry) => entry.topic)).size
    return [...gone.map(() => 'leave'), ...Array<string>(diffs).fill('diff')]
  }
  const topic = TOPICS[op.topic]!
  const key = KEYS[op.key]!
  const id = Model.id(owner, topic, key)
  const existing = model.entries.get(id)
  switch (op.kind) {
    case 'track': {
      if (existing) {
        expectCode(() => tracker.track(owner, topic, key, { n: op.n }), 'already_tracked')
        return 'refused'
      }
      const ref = tracker.track(owner, topic, key, { n: op.n })
      model.entries.set(id, { owner, topic, key, meta: { n: op.n }, ref })
      return ['join', 'diff']
    }
    case 'update': {
      const next = { n: op.n }
      const meta = op.fn ? (prev: Readonly<TestMeta>) => ({ ...prev, ...next }) : next
      if (!existing) {
        expectCode(() => tracker.update(owner, topic, key, meta), 'nopresence')
        return 'refused'
      }
      const ref = tracker.update(owner, topic, key, meta)
      const merged = op.fn ? { ...existing.meta, ...next } : next
      model.entries.set(id, { ...existing, meta: merged, ref, prevRef: existing.ref })
      return ['update', 'diff']
    }
    case 'untrack':
      tracker.untrack(owner, topic, key)
      if (!existing) return []
      model.entries.delete(id)
      return ['leave', 'diff']
    case 'invalid': {
      const [code, call] = INVALID[op.which % INVALID.length]!
      expectCode(() => call(tracker, owner, topic, key), code)
      return 'refused'
    }
  }
}

function expectCode(fn: () => unknown, code: PresenceErrorCode): void {
  let caught: unknown
  try {
    fn()
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(PresenceError)
  expect((caught as PresenceError).code).toBe(code)
}

describe('the tracker against a model of its entries', () => {
  it('shows what the model holds after every operation; refusals change nothing', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const { tracker, events } = setup()
        const model = new Model()
        for (const op of ops) {
          const before = snapshot(tracker)
          events.length = 0
          const expected = step(tracker, model, op)
          if (expected === 'refused') {
            expect(snapshot(tracker)).toEqual(before)
            expect(events).toEqual([])
          } else {
            expect(events.map((e) => e.event).sort()).toEqual([...expected].sort())
          }
          expectEqualToModel(tracker, model)
        }
        const refs = [...model.entries.values()].map((entry) => entry.ref)
        expect(new Set(refs).size).toBe(refs.length)
      }),
      { numRuns: 300 },
    )
  })
})
