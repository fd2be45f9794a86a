/**
 * What the fuzz suites share: how many runs to make, the checks that a tracker's state is
 * still whole after hostile input, and hostile values.
 *
 * `FUZZ_RUNS` scales every property: `FUZZ_RUNS=10x` (or `0.5x`) multiplies each one's
 * default, a plain number (`FUZZ_RUNS=200000`) sets each one's run count.
 */
import fc from 'fast-check'
import { PresenceError, type PresenceErrorCode } from '../../src/errors.js'
import type { Meta } from '../../src/index.js'
import type { Tracker } from '../../src/tracker.js'

/** The run count of a property whose default (CI-sized) count is `base`. */
export function runs(base: number): number {
  const setting = process.env.FUZZ_RUNS?.trim()
  if (!setting) return base
  const factor = /^(\d+(?:\.\d+)?)x$/i.exec(setting)
  const value = factor ? Math.round(base * Number(factor[1])) : Number(setting)
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`FUZZ_RUNS should be a count (50000) or a factor (4x), got "${setting}"`)
  }
  return value
}

/** A test's timeout for `count` runs of about `msPerRun` each, with room for a slow host. */
export function timeoutFor(count: number, msPerRun: number): number {
  return Math.max(20_000, Math.ceil(count * msPerRun * 5))
}

/** Throws unless `condition` holds: cheaper than `expect` in a loop of 10,000 runs. */
export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new Error(typeof message === 'string' ? message : message())
}

/** Every code a `PresenceError` may carry. */
export const CODES: ReadonlySet<PresenceErrorCode> = new Set<PresenceErrorCode>([
  'already_tracked',
  'nopresence',
  'invalid_argument',
  'invalid_meta',
  'name_taken',
  'unknown_name',
  'names_disabled',
  'names_full',
  'forbidden',
  'stale',
  'remote_name',
  'timeout',
  'nodedown',
  'closed',
  'rate_limited',
  'owner_full',
  'topic_full',
])

/** Whether `error` is a `PresenceError` with one of the documented codes. */
export function isKnownError(error: unknown): error is PresenceError {
  return error instanceof PresenceError && CODES.has(error.code)
}

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort().join()

/** Throws when anything was added to `Object.prototype` or a plain object grew a prototype. */
export function checkPrototype(): void {
  check(
    Object.getOwnPropertyNames(Object.prototype).sort().join() === PROTOTYPE_NAMES,
    () => `Object.prototype changed: ${Object.getOwnPropertyNames(Object.prototype)}`,
  )
  const probe = {} as Record<string, unknown>
  for (const name of ['status', 'metas', 'phx_ref', 'polluted', 'clock', 'x']) {
    check(probe[name] === undefined, `Object.prototype.${name} was set`)
  }
}

/**
 * Throws unless a tracker's reads agree with each other: every topic listed has entries,
 * counts match the list, each meta carries a string `phx_ref`, refs are unique in a topic,
 * `get` agrees with `list`, and the names are readable.
 */
export function checkTracker(tracker: Tracker<Meta>): void {
  const topics = tracker.topics()
  check(new Set(topics).size === topics.length, 'topics() holds a topic twice')
  for (const topic of topics) checkTopic(tracker, topic)
  checkPrototype()
}

function checkTopic(tracker: Tracker<Meta>, topic: string): void {
  const list = tracker.list(topic)
  const keys = Object.keys(list)
  check(keys.length > 0, `topic "${topic}" is in topics() but lists nothing`)
  check(tracker.countKeys(topic) === keys.length, `countKeys("${topic}") disagrees with list`)
  const refs = new Set<string>()
  let entries = 0
  for (const key of keys) {
    const metas = list[key]!.metas
    check(Array.isArray(metas) && metas.length > 0, `"${topic}"/"${key}" has no metas`)
    check(tracker.get(topic, key).length === metas.length, `get("${topic}") disagrees`)
    for (const meta of metas) {
      check(typeof meta.phx_ref === 'string', `a meta of "${key}" has no phx_ref`)
      check(!refs.has(meta.phx_ref), `ref ${meta.phx_ref} is listed twice in "${topic}"`)
      check(Object.isFrozen(meta), `a meta of "${key}" is not frozen`)
      refs.add(meta.phx_ref)
    }
    entries += metas.length
  }
  check(tracker.count(topic) === entries, `count("${topic}") disagrees with list`)
}

/** Tracks, lists and untracks a probe entry: a fresh local write still works. */
export function checkWritable(tracker: Tracker<Meta>): void {
  const topic = 'probe:topic'
  const before = tracker.count(topic)
  const ref = tracker.track('probe-owner', topic, 'probe-key', { probe: true })
  const metas = tracker.list(topic)['probe-key']?.metas ?? []
  check(
    metas.some((meta) => meta.phx_ref === ref),
    'a fresh track is not listed',
  )
  check(tracker.count(topic) === before + 1, 'a fresh track is not counted')
  tracker.untrack('probe-owner', topic, 'probe-key')
  check(tracker.count(topic) === before, 'a fresh untrack left something behind')
}

/** Every entry a tracker shows, refs included, as sorted lines: equal views, equal states. */
export function entriesOf(tracker: Tracker<Meta>, withOwnRefs = true): string[] {
  const lines: string[] = []
  for (const topic of tracker.topics()) {
    for (const key of Object.keys(tracker.list(topic))) {
      for (const info of tracker.get(topic, key)) {
        const own = info.node === tracker.nodeId
        const ref = own && !withOwnRefs ? '' : info.ref
        lines.push(JSON.stringify([topic, key, info.node, info.owner, info.meta, ref]))
      }
    }
  }
  return lines.sort()
}

/** A string that is sometimes nasty: empty, huge, reserved, a prototype's name. */
export const nastyString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 12 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      '__proto__',
      'constructor',
      'prototype',
      'hasOwnProperty',
      'toString',
      'phx_ref',
      'phx_ref_prev',
      '\u0000name:x',
      '\u0000',
      '\ud800',
      'a@b',
      'n1',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(256, 257, 9_000, 70_000).map((n) => 'x'.repeat(n)),
  },
)

/** A number that is sometimes nasty: NaN, negative zero, infinities, beyond 2^53. */
export const nastyNumber = fc.oneof(
  fc.integer({ min: -3, max: 40 }),
  fc.constantFrom(
    Number.NaN,
    -0,
    -1,
    0.5,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.MAX_SAFE_INTEGER,
    2 ** 53,
    2 ** 64,
    1e308,
    -(2 ** 31),
  ),
  fc.double(),
)
