/**
 * `rollcall/client` beside the `phoenix` npm package's Presence: applying diffs to a large
 * room, and reconciling a reconnect's full state.
 *
 * Both sides do the same work on the same data. Each builds its own state of the room with
 * its own `syncState` (so both hold a null-prototype state and change it in place), then
 * applies the same precomputed diffs in the same order. A change is an update, the most
 * common one (a status change): a leave of the old meta and a join of a new one naming it
 * in `phx_ref_prev`. The diffs move blocks of keys from ref `a` to ref `b` and back, so the
 * room keeps its size and every diff matches what is in the state. Neither side mutates a
 * diff (phoenix clones it, rollcall shares its metas), so both reuse the same diff objects.
 */
import { Presence } from 'phoenix'
import { syncDiff, syncState } from '../src/client/index.js'
import type { PresenceDiff, PresenceState, WireMeta } from '../src/types.js'
import { type BenchRow, medianMs, opsPerSecond } from './harness.js'

type RoomMeta = { status: string; online_at: number }
type State = PresenceState<RoomMeta>
type Diff = PresenceDiff<RoomMeta>

interface Side {
  syncState: (state: State, next: State) => State
  syncDiff: (state: State, diff: Diff) => State
}

const rollcall: Side = { syncState, syncDiff }
const phoenix: Side = {
  syncState: (state, next) => Presence.syncState(state, next),
  syncDiff: (state, diff) => Presence.syncDiff(state, diff),
}

const BASELINE = 'phoenix 1.8.16'

function userMeta(i: number, version: string, prev?: string): WireMeta<RoomMeta> {
  const meta = { status: version === 'a' ? 'online' : 'away', online_at: 1.7e12 + i }
  const phx_ref = `${version}${i}`
  return prev === undefined ? { ...meta, phx_ref } : { ...meta, phx_ref, phx_ref_prev: prev }
}

/** A room of `keys` users, one meta each, as a `presence_state` payload. */
function room(keys: number, changed = 0): State {
  const state: State = {}
  for (let i = 0; i < keys; i++) {
    state[`user-${i}`] = { metas: [userMeta(i, i < changed ? 'b' : 'a')] }
  }
  return state
}

/** One diff updating keys `from` to `from + count - 1` from version `old` to `next`. */
function updateDiff(from: number, count: number, old: string, next: string): Diff {
  const joins: State = {}
  const leaves: State = {}
  for (let i = from; i < from + count; i++) {
    leaves[`user-${i}`] = { metas: [userMeta(i, old)] }
    joins[`user-${i}`] = { metas: [userMeta(i, next, `${old}${i}`)] }
  }
  return { joins, leaves }
}

/** Diffs that take every key from `a` to `b`, `changes` at a time, then back again. */
function cycle(keys: number, changes: number): Diff[] {
  const forth: Diff[] = []
  const back: Diff[] = []
  for (let from = 0; from < keys; from += changes) {
    forth.push(updateDiff(from, changes, 'a', 'b'))
    back.push(updateDiff(from, changes, 'b', 'a'))
  }
  return [...forth, ...back]
}

function diffsPerSecond(side: Side, keys: number, diffs: Diff[]): number {
  let state = side.syncState({}, room(keys))
  let next = 0
  return opsPerSecond(() => {
    state = side.syncDiff(state, diffs[next]!)
    next = (next + 1) % diffs.length
  }, 500)
}

function syncDiffRow(keys: number, changes: number): BenchRow {
  const diffs = cycle(keys, changes)
  const what = changes === 1 ? '1 change' : `${changes.toLocaleString('en-US')} changes`
  return {
    group: 'client',
    name: `syncDiff, ${what} into ${keys.toLocaleString('en-US')} keys`,
    value: diffsPerSecond(rollcall, keys, diffs),
    baseline: diffsPerSecond(phoenix, keys, diffs),
    baselineLabel: BASELINE,
    unit: 'ops/s',
    higherIsBetter: true,
  }
}

/** A reconnect: the state of `keys` keys meets a new state where 1% of them changed. */
function reconnectMs(side: Side, keys: number): number {
  return medianMs(() => {
    const state = side.syncState({}, room(keys))
    const next = room(keys, keys / 100)
    return () => side.syncState(state, next)
  })
}

function syncStateRow(keys: number): BenchRow {
  return {
    group: 'client',
    name: `syncState, reconnect to ${keys.toLocaleString('en-US')} keys (1% changed)`,
    value: reconnectMs(rollcall, keys),
    baseline: reconnectMs(phoenix, keys),
    baselineLabel: BASELINE,
    unit: 'ms',
    higherIsBetter: false,
  }
}

/** Runs the client benchmarks: rollcall's figure beside phoenix's, each from this run. */
export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  for (const keys of [1_000, 10_000]) {
    for (const changes of [1, 100]) rows.push(syncDiffRow(keys, changes))
  }
  rows.push(syncStateRow(10_000))
  return rows
}
