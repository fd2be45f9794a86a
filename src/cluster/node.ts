import type { TimerHandle } from '../clock.js'
import { PresenceError, type PresenceErrorCode } from '../errors.js'
import type { ForwardedCall, Names } from '../names.js'
import type { Registration } from '../state/elements.js'
import { compareReplicas, Entry, replicaOf } from '../state/elements.js'
import type { Changes, SectionData } from '../state/set.js'
import type { TrackerInternals } from '../tracker.js'
import type { Meta } from '../types.js'
import { PendingCalls } from './calls.js'
import { decode, type Envelope, encode, PROTOCOL_VERSION } from './codec.js'
import {
  type CallBody,
  type GoodbyeBody,
  type HandoverName,
  type HeartbeatBody,
  type ParseLimits,
  parseCall,
  parseGoodbye,
  parseHeartbeat,
  parseReply,
  parseSection,
  parseTransferRequest,
  type ReplyBody,
  type SectionBody,
  type TransferRequestBody,
} from './messages.js'
import { CLUSTER_DEFAULTS, type ClusterOptions, type NodeInfo } from './options.js'

/** Changes waiting beyond this many go out at once instead of after `batchDelayMs`. */
const FLUSH_AT_CHANGES = 2_048

/**
 * The most clocks a section may span when it starts beyond a gap in what this node has of
 * its sender: those clocks are kept one by one until the gap closes, so a larger one is
 * refused and left to the transfer that the next heartbeat asks for.
 */
const MAX_GAP_SPAN = 65_536

/** Incarnations already warned about as duplicates of this node, before starting over. */
const MAX_WARNED_DUPLICATES = 64

interface Peer {
  node: string
  incarnation: string
  replicaId: string
  lastHeard: number
  status: 'up' | 'down'
  /** The highest clock it announced. */
  announced: number
  /** When a transfer was last asked of it, or undefined when none is outstanding. */
  askedAt: number | undefined
  askTimer: TimerHandle | undefined
}

type Resolved = Required<Omit<ClusterOptions, 'secret' | 'nodeId'>> & Pick<ClusterOptions, 'secret'>

type Handler = (envelope: Envelope) => void

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string }

/**
 * @internal One node of a cluster: sends the tracker's deltas promptly, heartbeats for
 * liveness and repair, merges what others send, and carries calls through names.
 */
export class ClusterNode<M extends object = Meta> {
  readonly #core: TrackerInternals<M>
  readonly #options: Resolved
  readonly #names: Names<M> | undefined
  readonly #limits: ParseLimits
  readonly #peers = new Map<string, Peer>()
  /** Replicas that said goodbye or were replaced: late messages from them are ignored. */
  readonly #departed = new Map<string, number>()
  /** Of those, the ones replaced by another incarnation rather than gone with a goodbye. */
  readonly #superseded = new Set<string>()
  readonly #calls: PendingCalls
  /** Standalone entries handed over in a goodbye, waiting for the successor's join. */
  readonly #parked = new Map<string, { entry: Entry<M>; timer: TimerHandle }>()
  readonly #handlers: Record<string, Handler>
  readonly #warnedDuplicates = new Set<string>()
  #batchTimer: TimerHandle | undefined
  #heartbeatTimer: TimerHandle | undefined
  #closed = false
  #started: Promise<void> | undefined
  #ready: Promise<void> | undefined
  #readyWaiters: Array<() => void> = []
  /** Set when a broadcast period has passed since the hello, so the cluster was heard out. */
  #heardOut = false

