import { describe, PresenceError } from '../errors.js'
import type {
  KeyPresence,
  Meta,
  PresenceCountMessage,
  PresenceDiff,
  PresenceMessage,
  PresenceState,
  WireMeta,
} from '../types.js'
import { list, syncDiff, syncState, without } from './sync.js'
import { checkMessage } from './validate.js'

/** The size of a topic, as a `presence_count` message carries it. */
export type PresenceCount = PresenceCountMessage['payload']

/** A topic's presences, as {@link PresenceClient.state} hands them out: look, don't touch. */
export type ReadonlyPresenceState<M extends object = Meta> = {
  readonly [key: string]: {
    /** One meta per entry of the key. */
    readonly metas: readonly Readonly<WireMeta<M>>[]
  }
}

/** What an `error` listener is told besides the error itself. */
export interface ClientErrorContext {
  /** The message that was dropped, when a received message was the cause. */
  received?: unknown
  /** The event whose listener threw, when a listener was the cause (never `error`). */
  listener?: keyof ClientEvents
}

/**
 * The events of a {@link PresenceClient} and their listeners' arguments.
 *
 * `join`, `update` and `leave` are per meta (per tab, device or connection of a key), and
 * are emitted once a message is fully applied, so `presence` is the key's presence after
 * the message. `sync` follows every applied state or diff, after those.
 */
export interface ClientEvents<M extends object = Meta> {
  /** A meta joined `key`; `presence` is the key's presence after the message. */
  join: (key: string, meta: WireMeta<M>, presence: KeyPresence<M>) => void
  /** A meta left `key`; `presence` is `undefined` when the key left entirely. */
  leave: (key: string, meta: WireMeta<M>, presence: KeyPresence<M> | undefined) => void
  /**
   * A meta of `key` was replaced: the new meta's `phx_ref_prev` named the one that left in
   * the same message. One event, not a leave and a join.
   */
  update: (key: string, meta: WireMeta<M>, previous: WireMeta<M>, presence: KeyPresence<M>) => void
  /** A `presence_state` or `presence_diff` was applied: a good moment to render. */
  sync: () => void
  /** A `presence_count` came (count-only subscriptions). */
  count: (count: PresenceCount) => void
  /**
   * A message was dropped (a {@link PresenceError} with code `invalid_argument`), or a
   * listener threw (what it threw, as an `Error`). Without an `error` listener these go
   * unseen: the client never throws and never logs.
   */
  error: (error: Error, context: ClientErrorContext) => void
}

/** Options of a {@link PresenceClient}. */
export interface PresenceClientOptions {
  /**
   * How many `presence_diff` messages to hold while waiting for a `presence_state`; past
   * it, the oldest is dropped and reported through `error`.
   * @default 1000
   */
  maxPendingDiffs?: number
}

/** The default of {@link PresenceClientOptions.maxPendingDiffs}. */
export const DEFAULT_MAX_PENDING_DIFFS = 1000

type EventName = keyof ClientEvents
/** Any listener, as stored; {@link PresenceClient.on} is what keeps them typed. */
type Listener = (...args: never[]) => unknown

/** A presence before a change, `undefined` for a key that was absent. */
type Before<M extends object> = Readonly<Record<string, KeyPresence<M> | undefined>>

/**
 * A topic's presences in the browser, rebuilt from the messages of rollcall's
 * `tracker.subscribe` (or of a Phoenix channel): the counterpart of `phoenix`'s
 * `Presence`, without a channel, with typed events.
 *
 * `receive` never throws: a message it cannot use is dropped and reported through the
 * `error` event, and the state stays as it was. Diffs that come before the first
 * `presence_state` wait for it; a later `presence_state` (after a reconnect) is
 * reconciled into `join`, `update` and `leave` events.
 *
 * @example
 * ```ts
 * const presence = new PresenceClient<{ status: string }>()
 * socket.onmessage = (event) => presence.receive(JSON.parse(event.data))
 * presence.on('sync', () => render(presence.list((id, { metas }) => ({ id, ...metas[0] }))))
 * presence.on('update', (id, meta, previous) => log(`${id}: ${previous.status} -> ${meta.status}`))
 * presence.on('error', (err) => report(err))
 * ```
 */
export class PresenceClient<M extends object = Meta> {
  #state: PresenceState<M> = Object.create(null)
  #pending: PresenceDiff<M>[] = []
  #synced = false
  #count: PresenceCount | undefined
  #listeners = new Map<EventName, Set<Listener>>()
  readonly #maxPending: number

