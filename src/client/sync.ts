/**
 * The pure core of `rollcall/client`: the same functions as the `phoenix` npm package's
 * `Presence.syncState`, `Presence.syncDiff` and `Presence.list`, with the same results and
 * callbacks, but without cloning anything through JSON and with ref matching by `Set`
 * once a key holds many metas.
 *
 * Presence objects are never mutated: a change to a key puts a new presence object (and a
 * new `metas` array) in the state, so a presence handed to a callback or kept by the
 * caller never changes under it. Metas themselves are shared with the messages they came
 * in, not copied.
 */
import type { KeyPresence, Meta, PresenceDiff, PresenceState, WireMeta } from '../types.js'

/**
 * Called once per key that a diff (or a new state) joins metas to, as Phoenix calls it:
 * `currentPresence` is the key's presence before the change (`undefined` when the key was
 * absent) and `newPresence` holds only the joined metas.
 */
export type JoinCallback<M extends object = Meta> = (
  key: string,
  currentPresence: KeyPresence<M> | undefined,
  newPresence: KeyPresence<M>,
) => void

/**
 * Called once per key that a diff (or a new state) removes metas from, as Phoenix calls
 * it: `currentPresence` is the key's presence after the removal (its `metas` are empty
 * when the key left entirely) and `leftPresence` holds the metas that left.
 */
export type LeaveCallback<M extends object = Meta> = (
  key: string,
  currentPresence: KeyPresence<M>,
  leftPresence: KeyPresence<M>,
) => void

/** Above this many ref comparisons, matching builds a `Set` instead of scanning. */
const SCAN_LIMIT = 32

/** A state object that only ever holds own keys: `__proto__` is just another key. */
function emptyState<M extends object>(): PresenceState<M> {
  return Object.create(null) as PresenceState<M>
}

/** The state itself when it has no prototype, else a null-prototype copy of its keys. */
function nullProto<M extends object>(state: PresenceState<M>): PresenceState<M> {
  if (Object.getPrototypeOf(state) === null) return state
  const copy = emptyState<M>()
  for (const key of Object.keys(state)) copy[key] = state[key]!
  return copy
}

/** @internal The metas of `metas` whose `phx_ref` is not the ref of any meta in `drop`. */
export function without<M extends object>(
  metas: readonly WireMeta<M>[],
  drop: readonly WireMeta<M>[],
): WireMeta<M>[] {
  const refs = metas.length * drop.length > SCAN_LIMIT ? new Set(drop.map(refOf)) : undefined
  const kept: WireMeta<M>[] = []
  for (const meta of metas) {
    const ref = meta.phx_ref
    if (refs ? !refs.has(ref) : !hasRef(drop, ref)) kept.push(meta)
  }
  return kept
}

function refOf(meta: WireMeta<object>): string {
  return meta.phx_ref
}

function hasRef(metas: readonly WireMeta<object>[], ref: string): boolean {
  for (const meta of metas) if (meta.phx_ref === ref) return true
  return false
}

/**
 * Brings `currentState` to `newState` (a full `presence_state` payload) and reports the
 * difference through the callbacks: metas whose `phx_ref` is new are joins, metas whose
 * `phx_ref` is gone are leaves. Neither input is mutated.
 *
 * @returns the new state, a null-prototype object.
 * @example
 * ```ts
 * let state = {}
 * state = syncState(state, message.payload, (key, current) => {
 *   if (!current) console.log(`${key} came online`)
 * })
 * ```
 */
export function syncState<M extends object = Meta>(
  currentState: PresenceState<M>,
  newState: PresenceState<M>,
  onJoin?: JoinCallback<M>,
  onLeave?: LeaveCallback<M>,
): PresenceState<M> {
  const state = emptyState<M>()
  const leaves = emptyState<M>()
  for (const key of Object.keys(currentState)) {
    state[key] = currentState[key]!
    if (!Object.hasOwn(newState, key)) leaves[key] = state[key]
  }

  const joins = emptyState<M>()
  for (const key of Object.keys(newState)) {
    const next = newState[key]!
    const current = state[key]
    if (!current) {
      joins[key] = next
      continue
    }
    const joined = without(next.metas, current.metas)
    const left = without(current.metas, next.metas)
    if (joined.length > 0) joins[key] = { ...next, metas: joined }
    if (left.length > 0) leaves[key] = { ...current, metas: left }
  }

  return syncDiff(state, { joins, leaves }, onJoin, onLeave)
}

/**
 * Applies one `presence_diff` payload to `state`: joins first, then leaves, matching
 * metas by `phx_ref`. A joined meta goes after the key's current metas (an update, a leave
 * of the old meta plus a join of the new one, so moves to the end, as in Phoenix).
 *
 * `state` is changed in place and returned when it has no prototype (as every state these
 * functions return); otherwise a null-prototype copy is changed and returned. The diff is
 * never mutated, and neither are the presence objects of `state`.
 *
 * @returns the updated state.
 * @example
 * ```ts
 * state = syncDiff(state, message.payload, onJoin, onLeave)
 * ```
 */
export function syncDiff<M extends object = Meta>(
  state: PresenceState<M>,
  diff: PresenceDiff<M>,
  onJoin?: JoinCallback<M>,
  onLeave?: LeaveCallback<M>,
): PresenceState<M> {
  const target = nullProto(state)
  const { joins, leaves } = diff
  for (const key of Object.keys(joins)) applyJoin(target, key, joins[key]!, onJoin)
  for (const key of Object.keys(leaves)) applyLeave(target, key, leaves[key]!, onLeave)
  return target
}

function applyJoin<M extends object>(
  state: PresenceState<M>,
  key: string,
  joined: KeyPresence<M>,
  onJoin: JoinCallback<M> | undefined,
): void {
  const current = state[key]
  state[key] = current
    ? { ...joined, metas: without(current.metas, joined.metas).concat(joined.metas) }
    : joined
  onJoin?.(key, current, joined)
}

function applyLeave<M extends object>(
  state: PresenceState<M>,
  key: string,
  left: KeyPresence<M>,
  onLeave: LeaveCallback<M> | undefined,
): void {
  const current = state[key]
  if (!current) return
  const next = { ...current, metas: without(current.metas, left.metas) }
  if (next.metas.length > 0) state[key] = next
  else delete state[key]
  onLeave?.(key, next, left)
}

/**
 * The presences of a state as an array, in the state's key order, each passed through
 * `chooser` (by default the key's presence itself), as Phoenix's `Presence.list`.
 *
 * @example
 * ```ts
 * const online = list(state, (id, { metas: [first, ...rest] }) => ({
 *   id,
 *   status: first.status,
 *   tabs: rest.length + 1,
 * }))
 * ```
 */
export function list<M extends object = Meta, T = KeyPresence<M>>(
  state: PresenceState<M>,
  chooser?: (key: string, presence: KeyPresence<M>) => T,
): T[] {
  const keys = Object.keys(state)
  if (!chooser) return keys.map((key) => state[key] as T)
  return keys.map((key) => chooser(key, state[key]!))
}