  constructor(core: TrackerInternals<M>, options: ClusterOptions, names: Names<M> | undefined) {
    this.#core = core
    this.#options = resolveOptions(options)
    this.#calls = new PendingCalls(core.clock, this.#options.callTimeout)
    this.#names = names
    this.#limits = { maxId: core.maxId, maxMetaBytes: core.maxMetaBytes }
    const limits = this.#limits
    const section = (body: unknown, envelope: Envelope) => this.#parseSection(body, envelope)
    this.#handlers = {
      hello: this.#checked(parseHeartbeat, (peer, body) => this.#onHello(peer, body)),
      heartbeat: this.#checked(parseHeartbeat, (peer, body) => this.#onHeartbeat(peer, body)),
      delta: this.#checked(section, (peer, body) => this.#onSection(peer, body, 'delta')),
      transfer: this.#checked(section, (peer, body) => this.#onSection(peer, body, 'transfer')),
      transfer_req: this.#checked(parseTransferRequest, (peer, body) =>
        this.#onTransferRequest(peer, body),
      ),
      goodbye: this.#checked(
        (body) => parseGoodbye(body, limits),
        (peer, body) => this.#onGoodbye(peer, body),
      ),
      call: this.#checked(
        (body) => parseCall(body, limits),
        (peer, body) => this.#onCall(peer, body),
      ),
      reply: this.#checked(parseReply, (peer, body) => this.#onReply(peer, body)),
    }
    names?.setForwarder({ call: (node, call) => this.#forward(node, call) })
  }

  get #self() {
    return this.#core.set().self
  }

  /** Subscribes, says hello and starts the heartbeat. */
  start(): Promise<void> {
    this.#started ??= this.#start()
    return this.#started
  }

  async #start(): Promise<void> {
    const { transport, broadcastPeriod, random } = this.#options
    const onData = (data: Uint8Array) => this.#receive(data)
    await transport.subscribe('all', onData)
    await transport.subscribe(`node:${this.#self.node}`, onData)
    if (this.#closed) return
    this.#publish('all', 'hello', { clock: this.#core.set().clock })
    // A flag, not a deadline read from clock.now(): a timer may fire while the clock still
    // reads a moment before its due time (Node's timers and Date.now() use two clocks).
    this.#core.clock.setTimeout(() => {
      this.#heardOut = true
      this.#checkReady()
    }, broadcastPeriod)
    this.#heartbeatTimer = this.#core.clock.setTimeout(
      () => this.#beat(),
      Math.floor(random() * broadcastPeriod),
    )
  }

  /** Resolves once this node has heard the cluster out and holds its state. */
  ready(): Promise<void> {
    this.#ready ??= this.start().then(
      () => new Promise<void>((resolve) => this.#readyWaiters.push(resolve)),
    )
    this.#checkReady()
    return this.#ready
  }

  /** The nodes this one knows of, itself first. */
  nodes(): NodeInfo[] {
    const self = this.#self
    const now = this.#core.clock.now()
    const list: NodeInfo[] = [
      { node: self.node, incarnation: self.incarnation, status: 'self', lastHeard: now },
    ]
    for (const peer of this.#peers.values()) {
      const { node, incarnation, status, lastHeard } = peer
      list.push({ node, incarnation, status, lastHeard })
    }
    return list
  }

  /** A local change happened: send it within `batchDelayMs`, or now for a large batch. */
  localChange(): void {
    if (this.#closed) return
    const waiting = this.#core.set().clock - this.#sentClock
    if (waiting >= FLUSH_AT_CHANGES) {
      this.#flush()
      return
    }
    this.#batchTimer ??= this.#core.clock.setTimeout(
      () => this.#flush(),
      this.#options.batchDelayMs,
    )
  }

  #sentClock = 0

  /** Says goodbye, handing standalone names to the top-ranked live node, and stops. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.#started?.catch(() => undefined)
    this.#flush()
    this.#closed = true
    for (const timer of [this.#batchTimer, this.#heartbeatTimer]) {
      if (timer !== undefined) this.#core.clock.clearTimeout(timer)
    }
    for (const peer of this.#peers.values()) this.#clearAsk(peer)
    for (const { timer } of this.#parked.values()) this.#core.clock.clearTimeout(timer)
    this.#calls.fail('closed', 'The tracker was closed before the call finished.')
    const goodbye = this.#goodbye()
    try {
      await this.#send('all', 'goodbye', goodbye)
    } finally {
      await this.#options.transport.close()
    }
  }

  // ---- sending ------------------------------------------------------------------------

  #flush(): void {
    if (this.#batchTimer !== undefined) {
      this.#core.clock.clearTimeout(this.#batchTimer)
      this.#batchTimer = undefined
    }
    const section = this.#core.set().takeDelta()
    this.#sentClock = this.#core.set().clock
    if (section) this.#publishSection('all', 'delta', section)
  }

  #publishSection(channel: string, type: string, section: SectionData<M>, to?: string): void {
    for (const bytes of this.#chunks(section, type, to)) this.#sendBytes(channel, bytes)
  }

  /** Encodes a section, split by clock ranges until each message is within `batchBytes`. */
  #chunks(section: SectionData<M>, type: string, to?: string): Uint8Array[] {
    const body: SectionBody<M> = {
      from: section.from,
      to: section.to,
      extra: section.extra,
      entries: section.entries,
      names: section.names,
    }
    const bytes = this.#encode(type, body, to)
    const elements = section.entries.length + section.names.length
    if (bytes.length <= this.#options.batchBytes || elements < 2) return [bytes]
    const [low, high] = splitSection(section)
    return [...this.#chunks(low, type, to), ...this.#chunks(high, type, to)]
  }

  #publish(channel: string, type: string, body: unknown, to?: string): void {
    this.#sendBytes(channel, this.#encode(type, body, to))
  }

  #send(channel: string, type: string, body: unknown, to?: string): Promise<void> {
    return this.#options.transport.publish(channel, this.#encode(type, body, to))
  }

  #encode(type: string, body: unknown, to?: string): Uint8Array {
    const self = this.#self
    const envelope: Envelope = {
      v: PROTOCOL_VERSION,
      from: self.node,
      inc: self.incarnation,
      type,
      body,
    }
    if (to !== undefined) envelope.to = to
    return encode(envelope, this.#options.secret)
  }

  #sendBytes(channel: string, bytes: Uint8Array): void {
    if (this.#closed) return
    this.#options.transport.publish(channel, bytes).catch((error: unknown) => {
      this.#core.log('warn', 'publish failed; heartbeats will repair the gap', { channel, error })
    })
  }

  // ---- heartbeat and liveness ---------------------------------------------------------

  #beat(): void {
    if (this.#closed) return
    this.#flush()
    this.#publish('all', 'heartbeat', { clock: this.#core.set().clock })
    this.#checkLiveness()
    this.#heartbeatTimer = this.#core.clock.setTimeout(
      () => this.#beat(),
      this.#options.broadcastPeriod,
    )
  }

  #checkLiveness(): void {
    const now = this.#core.clock.now()
    const { downPeriod, permdownPeriod } = this.#options
    for (const peer of [...this.#peers.values()]) {
      const silent = now - peer.lastHeard
      if (peer.status === 'up' && silent >= downPeriod) this.#markDown(peer)
      else if (peer.status === 'down' && silent >= permdownPeriod) this.#forget(peer)
    }
    for (const [replicaId, at] of this.#departed) {
      if (now - at < permdownPeriod) continue
      this.#departed.delete(replicaId)
      this.#superseded.delete(replicaId)
    }
  }

  #markDown(peer: Peer): void {
    peer.status = 'down'
    this.#clearAsk(peer)
    const hidden = this.#core.set().hide(peer.replicaId)
    const adopted = this.#adopt(this.#namesToTakeOver(peer))
    this.#commitMoved(hidden, adopted, 'takeover')
    this.#core.emit('nodedown', { node: peer.node, incarnation: peer.incarnation })
    this.#calls.fail('nodedown', `Node "${peer.node}" went down before it answered.`, peer.node)
  }

  /**
   * Emits a node's departure: the standalone entries this node adopted from it replace
   * theirs in one change (so listeners see an update), everything else leaves.
   */
  #commitMoved(gone: Changes<M>, adopted: Entry<M>[], origin: 'takeover'): void {
    const slots = new Set(adopted.map(parkKey))
    const moved = gone.left.filter((entry) => slots.has(parkKey(entry)))
    const rest = gone.left.filter((entry) => !slots.has(parkKey(entry)))
    this.#core.apply({ ...gone, left: rest }, 'remote')
    if (adopted.length > 0 || moved.length > 0) this.#core.commit(adopted, moved, origin)
  }

  #forget(peer: Peer): void {
    this.#peers.delete(peer.node)
    this.#clearAsk(peer)
    this.#purge(peer.replicaId)
  }

  /**
   * Forgets a replica. Its hidden entries emit nothing as they go, but they held their
   * rooms open for `releaseWhenAlone` names, so those rooms are checked again.
   */
  #purge(replicaId: string): void {
    const set = this.#core.set()
    const hidden: Entry<M>[] = []
    if (set.isHidden(replicaId)) {
      for (const element of set.elementsOf(replicaId) ?? []) {
        if (element instanceof Entry) hidden.push(element)
      }
    }
    this.#core.apply(set.purge(replicaId), 'remote')
    if (hidden.length > 0) this.#names?.afterChange([], hidden)
  }

  // ---- receiving ----------------------------------------------------------------------

  #receive(data: Uint8Array): void {
    if (this.#closed) return
    const result = decode(data, this.#options.secret)
    if (!result.ok) {
      this.#core.log('warn', 'dropped a cluster message', { reason: result.reason })
      return
    }
    const envelope = result.envelope
    if (!this.#isForUs(envelope) || this.#lateGoodbye(envelope)) return
    const handler = Object.hasOwn(this.#handlers, envelope.type)
      ? this.#handlers[envelope.type]
      : undefined
    if (!handler) {
      this.#core.log('warn', 'dropped a cluster message of unknown type', { type: envelope.type })
      return
    }
    try {
      handler(envelope)
    } catch (error) {
      this.#core.log('error', 'a cluster message could not be handled', { error })
    }
  }

  #isForUs(envelope: Envelope): boolean {
    const self = this.#self
    if (envelope.from === self.node) {
      if (envelope.inc !== self.incarnation) this.#warnDuplicate(envelope.inc)
      return false
    }
    if (envelope.to !== undefined && envelope.to !== self.node) return false
    const replicaId = replicaOf(envelope.from, envelope.inc).id
    if (!this.#departed.has(replicaId)) return true
    // A late message of a dead incarnation can overtake the hello of the live one and
    // replace it here. Once the replacement is down or gone, whoever still speaks is live;
    // an incarnation that said goodbye never comes back.
    const current = this.#peers.get(envelope.from)
    if (!this.#superseded.has(replicaId) || current?.status === 'up') return false
    this.#departed.delete(replicaId)
    this.#superseded.delete(replicaId)
    return true
  }

  /**
   * A goodbye of another incarnation than the one this node knows of that nodeId: the
   * known one is live or will be found down, so only the one saying goodbye goes. Letting
   * it replace the known one would shut a live successor out (its hello came first).
   */
  #lateGoodbye(envelope: Envelope): boolean {
    const peer = this.#peers.get(envelope.from)
    if (envelope.type !== 'goodbye' || !peer || peer.incarnation === envelope.inc) return false
    if (!parseGoodbye(envelope.body, this.#limits).ok) return false
    const replicaId = replicaOf(envelope.from, envelope.inc).id
    this.#departed.set(replicaId, this.#core.clock.now())
    this.#superseded.delete(replicaId)
    this.#purge(replicaId)
    return true
  }

  #warnDuplicate(incarnation: string): void {
    if (this.#warnedDuplicates.has(incarnation)) return
    // Bounded: anyone on the transport can claim this node id with ever new incarnations.
    if (this.#warnedDuplicates.size >= MAX_WARNED_DUPLICATES) this.#warnedDuplicates.clear()
    this.#warnedDuplicates.add(incarnation)
    this.#core.log('warn', 'duplicate_node: another live tracker uses this node id', {
      node: this.#self.node,
      incarnation,
    })
  }

  #peerOf(node: string, incarnation: string): Peer {
    let peer = this.#peers.get(node)
    if (peer && peer.incarnation !== incarnation) {
      this.#replaced(peer)
      peer = undefined
    }
    const now = this.#core.clock.now()
    if (!peer) {
      peer = newPeer(node, incarnation, now)
      this.#peers.set(node, peer)
      this.#core.emit('nodeup', { node, incarnation })
    } else if (peer.status === 'down') {
      peer.status = 'up'
      this.#core.apply(this.#core.set().show(peer.replicaId), 'remote')
      this.#core.emit('nodeup', { node, incarnation })
    }
    peer.lastHeard = now
    return peer
  }

  /** A node restarted: its old incarnation's entries go at once. */
  #replaced(peer: Peer): void {
    this.#peers.delete(peer.node)
    this.#clearAsk(peer)
    this.#departed.set(peer.replicaId, this.#core.clock.now())
    this.#superseded.add(peer.replicaId)
    if (peer.status === 'down') {
      this.#purge(peer.replicaId)
      return
    }
    // Its standalone names outlive it, as they outlive a node that goes down.
    const names = this.#namesToTakeOver(peer)
    const purged = this.#core.set().purge(peer.replicaId)
    this.#commitMoved(purged, this.#adopt(names), 'takeover')
    this.#core.emit('nodedown', { node: peer.node, incarnation: peer.incarnation })
  }

  #onHello(peer: Peer, hello: HeartbeatBody): void {
    peer.announced = Math.max(peer.announced, hello.clock)
    const section = this.#core.set().deltaSince(0)
    if (section) this.#publishSection(`node:${peer.node}`, 'transfer', section, peer.node)
    this.#askIfBehind(peer, true)
  }

  #onHeartbeat(peer: Peer, heartbeat: HeartbeatBody): void {
    peer.announced = Math.max(peer.announced, heartbeat.clock)
    this.#askIfBehind(peer, false)
  }

  #onSection(peer: Peer, body: SectionBody<M>, type: 'delta' | 'transfer'): void {
    const section = { ...body, node: peer.node, incarnation: peer.incarnation }
    const changes = this.#core.set().merge(section)
    peer.announced = Math.max(peer.announced, section.to)
    this.#applyRemote(changes)
    if (type === 'transfer' && !this.#behind(peer)) this.#clearAsk(peer)
    else this.#askIfBehind(peer, false)
    this.#settleCalls(peer)
    this.#checkReady()
  }

  #onTransferRequest(peer: Peer, request: TransferRequestBody): void {
    this.#flush()
    const section = this.#core.set().deltaSince(request.since)
    if (section) this.#publishSection(`node:${peer.node}`, 'transfer', section, peer.node)
  }

  /**
   * A handler that checks the body first: a malformed message is dropped before it can
   * make, revive or replace a peer.
   */
  #checked<T>(
    parse: (body: unknown, envelope: Envelope) => Parsed<T>,
    handle: (peer: Peer, body: T) => void,
  ): Handler {
    return (envelope) => {
      const parsed = parse(envelope.body, envelope)
      if (!parsed.ok) {
        const data = { node: envelope.from, reason: parsed.reason }
        this.#core.log('warn', 'dropped a malformed cluster message', data)
        return
      }
      const refused = this.#refusedSender(envelope.from, envelope.inc)
      if (refused) {
        const data = { node: envelope.from, incarnation: envelope.inc, reason: refused }
        this.#core.log('warn', 'dropped a cluster message from an impossible sender', data)
        return
      }
      handle(this.#peerOf(envelope.from, envelope.inc), parsed.value)
    }
  }

  #parseSection(body: unknown, envelope: Envelope): Parsed<SectionBody<M>> {
    const parsed = parseSection<M>(body, this.#limits)
    if (!parsed.ok) return parsed
    const { from, to } = parsed.value
    const known = this.#core.set().versionOf(replicaOf(envelope.from, envelope.inc).id)
    if (from <= known || to - from <= MAX_GAP_SPAN) return parsed
    return { ok: false, reason: `section: ${to - from} clocks beyond a gap at ${known}` }
  }

  /**
   * Why a sender cannot be a peer, if it cannot: its node id or incarnation is not an id
   * (as a Tracker checks its own), or another node already goes by its incarnation. Refs
   * are made of the incarnation and a clock, so that node's refs would be minted twice.
   */
  #refusedSender(node: string, incarnation: string): string | undefined {
    if (this.#peers.get(node)?.incarnation === incarnation) return undefined
    const maxId = this.#limits.maxId
    if (node.length === 0 || node.length > maxId) return 'bad node id'
    if (incarnation.length === 0 || incarnation.length > maxId) return 'bad incarnation'
    // A replica is keyed `incarnation@node`: with an "@" in the incarnation, two senders
    // ("x@a" of "b", "x" of "a@b") would share one key, and one's state the other's.
    if (incarnation.includes('@')) return 'bad incarnation'
    if (incarnation === this.#self.incarnation) return 'incarnation of this node'
    for (const peer of this.#peers.values()) {
      if (peer.incarnation === incarnation) return `incarnation of node "${peer.node}"`
    }
    return undefined
  }

  // ---- transfers ----------------------------------------------------------------------

  #behind(peer: Peer): boolean {
    const set = this.#core.set()
    const known = Math.max(peer.announced, set.versionOf(peer.replicaId))
    return set.completeUpTo(peer.replicaId) < known || set.hasGap(peer.replicaId)
  }

  /** Asks `peer` for what this node missed, after a jittered pause unless `now`. */
  #askIfBehind(peer: Peer, now: boolean): void {
    if (!this.#behind(peer) || peer.askTimer !== undefined) return
    const clock = this.#core.clock
    const retryAfter = this.#options.broadcastPeriod * 2
    if (peer.askedAt !== undefined && clock.now() - peer.askedAt < retryAfter) return
    // Jitter, so that nodes that all missed one message do not all ask at once.
    const pause = now ? 0 : Math.floor(this.#options.random() * (this.#options.broadcastPeriod / 4))
    peer.askTimer = clock.setTimeout(() => {
      peer.askTimer = undefined
      if (this.#closed || !this.#behind(peer)) return
      peer.askedAt = clock.now()
      const since = this.#core.set().completeUpTo(peer.replicaId)
      this.#publish(`node:${peer.node}`, 'transfer_req', { since }, peer.node)
    }, pause)
  }

  #clearAsk(peer: Peer): void {
    peer.askedAt = undefined
    if (peer.askTimer === undefined) return
    this.#core.clock.clearTimeout(peer.askTimer)
    peer.askTimer = undefined
  }

  // ---- readiness ----------------------------------------------------------------------

  #checkReady(): void {
    if (this.#readyWaiters.length === 0 || !this.#heardOut) return
    for (const peer of this.#peers.values()) {
      if (peer.status === 'up' && this.#behind(peer)) return
    }
    const waiters = this.#readyWaiters
    this.#readyWaiters = []
    for (const resolve of waiters) resolve()
  }

  // ---- names across the cluster -------------------------------------------------------

  /** Forwards a write through a name to the node that holds it. */
  async #forward(node: string, call: ForwardedCall): Promise<string | undefined> {
    if (call.op !== 'update' || typeof call.meta !== 'function') {
      return this.#callHolder(node, call)
    }
    const explicit = call.ifRef !== undefined
    // A function cannot travel: apply it to this node's copy and let `ifRef` catch a
    // concurrent write, then read again and retry.
    for (let attempt = 0; ; attempt++) {
      const entry = this.#replicatedEntry(node, call)
      const next = (call.meta as (prev: Readonly<M>) => M)(entry.meta)
      const ifRef = call.ifRef ?? entry.ref
      try {
        return await this.#callHolder(node, { ...call, meta: next, ifRef })
      } catch (error) {
        const retry = error instanceof PresenceError && error.code === 'stale'
        if (!retry || explicit || attempt >= 4) throw error
      }
    }
  }

  /**
   * Calls the node that holds a name. A name can move while a call travels (taken over,
   * handed over, a conflict settled): the answer is then `remote_name`, saying where it
   * is now, and the call follows it there, within `callTimeout` in all.
   */
  async #callHolder(node: string, call: ForwardedCall): Promise<string | undefined> {
    const deadline = this.#core.clock.now() + this.#options.callTimeout
    for (let hop = 0; ; hop++) {
      try {
        if (node === this.#self.node) return this.#names!.perform(call)
        return await this.#callNode(node, call)
      } catch (error) {
        const moved = error instanceof PresenceError && error.code === 'remote_name'
        if (!moved || this.#closed || this.#core.clock.now() >= deadline) throw error
        // The first hop goes at once; after that, let the copies here and there catch up.
        if (hop > 0) await this.#sleep(this.#options.broadcastPeriod / 4)
        node = error.node ?? node
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#core.clock.setTimeout(resolve, ms))
  }

  #replicatedEntry(node: string, call: ForwardedCall): Entry<M> {
    const owner = this.#names?.lookup(call.target.name)?.owner
    const entries = this.#core.set().topic(call.topic)?.entriesOf(call.key) ?? []
    const entry = entries.find((item) => item.owner === owner && item.replica.node === node)
    if (entry) return entry
    throw new PresenceError(
      'nopresence',
      `Expected name "${call.target.name}" to track key "${call.key}" in topic ` +
        `"${call.topic}", but it does not.`,
      { topic: call.topic, key: call.key, name: call.target.name },
    )
  }

  #callNode(node: string, call: ForwardedCall): Promise<string | undefined> {
    const peer = this.#peers.get(node)
    if (!peer || peer.status === 'down' || this.#closed) {
      const message = `Node "${node}", which holds name "${call.target.name}", is down.`
      return Promise.reject(new PresenceError('nodedown', message, { node }))
    }
    const late = () =>
      new PresenceError(
        'timeout',
        `Node "${node}" did not answer a call through name "${call.target.name}" ` +
          `within ${this.#options.callTimeout} ms.`,
        { node, name: call.target.name },
      )
    const body = wireCall(call)
    return this.#calls.open(node, late, (id) => {
      this.#publish(`node:${node}`, 'call', { id, call: body }, node)
    })
  }

  #onCall(peer: Peer, body: CallBody): void {
    const { id, call } = body
    let reply: ReplyBody
    try {
      if (!this.#names) throw new PresenceError('names_disabled', 'Names are off on this node.')
      const ref = this.#names.perform(call) ?? null
      reply = { id, ok: true, ref, clock: this.#core.set().clock }
    } catch (error) {
      const failure = error instanceof PresenceError ? error : undefined
      const code = failure?.code ?? 'invalid_argument'
      const message = failure?.message ?? String(error)
      reply = { id, ok: false, code, message }
      if (code === 'remote_name' && failure?.node !== undefined) reply.holder = failure.node
    }
    // The changes an answer rests on go out before it, failures too: a caller told
    // `stale` then reads the write that made it stale before it tries again.
    this.#flush()
    this.#publish(`node:${peer.node}`, 'reply', reply, peer.node)
  }

  #onReply(peer: Peer, reply: ReplyBody): void {
    if (!this.#calls.isOpen(reply.id, peer.node)) return
    if (!reply.ok) {
      const node = reply.holder ?? peer.node
      const code = reply.code as PresenceErrorCode
      this.#calls.refused(reply.id, new PresenceError(code, reply.message, { node }))
      return
    }
    this.#calls.answered(reply.id, reply.clock, reply.ref ?? undefined)
    // The holder is at least this far: when its delta is lost, the ask below goes at once.
    peer.announced = Math.max(peer.announced, reply.clock)
    this.#settleCalls(peer)
    if (this.#calls.isOpen(reply.id, peer.node)) this.#askIfBehind(peer, true)
  }

  /** Resolves the calls whose change has reached this node's copy. */
  #settleCalls(peer: Peer): void {
    this.#calls.settle(peer.node, this.#core.set().versionOf(peer.replicaId))
  }

  // ---- hand-over and takeover of standalone names -------------------------------------

  /** The live node that takes over standalone names: the lowest (node, incarnation). */
  #successor(includeSelf: boolean): string | undefined {
    const candidates = [...this.#peers.values()]
      .filter((peer) => peer.status === 'up')
      .map((peer) => replicaOf(peer.node, peer.incarnation))
    if (includeSelf) candidates.push(this.#self)
    candidates.sort(compareReplicas)
    return candidates[0]?.node
  }

  #goodbye(): GoodbyeBody {
    const to = this.#successor(false)
    if (!to || !this.#names) return { to: null, names: [] }
    const names: HandoverName[] = []
    for (const registration of this.#ownStandalone()) {
      names.push(this.#handoverOf(registration))
    }
    return { to, names }
  }

  #ownStandalone(): Registration[] {
    const set = this.#core.set()
    const own: Registration[] = []
    for (const element of set.elementsOf(set.self.id) ?? []) {
      if (!('standalone' in element) || !element.standalone) continue
      own.push(element)
    }
    return own
  }

  #handoverOf(registration: Registration): HandoverName {
    const owned = this.#core.set().ownedBy(registration.owner) ?? []
    return {
      name: registration.name,
      releaseTopic: registration.release?.topic ?? null,
      graceMs: registration.release?.graceMs ?? 0,
      entries: [...owned].map((entry) => [entry.topic, entry.key, entry.meta as Meta]),
    }
  }

  #onGoodbye(peer: Peer, goodbye: GoodbyeBody): void {
    this.#peers.delete(peer.node)
    this.#clearAsk(peer)
    this.#departed.set(peer.replicaId, this.#core.clock.now())
    this.#superseded.delete(peer.replicaId)
    const purged = this.#core.set().purge(peer.replicaId)
    const handedOver = new Set(goodbye.names.map((name) => name.name))
    if (goodbye.to === this.#self.node) {
      this.#commitMoved(purged, this.#adopt(goodbye.names), 'takeover')
    } else {
      const kept = purged.left.filter((entry) => !this.#park(entry, handedOver))
      this.#core.apply({ ...purged, left: kept }, 'remote')
    }
    if (peer.status === 'up') {
      this.#core.emit('nodedown', { node: peer.node, incarnation: peer.incarnation })
    }
    this.#calls.fail('nodedown', `Node "${peer.node}" left.`, peer.node)
  }

  /** Re-creates handed-over standalone names here, entries and all. */
  #adopt(names: HandoverName[]): Entry<M>[] {
    const set = this.#core.set()
    const adopted: Entry<M>[] = []
    // Names are off here (a misconfigured cluster): the handed-over entries just leave.
    if (!this.#names) return adopted
    for (const handover of names) {
      if (set.registrations(handover.name)?.length) continue
      const release =
        handover.releaseTopic === null
          ? undefined
          : { topic: handover.releaseTopic, graceMs: handover.graceMs }
      const owner = this.#names!.adopt(handover.name, release)
      for (const [topic, key, meta] of handover.entries) {
        adopted.push(set.add(topic, key, owner, meta as unknown as M))
      }
    }
    return adopted
  }

  /**
   * The standalone names of a node that went down or was replaced, with their last
   * replicated entries, when this node ranks first among the live others to take them.
   */
  #namesToTakeOver(peer: Peer): HandoverName[] {
    if (!this.#names || this.#successor(true) !== this.#self.node) return []
    const names: HandoverName[] = []
    for (const element of this.#core.set().elementsOf(peer.replicaId) ?? []) {
      if (!('standalone' in element) || !element.standalone) continue
      names.push(this.#hiddenHandover(peer.replicaId, element))
    }
    return names
  }

  #hiddenHandover(replicaId: string, registration: Registration): HandoverName {
    const entries: HandoverName['entries'] = []
    for (const element of this.#core.set().elementsOf(replicaId) ?? []) {
      if ('standalone' in element || element.owner !== registration.owner) continue
      entries.push([element.topic, element.key, element.meta as Meta])
    }
    return {
      name: registration.name,
      releaseTopic: registration.release?.topic ?? null,
      graceMs: registration.release?.graceMs ?? 0,
      entries,
    }
  }

  /** Holds back the leave of a handed-over entry until the successor's join pairs it. */
  #park(entry: Entry<M>, handedOver: Set<string>): boolean {
    const name = standaloneName(entry.owner)
    if (name === undefined || !handedOver.has(name)) return false
    const key = parkKey(entry)
    const timer = this.#core.clock.setTimeout(() => {
      this.#parked.delete(key)
      this.#core.commit([], [entry], 'remote')
    }, this.#options.callTimeout)
    this.#parked.set(key, { entry, timer })
    return true
  }

  #applyRemote(changes: Changes<M>): void {
    if (this.#parked.size > 0) {
      for (const entry of changes.joined) {
        const parked = this.#parked.get(parkKey(entry))
        if (!parked) continue
        this.#core.clock.clearTimeout(parked.timer)
        this.#parked.delete(parkKey(entry))
        changes.left.push(parked.entry)
      }
    }
    this.#core.apply(changes, 'remote')
  }
}