  /** @throws PresenceError `invalid_argument` when `maxPendingDiffs` is not a count. */
  constructor(options: PresenceClientOptions = {}) {
    const max = options.maxPendingDiffs ?? DEFAULT_MAX_PENDING_DIFFS
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new PresenceError(
        'invalid_argument',
        `maxPendingDiffs should be a non-negative integer, got ${describe(max)}`,
      )
    }
    this.#maxPending = max
  }

  /** The presences by key; the same object as long as no `presence_state` replaces it. */
  get state(): ReadonlyPresenceState<M> {
    return this.#state
  }

  /** The last `presence_count` received, `undefined` before one came. */
  get count(): PresenceCount | undefined {
    return this.#count
  }

  /**
   * The presences as an array, each through `chooser` if one is given, as Phoenix's
   * `presence.list(chooser)`.
   */
  list<T = KeyPresence<M>>(chooser?: (key: string, presence: KeyPresence<M>) => T): T[] {
    return list(this.#state, chooser)
  }

  /**
   * Whether diffs are held until a `presence_state` comes: before the first one, and after
   * {@link reset}.
   */
  inPendingSyncState(): boolean {
    return !this.#synced
  }

  /**
   * Call when the connection is re-established, before its `presence_state` arrives:
   * diffs are held again until then, and diffs held from the old connection are dropped.
   * The state is kept, so the new `presence_state` comes out as the events of what changed
   * meanwhile.
   */
  reset(): void {
    this.#synced = false
    this.#pending = []
  }

  /**
   * Applies one message: `presence_state`, `presence_diff` or `presence_count`. Never
   * throws; a message it cannot use is dropped and reported through `error`.
   */
  receive(message: unknown): void {
    try {
      const problem = checkMessage(message)
      if (problem) this.#drop(`receive(): ${problem}`, message)
      else this.#apply(message as PresenceMessage<M>)
    } catch (thrown) {
      const reason = thrown instanceof Error ? thrown.message : describe(thrown)
      this.#drop(`receive() failed on ${describe(message)}: ${reason}`, message)
    }
  }

  /**
   * Adds a listener and returns a function that removes it. A listener added twice is
   * called once.
   */
  on<K extends EventName>(event: K, listener: ClientEvents<M>[K]): () => void {
    const listeners = this.#listeners.get(event) ?? new Set()
    this.#listeners.set(event, listeners.add(listener))
    return () => this.off(event, listener)
  }

  /** Removes a listener; one that was not added is ignored. */
  off<K extends EventName>(event: K, listener: ClientEvents<M>[K]): void {
    this.#listeners.get(event)?.delete(listener)
  }

  #apply({ event, payload }: PresenceMessage<M>): void {
    if (event === 'presence_state') this.#applyState(payload)
    else if (event === 'presence_diff') this.#applyDiff(payload)
    else this.#applyCount(payload)
  }

  #applyCount({ keys, entries }: PresenceCount): void {
    this.#count = { keys, entries }
    this.#emit('count', this.#count)
  }

  #applyState(payload: PresenceState<M>): void {
    const before = this.#state
    const touched = new Set<string>()
    const mark = this.#watching() ? (key: string) => touched.add(key) : undefined
    let state = syncState(before, payload, mark, mark)
    for (const diff of this.#pending) {
      state = syncDiff(state, diff, mark, mark)
    }

    this.#pending = []
    this.#synced = true
    this.#state = state
    this.#commit(before, touched)
  }

  #applyDiff(diff: PresenceDiff<M>): void {
    if (!this.#synced) {
      this.#hold(diff)
      return
    }
    const before: Record<string, KeyPresence<M> | undefined> = Object.create(null)
    if (this.#watching()) {
      for (const key of Object.keys(diff.joins)) before[key] = this.#state[key]
      for (const key of Object.keys(diff.leaves)) before[key] ??= this.#state[key]
    }

    this.#state = syncDiff(this.#state, diff)
    this.#commit(before, Object.keys(before))
  }

  #hold(diff: PresenceDiff<M>): void {
    if (this.#pending.push(diff) <= this.#maxPending) return
    const dropped = this.#pending.shift()
    const count = `more than ${this.#maxPending} presence_diff messages`
    this.#drop(`receive(): ${count} came before a presence_state; dropped the oldest`, dropped)
  }

  #commit(before: Before<M>, keys: Iterable<string>): void {
    for (const key of keys) this.#emitChanges(key, before[key], this.#state[key])
    this.#emit('sync')
  }

  #emitChanges(key: string, before?: KeyPresence<M>, after?: KeyPresence<M>): void {
    const old = before?.metas ?? []
    const now = after?.metas ?? []
    const gone = without(old, now)
    for (const meta of without(now, old)) {
      const prev = meta.phx_ref_prev
      const i = prev === undefined ? -1 : gone.findIndex((left) => left.phx_ref === prev)
      if (i < 0) this.#emit('join', key, meta, after!)
      else this.#emit('update', key, meta, gone.splice(i, 1)[0]!, after!)
    }
    for (const meta of gone) this.#emit('leave', key, meta, after)
  }

  #watching(): boolean {
    const listening = (event: EventName) => Boolean(this.#listeners.get(event)?.size)
    return listening('join') || listening('leave') || listening('update')
  }

  #drop(message: string, received: unknown): void {
    this.#emit('error', new PresenceError('invalid_argument', message), { received })
  }

  #emit<K extends EventName>(event: K, ...args: Parameters<ClientEvents<M>[K]>): void {
    const listeners = this.#listeners.get(event)
    if (!listeners?.size) return
    for (const listener of [...listeners]) {
      try {
        Reflect.apply(listener, undefined, args)
      } catch (thrown) {
        if (event !== 'error') this.#emit('error', asError(thrown, event), { listener: event })
      }
    }
  }
}

function asError(thrown: unknown, event: string): Error {
  if (thrown instanceof Error) return thrown
  return new Error(`a "${event}" listener threw ${describe(thrown)}`, { cause: thrown })
}
