import type { Clock, TimerHandle } from './clock.js'
import { describe, PresenceError } from './errors.js'
import type { Entry } from './state/elements.js'
import type { TopicView } from './state/set.js'
import type { Meta, PresenceMessage, PresenceState } from './types.js'

/** Enriches the presences of a message before it goes out; sync or async. */
export type FetchHook<M extends object> = (
  topic: string,
  presences: PresenceState<M>,
) => PresenceState<M> | Promise<PresenceState<M>>

/** Options of {@link Tracker.subscribe}. */
export interface SubscribeOptions<M extends object = Meta> {
  /**
   * Coalesce the topic's changes over this many milliseconds into one `presence_diff`:
   * what the subscriber was last sent against the topic at flush time. 0 sends one
   * message per change, synchronously.
   * @default 0
   */
  diffWindowMs?: number
  /**
   * Enriches metas before they go out (as Phoenix.Presence's fetch/2), for the state and
   * for the joins and leaves of every diff. Messages keep their order even when it is
   * async. If it throws or rejects, the subscription ends and `onError` is called: the
   * subscriber would otherwise miss a change and drift.
   */
  fetch?: FetchHook<M>
  /** Send only `presence_count` messages, when the count changes (for very large rooms). */
  countOnly?: boolean
  /** Called when the subscription ends because `fetch` failed. */
  onError?: (error: unknown) => void
}

/** Sends one message to a subscriber (a socket, an SSE stream, ...). */
export type Send<M extends object = Meta> = (message: PresenceMessage<M>) => void

/** @internal What channels need of the tracker. */
export interface ChannelHost<M extends object> {
  clock: Clock
  view(topic: string): TopicView<M> | undefined
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, data?: object): void
}

/**
 * @internal Per-topic subscribers: each gets `presence_state`, then a `presence_diff` for
 * every change (or `presence_count` when count-only).
 */
export class Channels<M extends object = Meta> {
  readonly #host: ChannelHost<M>
  readonly #topics = new Map<string, TopicSubscribers<M>>()
  /** Counts changes; a subscription made while one is emitted has it in its state. */
  #change = 0

  constructor(host: ChannelHost<M>) {
    this.#host = host
  }

  subscribe(topic: string, send: Send<M>, options: SubscribeOptions<M>): () => void {
    checkOptions(topic, send, options)
    const subscription = new Subscription(topic, send, options, this.#host, () =>
      this.#remove(subscription),
    )
    let subscribers = this.#topics.get(topic)
    if (!subscribers) {
      subscribers = new TopicSubscribers()
      this.#topics.set(topic, subscribers)
    }
    subscribers.add(subscription)
    subscription.since = this.#change
    subscription.start()
    return () => subscription.close()
  }

  /** A change is about to be emitted: subscriptions made from here on already hold it. */
  changeStarted(): void {
    this.#change++
  }

  /** How many subscriptions a topic has. */
  subscribers(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0
  }

  topicChanged(topic: string, joined: Entry<M>[], left: Entry<M>[]): void {
    const subscribers = this.#topics.get(topic)
    if (!subscribers) return
    const change = this.#change
    // Held here: a send that subscribes or unsubscribes swaps or extends the array, and
    // the length read now leaves out whatever is added during the loop.
    const direct = subscribers.direct
    if (direct.length > 0) {
      const shared = freezeMessage(diffMessage(joined, left))
      for (let i = 0, n = direct.length; i < n; i++) {
        const subscription = direct[i]!
        if (subscription.since !== change) subscription.deliver(shared)
      }
    }
    for (const subscription of subscribers.others) {
      if (subscription.since !== change) subscription.changed(joined, left)
    }
  }

  #remove(subscription: Subscription<M>): void {
    const subscribers = this.#topics.get(subscription.topic)
    if (!subscribers) return
    subscribers.remove(subscription)
    if (subscribers.size === 0) this.#topics.delete(subscription.topic)
  }
}

/**
 * A topic's subscriptions. Direct ones, which get every change as one shared message,
 * sit in an array the fan-out loop walks without an iterator; the others in a set.
 */
class TopicSubscribers<M extends object> {
  /** In order of subscribing; closed ones stay until compaction replaces the array. */
  direct: Subscription<M>[] = []
  readonly others = new Set<Subscription<M>>()
  size = 0
  #closedDirect = 0