function resolveOptions(options: ClusterOptions): Resolved {
  const resolved = {
    ...CLUSTER_DEFAULTS,
    random: Math.random,
    ...definedOnly(options),
  } as Resolved
  checkPeriods(resolved)
  return resolved
}

function definedOnly<T extends object>(options: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined) (out as Record<string, unknown>)[name] = value
  }
  return out
}

function checkPeriods(options: Resolved): void {
  const positive = ['broadcastPeriod', 'downPeriod', 'permdownPeriod', 'callTimeout', 'batchBytes']
  for (const name of positive) {
    const value = options[name as keyof Resolved]
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw invalid(`Expected cluster.${name} to be a finite number above 0, got ${String(value)}.`)
    }
  }
  if (!(options.batchDelayMs >= 0)) {
    throw invalid(`Expected cluster.batchDelayMs to be >= 0, got ${options.batchDelayMs}.`)
  }
  if (options.downPeriod < 2 * options.broadcastPeriod) {
    throw invalid(
      `Expected cluster.downPeriod (${options.downPeriod} ms) to be at least twice ` +
        `broadcastPeriod (${options.broadcastPeriod} ms), so that one lost heartbeat ` +
        'does not take a node down.',
    )
  }
  if (options.permdownPeriod <= options.downPeriod) {
    throw invalid(
      `Expected cluster.permdownPeriod (${options.permdownPeriod} ms) to be more than ` +
        `downPeriod (${options.downPeriod} ms).`,
    )
  }
  const transport = options.transport as unknown as Record<string, unknown> | undefined
  if (!transport || typeof transport.publish !== 'function') {
    throw invalid('Expected cluster.transport to be a Transport (publish, subscribe, close).')
  }
}

