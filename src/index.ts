/**
 * `rollcall`: who is present in which topic, with what meta, kept correct across tabs,
 * dropped connections and (with the `cluster` option) several server processes.
 *
 * Start with {@link Tracker}: `track`, `update`, `untrack` and `list`, typed events, and
 * `subscribe` for the `presence_state` / `presence_diff` messages a socket forwards to
 * the browser (read them there with `rollcall/client`).
 *
 * @example
 * ```ts
 * import { Tracker } from 'rollcall'
 *
 * const tracker = new Tracker<{ status: string }>()
 * tracker.track('socket-1', 'room:42', 'alice', { status: 'online' })
 * tracker.list('room:42') // { alice: { metas: [{ status: 'online', phx_ref: '…' }] } }
 * ```
 *
 * @packageDocumentation
 * @module rollcall
 */
export type { FetchHook, Send, SubscribeOptions } from './channel.js'
export { type Clock, realClock, type TimerHandle } from './clock.js'
export { PresenceError, type PresenceErrorCode, type PresenceErrorFields } from './errors.js'
export type {
  DiffEvent,
  NameConflictEvent,
  NodeEvent,
  PresenceEvent,
  TrackerEvents,
  UpdateEvent,
} from './events.js'
export type { LimitOptions } from './limits.js'
export type {
  CreateNameOptions,
  NameLocation,
  Names,
  NameTarget,
  NameUpdateOptions,
} from './names.js'
export { DEFAULTS, type NamesOptions, type TrackerOptions } from './options.js'
export { type MetaUpdate, type OwnerRef, type PresenceInfo, Tracker } from './tracker.js'
export type {
  Json,
  KeyPresence,
  Logger,
  LogLevel,
  Meta,
  Origin,
  PresenceCountMessage,
  PresenceDiff,
  PresenceDiffMessage,
  PresenceMessage,
  PresenceState,
  PresenceStateMessage,
  WireMeta,
} from './types.js'
