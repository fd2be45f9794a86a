/**
 * A model of one topic on a Phoenix-style server, for the client's property tests: random
 * joins, leaves and updates, and the `presence_state` / `presence_diff` messages a server
 * sends for them (an update is a leave of the old meta plus a join of the new one, whose
 * `phx_ref_prev` names the old ref).
 */
import fc from 'fast-check'
import type { PresenceDiff, PresenceState, WireMeta } from '../../src/types.js'

export type TestMeta = { status: string }
export type TestState = PresenceState<TestMeta>

/** Keys include names that collide with `Object.prototype`, and integer-like ones. */
export const KEYS = ['alice', 'bob', '__proto__', 'constructor', 'hasOwnProperty', '0', '7']

export type Op =
  | { kind: 'join'; key: number; status: string }
  | { kind: 'leave'; key: number; entry: number }
  | { kind: 'update'; key: number; entry: number; status: string }

const key = fc.integer({ min: 0, max: KEYS.length - 1 })
const status = fc.constantFrom('online', 'away', 'busy')
const entry = fc.nat(4)

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('join' as const), key, status }), weight: 3 },
  fc.record({ kind: fc.constant('leave' as const), key, entry }),
  { arbitrary: fc.record({ kind: fc.constant('update' as const), key, entry, status }), weight: 2 },
)

/** Batches of ops: each batch becomes one (coalesced) diff. */
export const batchesArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), {
  maxLength: 30,
})

/** What an op did, as the client's events should tell it. */
export type ModelEvent =
  | { kind: 'join' | 'leave'; key: string; ref: string }
  | { kind: 'update'; key: string; ref: string; previous: string }

/** The server side of one topic. */
export class RoomModel {
  readonly #keys = new Map<string, WireMeta<TestMeta>[]>()
  #nextRef = 0

  /** Applies one op; returns what it did, `undefined` for a no-op on an absent key. */
  apply(op: Op): ModelEvent | undefined {
    const key = KEYS[op.key]!
    const metas = this.#keys.get(key) ?? []
    if (op.kind === 'join') {
      const ref = this.#ref()
      this.#keys.set(key, [...metas, { status: op.status, phx_ref: ref }])
      return { kind: 'join', key, ref }
    }
    if (metas.length === 0) return undefined
    const old = metas[op.entry % metas.length]!
    const rest = metas.filter((meta) => meta !== old)
    const ref = op.kind === 'update' ? this.#ref() : old.phx_ref
    if (op.kind === 'update')
      rest.push({ status: op.status, phx_ref: ref, phx_ref_prev: old.phx_ref })
    if (rest.length > 0) this.#keys.set(key, rest)
    else this.#keys.delete(key)
    return op.kind === 'update'
      ? { kind: 'update', key, ref, previous: old.phx_ref }
      : { kind: 'leave', key, ref }
  }

  /** The `presence_state` payload of the topic now, with fresh arrays. */
  snapshot(): TestState {
    const state: TestState = Object.create(null)
    for (const [name, metas] of this.#keys) state[name] = { metas: [...metas] }
    return state
  }

  #ref(): string {
    this.#nextRef += 1
    return `ref-${this.#nextRef}`
  }
}

/** Per ref: leaves are refs of `before` gone from `after`, joins the other way round. */
export function diffBetween(before: TestState, after: TestState): PresenceDiff<TestMeta> {
  return { joins: missingFrom(after, before), leaves: missingFrom(before, after) }
}

function missingFrom(from: TestState, other: TestState): TestState {
  const result: TestState = Object.create(null)
  for (const name of Object.keys(from)) {
    const refs = new Set(other[name]?.metas.map((meta) => meta.phx_ref))
    const metas = from[name]!.metas.filter((meta) => !refs.has(meta.phx_ref))
    if (metas.length > 0) result[name] = { metas }
  }
  return result
}

export function isEmpty(diff: PresenceDiff<TestMeta>): boolean {
  return Object.keys(diff.joins).length === 0 && Object.keys(diff.leaves).length === 0
}

/** A value as it comes off the network: a fresh copy through JSON. */
export function wire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

/** The snapshots after each batch (index 0: before any) and the diff of each batch. */
export function timeline(batches: Op[][]): {
  states: TestState[]
  diffs: PresenceDiff<TestMeta>[]
} {
  const model = new RoomModel()
  const states = [model.snapshot()]
  const diffs: PresenceDiff<TestMeta>[] = []
  for (const batch of batches) {
    for (const op of batch) model.apply(op)
    const state = model.snapshot()
    diffs.push(diffBetween(states[states.length - 1]!, state))
    states.push(state)
  }
  return { states, diffs }
}
