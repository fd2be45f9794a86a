import { Channels, type Send, type SubscribeOptions } from './channel.js'
import { type Clock, realClock } from './clock.js'
import { ClusterNode } from './cluster/node.js'
import type { NodeInfo } from './cluster/options.js'
import { PresenceError, type PresenceErrorFields } from './errors.js'
import { type DiffEvent, GuardedEmitter, type TrackerEvents } from './events.js'
import { Lifetimes } from './lifetime.js'
import { Limits } from './limits.js'
import { Names, type NameTarget } from './names.js'
import { DEFAULTS, type TrackerOptions } from './options.js'
import type { Entry } from './state/elements.js'
import { replicaOf } from './state/elements.js'
import { type Changes, ReplicatedSet, STANDALONE_PREFIX } from './state/set.js'
import type { Logger, Meta, Origin, PresenceState } from './types.js'
import { checkId, checkOwnerId, freezeMeta, optionsOf } from './validation.js'

/**
 * Who acts: an owner id (a connection, socket or session id, unique within this node),
 * or a registered name (`{ name }`, or `{ name, as }` to say on whose behalf).
 */
export type OwnerRef = string | NameTarget

/** A new meta, or a function from the previous meta (frozen) to the next. */
export type MetaUpdate<M extends object> = M | ((prev: Readonly<M>) => M)

/** One entry of a key, as {@link Tracker.get} returns it. */
export interface PresenceInfo<M extends object = Meta> {
  /** The node that holds the entry. */
  node: string
  /** The owner on that node (a connection id, or a standalone name's owner id). */
  owner: string
  /** Frozen. */
  meta: Readonly<M>
  /** The ref of this version of the meta (its `phx_ref`). */
  ref: string
}

/** @internal Makes a random id of `length` base-36 characters. */
export function randomId(length = 10): string {
  let id = ''
  while (id.length < length) id += Math.random().toString(36).slice(2)
  return id.slice(0, length)
}

/**
 * Tracks who is present in which topic, with what meta. An entry may be changed only by
 * the owner that tracked it; a shared entry is tracked through a named owner.
 *
 * @example
 * ```ts
 * const tracker = new Tracker<{ status: string }>()
 * tracker.on('join', ({ topic, key }) => console.log(`${key} joined ${topic}`))
 * tracker.track('socket-1', 'room:42', 'alice', { status: 'online' })
 * tracker.update('socket-1', 'room:42', 'alice', (prev) => ({ ...prev, status: 'away' }))
 * tracker.list('room:42') // { alice: { metas: [{ status: 'away', phx_ref: '…', … }] } }
 * ```
 */
export class Tracker<M extends object = Meta> extends GuardedEmitter<TrackerEvents<M>> {
  readonly #set: ReplicatedSet<M>
  readonly #clock: Clock
  readonly #logger: Logger | undefined
  readonly #maxMetaBytes: number
  readonly #maxId: number
  readonly #names: Names<M> | undefined
  #channels: Channels<M> | undefined
  readonly #lifetimes: Lifetimes
  readonly #limits: Limits | undefined
  readonly #cluster: ClusterNode<M> | undefined
  #closed = false
  /** The own clock when the cluster last heard of a local change. */
  #committedClock = 0

