import type { Clock } from './clock.js'
import type { ClusterOptions } from './cluster/options.js'
import type { LimitOptions } from './limits.js'
import type { Logger } from './types.js'

/** Defaults of {@link TrackerOptions}, as typed constants so docs cannot drift. */
export const DEFAULTS = {
  /** @see TrackerOptions.maxMetaBytes */
  maxMetaBytes: 8 * 1024,
  /** @see TrackerOptions.maxIdLength */
  maxIdLength: 256,
  /** @see NamesOptions.max */
  maxNames: 10_000,
} as const

/** Options of the named-owner registry. */
export interface NamesOptions {
  /**
   * How many names this node may hold at once; one more throws `names_full`.
   * @default 10000
   */
  max?: number
  /**
   * Who may write through a name. When set, a write must say on whose behalf it acts
   * (`{ name, as: owner }`); a refused or anonymous one throws `forbidden`. Give every node
   * of a cluster the same function.
   *
   * @example
   * ```ts
   * names: { canWrite: (as, name) => name.startsWith(`game:${roomOf(as)}`) }
   * ```
   */
  canWrite?: (as: string, name: string) => boolean
}

/** Options of a {@link Tracker}. */
export interface TrackerOptions {
  /**
   * Where time is read and timers are set. Pass `ManualClock` from `rollcall/testing` to
   * run grace periods and heartbeats on fake time.
   * @default the real clock
   */
  clock?: Clock
  /** Receives structured log calls; nothing is logged (or built) without one. */
  logger?: Logger
  /**
   * The largest meta, as UTF-8 bytes of its JSON text; a larger one throws `invalid_meta`.
   * @default 8192
   */
  maxMetaBytes?: number
  /**
   * The longest topic, key, owner or name, in characters.
   * @default 256
   */
  maxIdLength?: number
  /**
   * Turns on the named-owner registry (`tracker.names`): `true`, or its options.
   * @default false
   */
  names?: boolean | NamesOptions
  /**
   * Owners must show a sign of life (a write, or {@link Tracker.touch}) within this many
   * milliseconds, or they leave with origin `timeout`: a half-open socket cannot stay
   * present forever. Off by default.
   */
  ownerTtl?: number
  /** Optional limits against misbehaving clients; each is off unless set. */
  limits?: LimitOptions
  /**
   * Joins a cluster: every node keeps a full replica, so reads stay local.
   *
   * @example
   * ```ts
   * const tracker = new Tracker({
   *   cluster: { transport: new RedisTransport({ url }), nodeId: 'web-1', secret },
   * })
   * await tracker.ready()
   * ```
   */
  cluster?: ClusterOptions
}
