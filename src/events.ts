import { EventEmitter } from 'eventemitter3'
import type { Meta, Origin, PresenceState } from './types.js'

/** A presence that joined or left a topic. */
export interface PresenceEvent<M extends object = Meta> {
  topic: string
  key: string
  /** The node that holds the entry. */
  node: string
  /** The owner on that node (a connection id, or a standalone name's owner). */
  owner: string
  /** Frozen. */
  meta: Readonly<M>
  /** The ref of this version of the meta. */
  ref: string
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
  topic: string
  joins: PresenceState<M>
  leaves: PresenceState<M>
  origin: Origin
}

/** A node of the cluster as this node sees it. */
export interface NodeEvent {
  node: string
  incarnation: string
}

/** Two nodes held one name; `winner` keeps it on every node, `loser` gave it up. */
export interface NameConflictEvent {
  name: string
  winner: { node: string; owner: string }
  loser: { node: string; owner: string }
}

/** The events of a Tracker, each listener typed. */
export interface TrackerEvents<M extends object = Meta> {
  join: (event: PresenceEvent<M>) => void
  leave: (event: PresenceEvent<M>) => void
  update: (event: UpdateEvent<M>) => void
  diff: (event: DiffEvent<M>) => void
  nodeup: (event: NodeEvent) => void
  nodedown: (event: NodeEvent) => void
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

  override on<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    return super.on(event, this.#guard(event, fn), context)
  }

  override addListener<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    return this.on(event, fn, context)
  }

  override once<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    return super.once(event, this.#guard(event, fn), context)
  }

  override off<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn?: EventEmitter.EventListener<Events, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    const guarded = fn && (this.#guards.get(fn as Listener) as typeof fn | undefined)
    return super.off(event, guarded ?? fn, context, once)
  }

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