function invalid(message: string): PresenceError {
  return new PresenceError('invalid_argument', message)
}

function newPeer(node: string, incarnation: string, now: number): Peer {
  return {
    node,
    incarnation,
    replicaId: replicaOf(node, incarnation).id,
    lastHeard: now,
    status: 'up',
    announced: 0,
    askedAt: undefined,
    askTimer: undefined,
  }
}

/** Splits a section into two by clock, each covering its own part of the range. */
function splitSection<M extends object>(section: SectionData<M>): [SectionData<M>, SectionData<M>] {
  const clocks = [...section.entries.map((e) => e[0]), ...section.names.map((n) => n[0])]
  clocks.sort((a, b) => a - b)
  const middle = clocks[Math.floor(clocks.length / 2) - 1]!
  const low: SectionData<M> = {
    ...section,
    to: middle,
    entries: section.entries.filter((e) => e[0] <= middle),
    names: section.names.filter((n) => n[0] <= middle),
  }
  const high: SectionData<M> = {
    ...section,
    from: middle,
    extra: [],
    entries: section.entries.filter((e) => e[0] > middle),
    names: section.names.filter((n) => n[0] > middle),
  }
  return [low, high]
}

function wireCall(call: ForwardedCall): ForwardedCall {
  return JSON.parse(JSON.stringify(call)) as ForwardedCall
}

const STANDALONE = '\u0000name:'

function standaloneName(owner: string): string | undefined {
  return owner.startsWith(STANDALONE) ? owner.slice(STANDALONE.length) : undefined
}

function parkKey(entry: { topic: string; key: string; owner: string }): string {
  return `${entry.owner}\u0000${entry.topic}\u0000${entry.key}`
}
