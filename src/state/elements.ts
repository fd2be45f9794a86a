import type { Meta, WireMeta } from '../types.js'

/** One replica: a node, in one incarnation (random on every start). */
export interface Replica {
  /** The node's id, stable across restarts when the user sets one. */
  readonly node: string
  /** Random on every start, so a restarted node is a new replica. */
  readonly incarnation: string
  /** @internal `incarnation@node`, unique per replica, the key of every per-replica map. */
  readonly id: string
}

/** Builds a replica from its node id and incarnation. */
export function replicaOf(node: string, incarnation: string): Replica {
  return { node, incarnation, id: `${incarnation}@${node}` }
}

/** Orders replicas by (node, incarnation): the lowest wins a name conflict. */
export function compareReplicas(a: Replica, b: Replica): number {
  if (a.node !== b.node) return a.node < b.node ? -1 : 1
  if (a.incarnation === b.incarnation) return 0
  return a.incarnation < b.incarnation ? -1 : 1
}

/** The ref of a dot: the replica's incarnation and the clock, unique across the cluster. */
export function refOf(replica: Replica, clock: number): string {
  return `${replica.incarnation}.${clock.toString(36)}`
}

/**
 * One presence: (topic, key, node, owner) with its meta, at one dot. An update makes a new
 * entry at a new dot whose `prev` is the clock of the one it replaced.
 */
export class Entry<M extends object = Meta> {
  #wire: WireMeta<M> | undefined

  constructor(
    readonly replica: Replica,
    readonly clock: number,
    readonly topic: string,
    readonly key: string,
    readonly owner: string,
    /** Frozen. */
    readonly meta: Readonly<M>,
    /** The clock of the entry this one replaced, 0 for a first track. */
    readonly prev: number,
  ) {}

  /** The ref of this version. */
  get ref(): string {
    return refOf(this.replica, this.clock)
  }

  /** The ref of the version this one replaced, if any. */
  get prevRef(): string | undefined {
    return this.prev === 0 ? undefined : refOf(this.replica, this.prev)
  }

  /** The meta as Phoenix clients expect it, with `phx_ref` (and `phx_ref_prev`); cached. */
  get wire(): WireMeta<M> {
    if (this.#wire) return this.#wire
    const wire: Record<string, unknown> = { ...this.meta, phx_ref: this.ref }
    if (this.prev !== 0) wire.phx_ref_prev = this.prevRef
    this.#wire = Object.freeze(wire) as WireMeta<M>
    return this.#wire
  }
}

/** What a standalone name's release depends on. */
export interface ReleaseWhenAlone {
  topic: string
  graceMs: number
}

/**
 * A name registration: `name` aliases `owner` on the registering replica. A standalone
 * registration's owner belongs to the tracker itself.
 */
export class Registration {
  constructor(
    readonly replica: Replica,
    readonly clock: number,
    readonly name: string,
    readonly owner: string,
    readonly standalone: boolean,
    readonly release: ReleaseWhenAlone | undefined,
  ) {}
}

/** Anything a dot can hold. */
export type Element<M extends object = Meta> = Entry<M> | Registration