  constructor(options: TrackerOptions = {}) {
    super()
    this.#clock = options.clock ?? realClock
    this.#logger = options.logger
    this.#maxMetaBytes = options.maxMetaBytes ?? DEFAULTS.maxMetaBytes
    this.#maxId = options.maxIdLength ?? DEFAULTS.maxIdLength
    const cluster = options.cluster
    const nodeId =
      cluster?.nodeId === undefined
        ? randomId()
        : checkId('nodeId', cluster.nodeId, this.#maxId, { node: String(cluster.nodeId) })
    this.#set = new ReplicatedSet<M>(replicaOf(nodeId, randomId()), {
      // A tracker without a cluster sends no deltas, so it keeps nothing for them.
      maxRemovalLog: cluster ? cluster.maxRemovalLog : 0,
      keepDeltas: cluster !== undefined,
    })
    this.#lifetimes = new Lifetimes(
      {
        clock: this.#clock,
        holds: (owner) => this.#set.ownedCount(owner) > 0,
        expire: (owner) => this.#removeOwner(owner, 'timeout'),
      },
      options.ownerTtl,
    )
    if (options.limits) this.#limits = new Limits(options.limits, this.#clock)
    if (options.names) {
      const namesOptions = options.names === true ? {} : options.names
      this.#names = new Names<M>(this.#internals(), namesOptions)
    }
    if (cluster) {
      const node = new ClusterNode<M>(this.#internals(), cluster, this.#names)
      this.#cluster = node
      node.start().catch((error: unknown) => {
        this.#log('error', 'could not join the cluster: the transport refused', { error })
      })
    }
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /**
   * Resolves once this node has joined: it has heard from the cluster and holds its
   * state. A tracker without `cluster` is ready at once.
   */
  ready(): Promise<void> {
    return this.#cluster ? this.#cluster.ready() : Promise.resolve()
  }

  /** The nodes this one sees, with their status; a lone tracker sees only itself. */
  nodes(): NodeInfo[] {
    if (this.#cluster) return this.#cluster.nodes()
    const self = this.#set.self
    return [
      {
        node: self.node,
        incarnation: self.incarnation,
        status: 'self',
        lastHeard: this.#clock.now(),
      },
    ]
  }

  /**
   * Stops the tracker. In a cluster it says goodbye, so the other nodes drop its entries at
   * once, and hands its standalone names to another node; resolves once that is
   * published. Writes after it throw `closed`.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#cluster?.close()
  }

  /**
   * The named-owner registry. Throws `names_disabled` unless the tracker was made with
   * `names: true` (or names options).
   */
  get names(): Names<M> {
    if (!this.#names) throw namesDisabled()
    return this.#names
  }

  /** This node's id. */
  get nodeId(): string {
    return this.#set.self.node
  }

  // ---- writes -------------------------------------------------------------------------

  /**
   * Tracks `key` in `topic` for `owner`, with `meta`. Returns the new ref.
   * Throws `already_tracked` when this owner already tracks this key in this topic.
   */
  track(owner: OwnerRef, topic: string, key: string, meta: M): string {
    const ownerId = this.#resolveOwner(owner, { topic, key })
    return this.#track(ownerId, topic, key, meta, writerOf(owner, ownerId))
  }

  /**
   * Replaces the meta of the entry `owner` tracks for `key` in `topic`, wholesale, or with
   * what a function of the previous meta returns. Returns the new ref. Throws `nopresence`
   * when this owner tracks no such entry on this node, whoever else does.
   */
  update(owner: OwnerRef, topic: string, key: string, meta: MetaUpdate<M>): string {
    const fields = { topic, key }
    const ownerId = this.#resolveOwner(owner, fields)
    this.#checkTopicKey(topic, key, ownerId)
    const entry = this.#ownEntry(ownerId, topic, key)
    return this.#replace(entry, meta, writerOf(owner, ownerId))
  }

  /** Stops tracking `key` in `topic` for `owner`. Does nothing when it is not tracked. */
  untrack(owner: OwnerRef, topic: string, key: string): void {
    this.#untrack(this.#resolveOwner(owner, { topic, key }), topic, key)
  }

  /** The owner left: every entry it tracks on this node leaves, and its aliases go. */
  untrackAll(owner: OwnerRef): void {
    const ownerId = this.#resolveOwner(owner, {})
    this.#removeOwner(ownerId, 'local')
  }

  // ---- reads --------------------------------------------------------------------------

  /**
   * The presences of a topic, `{ [key]: { metas: [...] } }`, as Phoenix sends them. The
   * object has no prototype, so any key (`__proto__` too) is an ordinary property.
   * O(entries in the topic).
   */
  list(topic: string): PresenceState<M> {
    checkId('topic', topic, this.#maxId, { topic })
    const state = Object.create(null) as PresenceState<M>
    const view = this.#set.topic(topic)
    if (!view) return state
    for (const [key, slot] of view.keys) {
      state[key] = { metas: Array.isArray(slot) ? slot.map((entry) => entry.wire) : [slot.wire] }
    }
    return state
  }

  /** Every entry of `key` in `topic`, on every node; `[]` when absent. */
  get(topic: string, key: string): PresenceInfo<M>[] {
    checkId('topic', topic, this.#maxId, { topic, key })
    checkId('key', key, this.#maxId, { topic, key })
    const entries = this.#set.topic(topic)?.entriesOf(key) ?? []
    return entries.map((entry) => ({
      node: entry.replica.node,
      owner: entry.owner,
      meta: entry.meta,
      ref: entry.ref,
    }))
  }

  /** Entries in `topic` (every tab of every user), in constant time. */
  count(topic: string): number {
    checkId('topic', topic, this.#maxId, { topic })
    return this.#set.topic(topic)?.size ?? 0
  }

  /** Distinct keys in `topic` ("N online"), in constant time. */
  countKeys(topic: string): number {
    checkId('topic', topic, this.#maxId, { topic })
    return this.#set.topic(topic)?.keys.size ?? 0
  }

  /** Topics with at least one entry. */
  topics(): string[] {
    return [...this.#set.topics()]
  }

  // ---- owner lifetime -----------------------------------------------------------------

  /**
   * The owner's socket dropped: keep its entries for `graceMs`. If it comes back in time
   * ({@link Tracker.resume}) nothing was emitted at all; if not, its entries leave with
   * origin `timeout`.
   */
  suspend(owner: string, graceMs: number): void {
    checkOwnerId(owner, this.#maxId, {})
    this.#lifetimes.suspend(owner, graceMs)
  }

  /**
   * The owner came back within its grace period. Returns false when there was nothing to
   * resume (the grace ran out, or it was never suspended): track again then.
   */
  resume(owner: string): boolean {
    checkOwnerId(owner, this.#maxId, {})
    return this.#lifetimes.resume(owner)
  }

  /**
   * With the `ownerTtl` option: the owner is still alive. An owner neither touched nor
   * writing for `ownerTtl` (checked every half TTL) leaves with origin `timeout`.
   */
  touch(owner: string): void {
    checkOwnerId(owner, this.#maxId, {})
    this.#lifetimes.touch(owner)
  }

  // ---- channels -----------------------------------------------------------------------

  /**
   * Subscribes `send` to a topic: it gets a `presence_state` message at once, then a
   * `presence_diff` for every change (or `presence_count` messages with `countOnly`).
   * Forward each message to the socket as it is. Returns the unsubscribe function.
   *
   * @example
   * ```ts
   * wss.on('connection', (socket) => {
   *   const stop = tracker.subscribe('room:42', (msg) => socket.send(JSON.stringify(msg)))
   *   socket.on('close', stop)
   * })
   * ```
   */
  subscribe(topic: string, send: Send<M>, options?: SubscribeOptions<M>): () => void {
    checkId('topic', topic, this.#maxId, { topic })
    const checked = optionsOf(options, 'subscribe options')
    if (!this.#channels) {
      const channels = new Channels<M>({
        clock: this.#clock,
        view: (name) => this.#set.topic(name),
        log: (level, message, data) => this.#log(level, message, data),
      })
      this.#channels = channels
    }
    return this.#channels.subscribe(topic, send, checked)
  }

  // ---- internals ----------------------------------------------------------------------

  #resolveOwner(owner: OwnerRef, fields: PresenceErrorFields): string {
    if (typeof owner === 'object' && owner !== null) {
      if (!this.#names) throw namesDisabled()
      return this.#names.resolveLocal(owner, fields)
    }
    return checkOwnerId(owner, this.#maxId, fields)
  }

  #track(owner: string, topic: string, key: string, meta: unknown, writer = owner): string {
    this.#checkOpen()
    this.#checkTopicKey(topic, key, owner)
    const frozen = freezeMeta<M>(meta, this.#maxMetaBytes, { topic, key, owner })
    if (this.#set.findOwn(owner, topic, key)) {
      throw new PresenceError(
        'already_tracked',
        `Owner "${owner}" already tracks key "${key}" in topic "${topic}". ` +
          'Call update() to change its meta, or untrack() it first.',
        { topic, key, owner },
      )
    }
    if (this.#limits) {
      const owned = this.#set.ownedCount(owner)
      this.#limits.checkTrack(owner, owned, this.count(topic), topic, key)
      this.#limits.takeWrite(writer, { topic, key })
    }
    const entry = this.#set.add(topic, key, owner, frozen)
    this.#lifetimes.touch(owner)
    this.#commit([entry], [], 'local')
    return entry.ref
  }

  #untrack(owner: string, topic: string, key: string): void {
    this.#checkTopicKey(topic, key, owner)
    const entry = this.#set.findOwn(owner, topic, key)
    if (!entry) return
    this.#set.remove(entry)
    this.#commit([], [entry], 'local')
  }

  #checkOpen(): void {
    if (!this.#closed) return
    throw new PresenceError('closed', 'Expected an open tracker, but close() was called.')
  }

  #checkTopicKey(topic: string, key: string, owner: string): void {
    checkId('topic', topic, this.#maxId, { topic, key, owner })
    checkId('key', key, this.#maxId, { topic, key, owner })
  }

  #ownEntry(owner: string, topic: string, key: string): Entry<M> {
    const entry = this.#set.findOwn(owner, topic, key)
    if (entry) return entry
    throw new PresenceError(
      'nopresence',
      `Expected owner "${owner}" to track key "${key}" in topic "${topic}" on this node, ` +
        'but it does not. Only the owner that tracked an entry may change it; to let others ' +
        'change a shared entry, track it through a named owner (tracker.names).',
      { topic, key, owner },
    )
  }

  #replace(entry: Entry<M>, meta: MetaUpdate<M>, writer = entry.owner): string {
    this.#checkOpen()
    const fields = { topic: entry.topic, key: entry.key, owner: entry.owner }
    const next = typeof meta === 'function' ? meta(entry.meta) : meta
    const frozen = freezeMeta<M>(next, this.#maxMetaBytes, fields)
    this.#limits?.takeWrite(writer, fields)
    const replaced = this.#set.replace(entry, frozen)
    this.#lifetimes.touch(entry.owner)
    this.#commit([replaced], [entry], 'local')
    return replaced.ref
  }

  #removeOwner(owner: string, origin: Origin): void {
    const left = this.#set.ownedBy(owner) ?? []
    for (const entry of left) this.#set.remove(entry)
    if (left.length > 0) this.#commit([], left, origin)
    else this.#ownerGone(owner)
  }

  /** The owner holds nothing here any more: forget everything kept for it. */
  #ownerGone(owner: string): void {
    this.#names?.ownerGone(owner)
    this.#lifetimes.gone(owner)
    this.#limits?.forget(owner)
  }

  /** Emits what a change did. The change is committed: nothing here can undo it. */
  #commit(joined: Entry<M>[], left: Entry<M>[], origin: Origin): void {
    if (this.#set.clock !== this.#committedClock) {
      this.#committedClock = this.#set.clock
      this.#cluster?.localChange()
    }
    this.#channels?.changeStarted()
    this.#emitEntryEvents(joined, left, origin)
    this.#emitTopicChanges(joined, left, origin)
    for (const entry of left) {
      const own = entry.replica === this.#set.self
      if (own && this.#set.ownedCount(entry.owner) === 0) this.#ownerGone(entry.owner)
    }
    this.#names?.afterChange(joined, left)
  }

  #emitEntryEvents(joined: Entry<M>[], left: Entry<M>[], origin: Origin): void {
    const listened =
      this.listenerCount('join') + this.listenerCount('leave') + this.listenerCount('update')
    if (listened === 0) return
    const replaced = pairUpdates(joined, left)
    if (this.listenerCount('leave') > 0) {
      for (const entry of left) {
        if (!replaced.has(entry)) this.emit('leave', presenceEvent(entry, origin))
      }
    }
    for (const entry of joined) {
      const prev = replaced.get(entry)
      if (prev) {
        if (this.listenerCount('update') > 0) this.emit('update', updateEvent(prev, entry, origin))
      } else if (this.listenerCount('join') > 0) {
        this.emit('join', presenceEvent(entry, origin))
      }
    }
  }

  #emitTopicChanges(joined: Entry<M>[], left: Entry<M>[], origin: Origin): void {
    const wantsDiff = this.listenerCount('diff') > 0
    const channels = this.#channels
    if (!wantsDiff && !channels) return
    for (const [topic, change] of byTopic(joined, left)) {
      if (wantsDiff) this.emit('diff', diffEvent(topic, change.joined, change.left, origin))
      channels?.topicChanged(topic, change.joined, change.left)
    }
  }

  protected override report(event: string, error: unknown): void {
    this.#log('error', `a "${event}" listener threw; the other listeners still ran`, { error })
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', message: string, data?: object): void {
    if (!this.#logger) return
    try {
      this.#logger(level, message, data)
    } catch {
      // A logger that throws must not turn a report into a failure of the caller's call.
    }
  }

  /** The tracker's inside, handed to the layers built on it (names, channels, cluster). */
  #internals(): TrackerInternals<M> {
    return {
      set: () => this.#set,
      clock: this.#clock,
      maxId: this.#maxId,
      maxMetaBytes: this.#maxMetaBytes,
      log: (level, message, data) => this.#log(level, message, data),
      apply: (changes, origin) => this.#apply(changes, origin),
      commit: (joined, left, origin) => this.#commit(joined, left, origin),
      track: (owner, topic, key, meta, writer) => this.#track(owner, topic, key, meta, writer),
      untrack: (owner, topic, key) => this.#untrack(owner, topic, key),
      removeOwner: (owner, origin) => this.#removeOwner(owner, origin),
      ownEntry: (owner, topic, key) => this.#ownEntry(owner, topic, key),
      replace: (entry, meta, writer) => this.#replace(entry, meta, writer),
      emit: (event, payload) => this.emit(event, payload as never),
    }
  }

  #apply(changes: Changes<M>, origin: Origin): void {
    this.#names?.registrationsChanged(changes.registered, changes.unregistered, origin)
    if (changes.joined.length > 0 || changes.left.length > 0) {
      this.#commit(changes.joined, changes.left, origin)
    }
  }
}

/** @internal What the layers on top of a Tracker may use of it. */
export interface TrackerInternals<M extends object> {
  set(): ReplicatedSet<M>
  clock: Clock
  maxId: number
  maxMetaBytes: number
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, data?: object): void
  /** Emits what a merge, hide or show changed. */
  apply(changes: Changes<M>, origin: Origin): void
  commit(joined: Entry<M>[], left: Entry<M>[], origin: Origin): void
  track(owner: string, topic: string, key: string, meta: unknown, writer?: string): string
  untrack(owner: string, topic: string, key: string): void
  removeOwner(owner: string, origin: Origin): void
  ownEntry(owner: string, topic: string, key: string): Entry<M>
  replace(entry: Entry<M>, meta: MetaUpdate<M>, writer?: string): string
  emit(event: 'nodeup' | 'nodedown' | 'name_conflict', payload: object): void
}

/** Who a write counts against for rate limits: `as` when given, else the owner. */
function writerOf(owner: OwnerRef, ownerId: string): string {
  return typeof owner === 'object' && owner.as !== undefined ? owner.as : ownerId
}

function namesDisabled(): PresenceError {
  return new PresenceError(
    'names_disabled',
    'Expected the named-owner registry to be on, but it is off. ' +
      'Create the tracker with new Tracker({ names: true }) to use { name } owners.',
  )
}

/**
 * Links each join of a change to the leave it replaced: the same replica's previous dot,
 * or, for a standalone name that moved between nodes, its entry for the same topic and
 * key (a standalone owner id is the same on every node).
 */
function pairUpdates<M extends object>(
  joined: Entry<M>[],
  left: Entry<M>[],
): Map<Entry<M>, Entry<M>> {
  const pairs = new Map<Entry<M>, Entry<M>>()
  if (left.length === 0 || joined.length === 0) return pairs
  if (left.length === 1 && joined.length === 1) {
    const [prev, next] = [left[0]!, joined[0]!]
    if (replaces(next, prev)) pairs.set(next, prev).set(prev, next)
    return pairs
  }
  const leftBySlot = new Map<string, Entry<M>>()
  for (const entry of left) {
    leftBySlot.set(`${entry.replica.id}#${entry.clock}`, entry)
    if (isStandaloneOwner(entry.owner)) leftBySlot.set(slotOf(entry), entry)
  }
  for (const entry of joined) {
    const prev =
      (entry.prev !== 0 && leftBySlot.get(`${entry.replica.id}#${entry.prev}`)) ||
      (isStandaloneOwner(entry.owner) && leftBySlot.get(slotOf(entry))) ||
      undefined
    if (prev && !pairs.has(prev)) pairs.set(entry, prev).set(prev, entry)
  }
  return pairs
}

function replaces<M extends object>(next: Entry<M>, prev: Entry<M>): boolean {
  if (next.replica === prev.replica) return next.prev === prev.clock
  return isStandaloneOwner(next.owner) && slotOf(next) === slotOf(prev)
}

function isStandaloneOwner(owner: string): boolean {
  return owner.startsWith(STANDALONE_PREFIX)
}

function slotOf<M extends object>(entry: Entry<M>): string {
  return `${entry.owner}\u0000${entry.topic}\u0000${entry.key}`
}

function presenceEvent<M extends object>(entry: Entry<M>, origin: Origin) {
  return {
    topic: entry.topic,
    key: entry.key,
    node: entry.replica.node,
    owner: entry.owner,
    meta: entry.meta,
    ref: entry.ref,
    origin,
  }
}

function updateEvent<M extends object>(prev: Entry<M>, next: Entry<M>, origin: Origin) {
  return { ...presenceEvent(next, origin), prevMeta: prev.meta, prevRef: prev.ref }
}

interface TopicChange<M extends object> {
  joined: Entry<M>[]
  left: Entry<M>[]
}

function byTopic<M extends object>(joined: Entry<M>[], left: Entry<M>[]) {
  const topics = new Map<string, TopicChange<M>>()
  const changeOf = (topic: string) => {
    let change = topics.get(topic)
    if (!change) {
      change = { joined: [], left: [] }
      topics.set(topic, change)
    }
    return change
  }
  for (const entry of joined) changeOf(entry.topic).joined.push(entry)
  for (const entry of left) changeOf(entry.topic).left.push(entry)
  return topics
}

/** @internal Builds a topic's `{ joins, leaves }` from entries. */
export function presenceStateOf<M extends object>(entries: Entry<M>[]): PresenceState<M> {
  const state = Object.create(null) as PresenceState<M>
  for (const entry of entries) {
    const presence = state[entry.key]
    if (presence) presence.metas.push(entry.wire)
    else state[entry.key] = { metas: [entry.wire] }
  }
  return state
}

function diffEvent<M extends object>(
  topic: string,
  joined: Entry<M>[],
  left: Entry<M>[],
  origin: Origin,
): DiffEvent<M> {
  return { topic, joins: presenceStateOf(joined), leaves: presenceStateOf(left), origin }
}
