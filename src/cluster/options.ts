import type { Secret } from './codec.js'
import type { Transport } from './transport.js'

/** Defaults of {@link ClusterOptions}, as typed constants so docs cannot drift. */
export const CLUSTER_DEFAULTS = {
  /** @see ClusterOptions.broadcastPeriod */
  broadcastPeriod: 1_500,
  /** @see ClusterOptions.downPeriod */
  downPeriod: 30_000,
  /** @see ClusterOptions.permdownPeriod */
  permdownPeriod: 1_200_000,
  /** @see ClusterOptions.callTimeout */
  callTimeout: 5_000,
  /** @see ClusterOptions.batchDelayMs */
  batchDelayMs: 5,
  /** @see ClusterOptions.batchBytes */
  batchBytes: 256 * 1024,
  /** @see ClusterOptions.maxRemovalLog */
  maxRemovalLog: 65_536,
} as const

/** How a Tracker joins a cluster. */
export interface ClusterOptions {
  /** The message bus: `RedisTransport` from `rollcall/redis`, or `MemoryNetwork`'s. */
  transport: Transport
  /**
   * This node's id. Set a stable one (the host name, the pod name) so that a restart
   * drops the old incarnation's entries at once instead of after `downPeriod`.
   * @default a random id
   */
  nodeId?: string
  /** A secret shared by every node: messages are HMAC-signed, unsigned ones dropped. */
  secret?: Secret
  /**
   * How often a node sends its heartbeat (liveness and repair), in ms. Changes are not
   * held for it: they go out within `batchDelayMs`.
   * @default 1500
   */
  broadcastPeriod?: number
  /**
   * A node silent this long is down: its entries leave, kept hidden in case it returns.
   * At least twice `broadcastPeriod`.
   * @default 30000
   */
  downPeriod?: number
  /**
   * A node down this long is forgotten, entries and all. More than `downPeriod`.
   * @default 1200000 (20 minutes)
   */
  permdownPeriod?: number
  /**
   * How long a call forwarded to the node that holds a name may take.
   * @default 5000
   */
  callTimeout?: number
  /**
   * How long local changes gather before they go out as one delta, in ms.
   * @default 5
   */
  batchDelayMs?: number
  /**
   * The size at which a delta is sent at once, and the most one message carries; larger
   * ones are split.
   * @default 262144 (256 KiB)
   */
  batchBytes?: number
  /**
   * Removals remembered so that a node that missed some changes gets a delta rather than
   * the whole state.
   * @default 65536
   */
  maxRemovalLog?: number
  /** Random numbers in [0, 1) for jitter; inject a seeded one for reproducible tests. */
  random?: () => number
}

/** What {@link rollcall!Tracker.nodes} tells of each node. */
export interface NodeInfo {
  /** The node's id. */
  node: string
  /** The node's incarnation, random on every start of it. */
  incarnation: string
  /** `self` for this node. */
  status: 'self' | 'up' | 'down'
  /** When this node last heard from it, on the tracker's clock. */
  lastHeard: number
}
