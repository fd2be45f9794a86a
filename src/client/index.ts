/**
 * `rollcall/client`: a topic's presences in the browser, rebuilt from the
 * `presence_state`, `presence_diff` and `presence_count` messages that rollcall's
 * `tracker.subscribe` sends (the same messages a Phoenix channel sends). Browser-safe,
 * with no Node APIs and no dependencies.
 *
 * @example
 * ```ts
 * import { PresenceClient } from 'rollcall/client'
 *
 * const presence = new PresenceClient<{ status: string }>()
 * socket.onmessage = (event) => presence.receive(JSON.parse(event.data))
 * presence.on('sync', () => render(presence.list()))
 * ```
 *
 * @packageDocumentation
 * @module rollcall/client
 */
export { PresenceError, type PresenceErrorCode } from '../errors.js'
export type {
  Json,
  KeyPresence,
  Meta,
  PresenceCountMessage,
  PresenceDiff,
  PresenceDiffMessage,
  PresenceMessage,
  PresenceState,
  PresenceStateMessage,
  WireMeta,
} from '../types.js'
export {
  type ClientErrorContext,
  type ClientEvents,
  DEFAULT_MAX_PENDING_DIFFS,
  PresenceClient,
  type PresenceClientOptions,
  type PresenceCount,
  type ReadonlyPresenceState,
} from './client.js'
export { type JoinCallback, type LeaveCallback, list, syncDiff, syncState } from './sync.js'
