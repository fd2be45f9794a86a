/**
 * Hostile arguments to every write of the Tracker API: plain values of every kind, huge
 * strings, symbols, deep nesting, cycles, getters that throw, frozen objects, arrays,
 * Dates, class instances. Each call either works or throws a `PresenceError` with a
 * documented code, and a call that throws changes nothing that can be read.
 */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import type { Meta } from '../../src/index.js'
import { ManualClock } from '../../src/testing/index.js'
import { Tracker } from '../../src/tracker.js'
import {
  check,
  checkTracker,
  checkWritable,
  isKnownError,
  nastyString,
  runs,
  timeoutFor,
} from './support.js'

const throwing = () => {
  throw new Error('a getter threw')
}

class Point {
  constructor(
    readonly x = 1,
    readonly y = 2,
  ) {}
}

function cyclic(): object {
  const value: Record<string, unknown> = { a: 1 }
  value.self = value
  return value
}

function sparse(): unknown[] {
  const list = [1, 2, 3]
  delete list[1]
  return list
}

function nested(depth: number): object {
  let value: object = { leaf: true }
  for (let i = 0; i < depth; i++) value = { child: value }
  return value
}

/** Values of every kind a caller might pass by mistake or on purpose. */
const oddValue = fc.constantFrom<unknown>(
  undefined,
  null,
  true,
  0,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  10n,
  Symbol('s'),
  () => 'f',
  [],
  ['a'],
  {},
  Object.freeze({ status: 'frozen' }),
  Object.create(null),
  new Date(0),
  new Point(),
  new Map([['a', 1]]),
  /re/,
  new Uint8Array(2),
  Object.defineProperty({}, 'status', { get: throwing, enumerable: true }),
  Object.defineProperty({}, 'status', { get: () => 'computed', enumerable: true }),
  cyclic(),
  nested(20),
  nested(40),
  { big: 'x'.repeat(9_000) },
  { n: Number.NaN },
  { n: 10n },
  { f: () => 1 },
  { s: Symbol('s') },
  { [Symbol('k')]: 1, ok: true },
  { d: new Date(0) },
  { p: new Point() },
  { phx_ref: 'forged' },
  { phx_ref_prev: 'forged' },
  JSON.parse('{"__proto__":{"polluted":true},"ok":1}'),
  { constructor: 'c', toString: 's', hasOwnProperty: 1 },
  { toJSON: () => ({}) },
  { list: sparse() },
  { u: undefined, ok: 1 },
)

const ids = (pool: string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...pool) },
    { weight: 2, arbitrary: nastyString },
    { weight: 1, arbitrary: oddValue },
  )

const owner = fc.oneof(
  { weight: 8, arbitrary: ids(['o1', 'o2', 'o3', '__proto__']) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      { name: 'g1' },
      { name: 'alias' },
      { name: 'g1', as: 'o1' },
      { name: 'nope' },
      { name: 5 },
      { name: 'g1', as: 7 },
      Object.defineProperty({}, 'name', { get: throwing, enumerable: true }),
    ),
  },
)
const topic = ids(['room:1', 'room:2', '__proto__'])
const key = ids(['alice', 'bob', 'constructor'])
const name = ids(['g1', 'g2', 'alias', '__proto__'])
const goodMeta = fc.record({ status: fc.constantFrom('online', 'away'), n: fc.nat(9) })
const meta = fc.oneof({ weight: 3, arbitrary: goodMeta }, { weight: 2, arbitrary: oddValue })
const ms = fc.oneof(fc.nat(3_000), oddValue)
const ifRef = fc.oneof(fc.constant(undefined), oddValue, fc.record({ ifRef: nastyString }))

/** The caller's own error, thrown from an update function: it is the caller's to see. */
class CallerError extends Error {}

const updateFn = fc.oneof(
  meta.map((next) => () => next),
  fc.constant((prev: Readonly<Meta>) => ({ ...prev, seen: true })),
  fc.constant((prev: Readonly<Meta>) => prev),
  fc.constant(() => {
    throw new CallerError('the update function threw')
  }),
  fc.constant((prev: Readonly<Meta>) => {
    check(!Reflect.set(prev, 'mutated', true), 'the previous meta handed out is not frozen')
    return prev
  }),
)

type Call = (tracker: Tracker<Meta>, clock: ManualClock) => unknown
type Any = never

/** One call, named with its arguments for fast-check's counterexamples. */
interface Op {
  label: string
  run: Call
}

function op(label: string, args: unknown[], run: Call): Op {
  const show = (arg: unknown) => {
    try {
      return fc.stringify(arg)
    } catch {
      return '<unprintable>'
    }
  }
  const text = () => `${label}(${args.map(show).join(', ')})`
  return { label, run, [fc.toStringMethod]: text } as Op
}