  add(subscription: Subscription<M>): void {
    if (subscription.direct) this.direct.push(subscription)
    else this.others.add(subscription)
    this.size++
  }

  remove(subscription: Subscription<M>): void {
    this.size--
    if (!subscription.direct) {
      this.others.delete(subscription)
      return
    }
    // Compacting into a new array once half are closed keeps removal amortised O(1)
    // and never moves an element under a loop that holds the old array.
    this.#closedDirect++
    if (this.#closedDirect * 2 > this.direct.length) {
      this.direct = this.direct.filter((each) => !each.closed)
      this.#closedDirect = 0
    }
  }
}

class Subscription<M extends object> {
  /** Sends every change as it happens, one shared message for all such subscribers. */
  readonly direct: boolean
  /** The change during which it was made (its first state already shows that change). */
  since = 0
  #closed = false
  /** Refs not yet sent as joins (by ref), and sent refs since gone, waiting for a flush. */
  readonly #joins = new Map<string, Entry<M>>()
  readonly #leaves = new Map<string, Entry<M>>()
  #timer: TimerHandle | undefined
  #lastCount = { keys: -1, entries: -1 }
  /** Messages waiting for an async fetch, in order. */
  #queue: Promise<void> | undefined

  constructor(
    readonly topic: string,
    readonly send: Send<M>,
    readonly options: SubscribeOptions<M>,
    readonly host: ChannelHost<M>,
    readonly onClose: () => void,
  ) {
    this.direct = !options.countOnly && !options.fetch && !(options.diffWindowMs ?? 0)
  }

  start(): void {
    if (this.options.countOnly) {
      this.#sendCountIfChanged()
      return
    }
    const view = this.host.view(this.topic)
    const entries: Entry<M>[] = []
    if (view) for (const entry of view.entries()) entries.push(entry)
    this.#emit('presence_state', [entries])
  }

