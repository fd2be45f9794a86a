/**
 * Shared types of rollcall's public surface. This module has no runtime code, so the
 * browser client can import it without pulling in the tracker.
 */

/** A JSON value, as a meta may hold it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

/** What an owner attaches to an entry: a plain JSON object. */
export type Meta = { [key: string]: Json }

/**
 * A meta as it travels to Phoenix-compatible clients: the owner's meta plus the ref of
 * this version (`phx_ref`) and, when it replaced another version, that one's ref.
 */
export type WireMeta<M extends object = Meta> = M & {
  /** The ref of this version of the meta. */
  readonly phx_ref: string
  /** The ref of the version this one replaced, when it replaced one. */
  readonly phx_ref_prev?: string
}

/** The presences of one key: one meta per entry (per tab, device or connection). */
export interface KeyPresence<M extends object = Meta> {
  /** One meta per entry of the key: per tab, device or connection. */
  metas: WireMeta<M>[]
}

/** A topic's presences, by key: `{ [key]: { metas: [...] } }`, as Phoenix sends them. */
export type PresenceState<M extends object = Meta> = Record<string, KeyPresence<M>>

/** One change of a topic, as Phoenix's `presence_diff` carries it. */
export interface PresenceDiff<M extends object = Meta> {
  /** The metas that joined, by key (for an update, the new meta). */
  joins: PresenceState<M>
  /** The metas that left, by key (for an update, the old meta). */
  leaves: PresenceState<M>
}

/** The full state of a topic, sent once to a new subscriber. */
export interface PresenceStateMessage<M extends object = Meta> {
  /** Always `presence_state`. */
  event: 'presence_state'
  /** Every presence of the topic, by key. */
  payload: PresenceState<M>
}

/** The changes of a topic since the subscriber's last message. */
export interface PresenceDiffMessage<M extends object = Meta> {
  /** Always `presence_diff`. */
  event: 'presence_diff'
  /** What joined and what left since the previous message. */
  payload: PresenceDiff<M>
}

/** The size of a topic, for count-only subscribers of very large rooms. */
export interface PresenceCountMessage {
  /** Always `presence_count`. */
  event: 'presence_count'
  /** The topic's size. */
  payload: {
    /** Distinct keys ("N online"), as `tracker.countKeys(topic)`. */
    keys: number
    /** Entries (every tab of every key), as `tracker.count(topic)`. */
    entries: number
  }
}

/** Every message a subscriber's `send` receives. */
export type PresenceMessage<M extends object = Meta> =
  | PresenceStateMessage<M>
  | PresenceDiffMessage<M>
  | PresenceCountMessage

/**
 * Where a change came from: this node's API (`local`), another node (`remote`), an owner
 * whose grace period or TTL ran out (`timeout`), or a node taking over a standalone name
 * whose node went away (`takeover`).
 */
export type Origin = 'local' | 'remote' | 'timeout' | 'takeover'

/** Log levels, as the optional `logger` receives them. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * An optional structured logger. rollcall logs nothing without one, and builds no
 * message either.
 */
export type Logger = (level: LogLevel, message: string, data?: object) => void
