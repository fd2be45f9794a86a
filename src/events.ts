import { EventEmitter } from 'eventemitter3'
import type { Meta, Origin, PresenceState } from './types.js'

/** A presence that joined or left a topic. */
export interface PresenceEvent<M extends object = Meta> {
  /** The topic the entry is in. */
  topic: string
  /** The key the entry is for (usually a user id). */
  key: string
  /** The node that holds the entry. */
  node: string
  /** The owner on that node (a connection id, or a standalone name's owner). */
  owner: string
  /** Frozen. */
  meta: Readonly<M>
  /** The ref of this version of the meta. */
  ref: string
  /** Where the change came from. */
  origin: Origin
}

/** An entry whose meta was replaced: one event with the previous and the next meta. */
export interface UpdateEvent<M extends object = Meta> extends PresenceEvent<M> {
  /** The meta before the update; frozen. */
  prevMeta: Readonly<M>
  /** The ref of the meta before the update. */
  prevRef: string
}

/**
 * A topic's change in Phoenix's `{ joins, leaves }` shape, metas carrying `phx_ref` and,
 * for an update, `phx_ref_prev`. An update is a leave of the old meta plus a join of the
 * new one, as Phoenix clients require.
 */
export interface DiffEvent<M extends object = Meta> {
  /** The topic that changed. */
  topic: string
  /** The metas that joined, by key. */
  joins: PresenceState<M>
  /** The metas that left, by key. */
  leaves: PresenceState<M>
  /** Where the change came from. */
  origin: Origin
}

/** A node of the cluster as this node sees it. */
export interface NodeEvent {
  /** The node's id (`cluster.nodeId`). */
  node: string
  /** The node's incarnation, random on every start of it. */
  incarnation: string
}

/** Two nodes held one name; `winner` keeps it on every node, `loser` gave it up. */
export interface NameConflictEvent {
  /** The name two nodes held. */
  name: string
  /** The registration that keeps the name. */
  winner: {
    /** The node that keeps the name. */
    node: string
    /** The owner the name stands for there. */
    owner: string
  }
  /** This node's registration, which was released. */
  loser: {
    /** This node. */
    node: string
    /** The owner the name stood for here. */
    owner: string
  }
}

/** The events of a Tracker, each listener typed. */
export interface TrackerEvents<M extends object = Meta> {
  /** An entry joined a topic; `origin` says whether here, on another node, or by takeover. */
  join: (event: PresenceEvent<M>) => void
  /** An entry left a topic: untracked, its owner gone or timed out, or its node down. */
  leave: (event: PresenceEvent<M>) => void
  /** An entry's meta was replaced: one event with the previous and the next meta. */
  update: (event: UpdateEvent<M>) => void
  /** A topic changed, in Phoenix's `{ joins, leaves }` shape; once per topic per change. */
  diff: (event: DiffEvent<M>) => void
  /** A node was first heard from, or came back after it was down. */
  nodeup: (event: NodeEvent) => void
  /** A node went silent for `downPeriod`, said goodbye, or restarted as a new incarnation. */
  nodedown: (event: NodeEvent) => void
  /** A name this node held was also held by another node, which keeps it. */
  name_conflict: (event: NameConflictEvent) => void
}

type Listener = (...args: never[]) => void

/**
 * An eventemitter3 emitter whose listeners cannot hurt the emitter: a listener that
 * throws is reported through `report` and the others still run. The change that caused
 * the event is already committed by then, so nothing is half-applied either.
 */
export class GuardedEmitter<
  Events extends EventEmitter.ValidEventTypes,
> extends EventEmitter<Events> {
  readonly #guards = new WeakMap<Listener, Listener>()

  /** @internal Receives what a listener threw. */
  protected report(_event: string, _error: unknown): void {}

  /** Adds a listener. One that throws is reported to the logger; the others still run. */
  override on<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    return super.on(event, this.#guard(event, fn), context)
  }

  /** The same as `on`. */
  override addListener<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    return this.on(event, fn, context)
  }

  /** Adds a listener that is removed after its first call; guarded as `on`. */
  override once<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    return super.once(event, this.#guard(event, fn), context)
  }

  /**
   * Removes a listener added with `on`, `addListener` or `once`; without `fn`, every
   * listener of the event.
   */
  override off<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn?: EventEmitter.EventListener<Events, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    const guarded = fn && (this.#guards.get(fn as Listener) as typeof fn | undefined)
    return super.off(event, guarded ?? fn, context, once)
  }

  /** The same as `off`. */
  override removeListener<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn?: EventEmitter.EventListener<Events, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    return this.off(event, fn, context, once)
  }

  #guard<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
  ): EventEmitter.EventListener<Events, T> {
    let guarded = this.#guards.get(fn as Listener)
    if (!guarded) {
      const report = (error: unknown) => this.report(String(event), error)
      guarded = function (this: unknown, ...args: never[]) {
        try {
          ;(fn as Listener).apply(this, args)
        } catch (error) {
          report(error)
        }
      }
      this.#guards.set(fn as Listener, guarded)
    }
    return guarded as EventEmitter.EventListener<Events, T>
  }
}