const call: fc.Arbitrary<Op> = fc.oneof(
  fc
    .tuple(owner, topic, key, meta)
    .map((a) =>
      op('track', a, (tr) => tr.track(a[0] as Any, a[1] as Any, a[2] as Any, a[3] as Any)),
    ),
  fc
    .tuple(owner, topic, key, fc.oneof(meta, updateFn))
    .map((a) =>
      op('update', a, (tr) => tr.update(a[0] as Any, a[1] as Any, a[2] as Any, a[3] as Any)),
    ),
  fc
    .tuple(owner, topic, key)
    .map((a) => op('untrack', a, (tr) => tr.untrack(a[0] as Any, a[1] as Any, a[2] as Any))),
  owner.map((o) => op('untrackAll', [o], (tr) => tr.untrackAll(o as Any))),
  fc.tuple(owner, ms).map((a) => op('suspend', a, (tr) => tr.suspend(a[0] as Any, a[1] as Any))),
  owner.map((o) => op('resume', [o], (tr) => tr.resume(o as Any))),
  owner.map((o) => op('touch', [o], (tr) => tr.touch(o as Any))),
  fc.tuple(topic, key).map((a) => op('reads', a, (tr) => reads(tr, a[0], a[1]))),
  fc
    .tuple(topic, fc.oneof(fc.constant({}), oddValue, fc.record({ diffWindowMs: ms })))
    .map((a) => op('subscribe', a, (tr) => tr.subscribe(a[0] as Any, () => {}, a[1] as Any))),
  fc
    .tuple(name, owner)
    .map((a) => op('register', a, (tr) => tr.names.register(a[0] as Any, a[1] as Any))),
  fc
    .tuple(name, fc.oneof(fc.constant(undefined), oddValue, fc.record({ releaseWhenAlone: topic })))
    .map((a) => op('create', a, (tr) => tr.names.create(a[0] as Any, a[1] as Any))),
  name.map((n) => op('unregister', [n], (tr) => tr.names.unregister(n as Any))),
  name.map((n) =>
    op('lookup', [n], (tr) => [tr.names.whereis(n as Any), tr.names.lookup(n as Any)]),
  ),
  fc
    .tuple(owner, topic, key, fc.oneof(meta, updateFn), ifRef)
    .map((a) =>
      op('names.update', a, (tr) =>
        tr.names.update(a[0] as Any, a[1] as Any, a[2] as Any, a[3] as Any, a[4] as Any),
      ),
    ),
  fc.nat(4_000).map((ms) => op('advance', [ms], (_, clock) => clock.advance(ms))),
)

function reads(tracker: Tracker<Meta>, topic: unknown, key: unknown): unknown {
  return [
    tracker.count(topic as Any),
    tracker.countKeys(topic as Any),
    tracker.list(topic as Any),
    tracker.get(topic as Any, key as Any),
  ]
}

/** Everything a caller can read of a tracker, as text. */
function snapshot(tracker: Tracker<Meta>): string {
  const topics = tracker.topics().sort()
  const names = tracker.names.list().sort()
  return JSON.stringify({
    topics: topics.map((t) => [t, tracker.count(t), tracker.countKeys(t), tracker.list(t)]),
    names: names.map((n) => [n, tracker.names.whereis(n)]),
  })
}

async function run(calls: Op[], ttl: boolean): Promise<void> {
  const clock = new ManualClock()
  const tracker = new Tracker<Meta>({
    clock,
    names: { max: 3 },
    limits: { entriesPerOwner: 4, entriesPerTopic: 6 },
    ownerTtl: ttl ? 2_000 : undefined,
  })
  tracker.track('o1', 'room:1', 'alice', { status: 'online' })
  tracker.names.create('g1')
  tracker.track({ name: 'g1' }, 'room:1', 'board', { phase: 1 })
  tracker.names.register('alias', 'o1')

  for (const { label, run: each } of calls) {
    const before = snapshot(tracker)
    let outcome: unknown = []
    try {
      outcome = await each(tracker, clock)
    } catch (error) {
      const ownError = error instanceof CallerError
      check(isKnownError(error) || ownError, () => `${label} threw ${String(error)}`)
      if (label !== 'advance') {
        check(snapshot(tracker) === before, `${label} threw (${String(error)}) yet changed state`)
      }
    }
    if (label === 'reads') check(Array.isArray(outcome), 'reads returned nothing')
    checkTracker(tracker)
  }
  checkWritable(tracker)
}

const RUNS = runs(30_000)

describe('the Tracker API under hostile arguments', () => {
  it(
    'accepts a call or throws a PresenceError with a known code, changing nothing',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 12 }), fc.boolean(), run),
        { numRuns: RUNS },
      )
    },
    timeoutFor(RUNS, 1),
  )
})