  changed(joined: Entry<M>[], left: Entry<M>[]): void {
    if (this.#closed) return
    if (!this.options.diffWindowMs) {
      if (this.options.countOnly) this.#sendCountIfChanged()
      else this.#emit('presence_diff', [joined, left])
      return
    }
    this.#collect(joined, left)
    this.#timer ??= this.host.clock.setTimeout(() => this.#flush(), this.options.diffWindowMs)
  }

  deliver(message: PresenceMessage<M>): void {
    if (this.#closed) return
    try {
      this.send(message)
    } catch (error) {
      this.host.log('error', 'a subscriber send threw; other subscribers were served', {
        topic: this.topic,
        error,
      })
    }
  }

  get closed(): boolean {
    return this.#closed
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) this.host.clock.clearTimeout(this.#timer)
    this.onClose()
  }

  /** Keeps, per ref, the difference between what was sent and what is there now. */
  #collect(joined: Entry<M>[], left: Entry<M>[]): void {
    if (this.options.countOnly) return
    for (const entry of left) {
      const ref = entry.ref
      if (!this.#joins.delete(ref)) this.#leaves.set(ref, entry)
    }
    // A sent ref can come back (its node was down and returned): then it never left.
    for (const entry of joined) {
      if (!this.#leaves.delete(entry.ref)) this.#joins.set(entry.ref, entry)
    }
  }

  #flush(): void {
    this.#timer = undefined
    if (this.#closed) return
    if (this.options.countOnly) {
      this.#sendCountIfChanged()
      return
    }
    if (this.#joins.size === 0 && this.#leaves.size === 0) return
    const joined = [...this.#joins.values()]
    const left = [...this.#leaves.values()]
    this.#joins.clear()
    this.#leaves.clear()
    this.#emit('presence_diff', [joined, left])
  }

  #sendCountIfChanged(): void {
    const view = this.host.view(this.topic)
    const count = { keys: view?.keys.size ?? 0, entries: view?.size ?? 0 }
    if (count.keys === this.#lastCount.keys && count.entries === this.#lastCount.entries) return
    this.#lastCount = count
    this.deliver({ event: 'presence_count', payload: count })
  }

  /** Builds a state or diff message (through `fetch` when set), keeping messages in order. */
  #emit(event: 'presence_state' | 'presence_diff', parts: Entry<M>[][]): void {
    const left = parts[1]
    const leftRefs = left ? new Set(left.map((entry) => entry.ref)) : undefined
    // Only joins lose a phx_ref_prev the leaves do not hold; leaves go out as they were sent.
    const states = parts.map((entries, i) => stateOf(entries, i === 0 ? leftRefs : undefined))
    const fetch = this.options.fetch
    if (!fetch) {
      this.deliver(messageOf(event, states))
      return
    }
    const build = () => states.map((state) => fetch(this.topic, state))
    if (this.#queue) {
      this.#enqueue(event, build)
      return
    }
    let built: Array<PresenceState<M> | Promise<PresenceState<M>>>
    try {
      built = build()
    } catch (error) {
      this.#fail(error)
      return
    }
    if (built.some(isPromise)) this.#enqueue(event, () => built)
    else this.deliver(messageOf(event, built as PresenceState<M>[]))
  }

  #enqueue(event: 'presence_state' | 'presence_diff', build: () => unknown[]): void {
    const previous = this.#queue ?? Promise.resolve()
    const next = previous.then(async () => {
      if (this.#closed) return
      try {
        const states = (await Promise.all(build())) as PresenceState<M>[]
        this.deliver(messageOf(event, states))
      } catch (error) {
        this.#fail(error)
      }
    })
    this.#queue = next
    void next.then(() => {
      if (this.#queue === next) this.#queue = undefined
    })
  }

  #fail(error: unknown): void {
    if (this.#closed) return
    this.host.log('error', 'fetch failed; the subscription ended', { topic: this.topic, error })
    this.close()
    try {
      this.options.onError?.(error)
    } catch (inner) {
      this.host.log('error', 'onError threw', { topic: this.topic, error: inner })
    }
  }
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

/**
 * A topic's presences as a message carries them. A join's `phx_ref_prev` is kept only
 * when the same diff leaves that ref (a coalesced diff may skip the middle version).
 */
function stateOf<M extends object>(
  entries: Entry<M>[],
  leftRefs: Set<string> | undefined,
): PresenceState<M> {
  const state = Object.create(null) as PresenceState<M>
  for (const entry of entries) {
    let wire = entry.wire
    const prev = entry.prevRef
    if (prev !== undefined && leftRefs && !leftRefs.has(prev)) {
      const { phx_ref_prev: _dropped, ...rest } = wire
      wire = Object.freeze(rest) as typeof wire
    }
    const presence = state[entry.key]
    if (presence) presence.metas.push(wire)
    else state[entry.key] = { metas: [wire] }
  }
  return state
}

function messageOf<M extends object>(
  event: 'presence_state' | 'presence_diff',
  states: PresenceState<M>[],
): PresenceMessage<M> {
  if (event === 'presence_state') return { event, payload: states[0]! }
  return { event, payload: { joins: states[0]!, leaves: states[1]! } }
}

function diffMessage<M extends object>(joined: Entry<M>[], left: Entry<M>[]): PresenceMessage<M> {
  const leftRefs = new Set(left.map((entry) => entry.ref))
  return messageOf('presence_diff', [stateOf(joined, leftRefs), stateOf(left, undefined)])
}

/** One message goes to many subscribers: none of them may change it for the others. */
function freezeMessage<M extends object>(message: PresenceMessage<M>): PresenceMessage<M> {
  if (message.event === 'presence_diff') {
    for (const state of [message.payload.joins, message.payload.leaves]) {
      for (const key of Object.keys(state)) {
        Object.freeze(state[key]!.metas)
        Object.freeze(state[key])
      }
      Object.freeze(state)
    }
    Object.freeze(message.payload)
  }
  return Object.freeze(message)
}

function checkOptions<M extends object>(
  topic: string,
  send: unknown,
  options: SubscribeOptions<M>,
): void {
  if (typeof send !== 'function') {
    throw new PresenceError(
      'invalid_argument',
      `Expected send to be a function that delivers a message, got ${describe(send)}.`,
      { topic },
    )
  }
  const windowMs = options.diffWindowMs ?? 0
  if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs < 0) {
    throw new PresenceError(
      'invalid_argument',
      `Expected diffWindowMs to be a finite number >= 0, got ${describe(windowMs)}.`,
      { topic },
    )
  }
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new PresenceError(
      'invalid_argument',
      `Expected fetch to be a function, got ${describe(options.fetch)}.`,
      { topic },
    )
  }
}
