import type { Clock } from '../clock.js'
import type { Transport } from '../cluster/transport.js'
import { describe, PresenceError } from '../errors.js'
import { seededRandom } from './random.js'

/**
 * Faults a {@link MemoryNetwork} injects, each decided per message and receiving node by
 * the network's seeded random generator, so a seed replays the same run.
 */
export interface NetworkFaults {
  /**
   * The probability, from 0 to 1, that a message does not reach a receiving node.
   * @default 0
   */
  loss?: number
  /**
   * The probability that a message reaches a receiving node twice.
   * @default 0
   */
  duplicate?: number
  /**
   * The probability that a message is held back, so later messages overtake it.
   * @default 0
   */
  reorder?: number
  /**
   * Without a `clock`, a held-back message waits 1 to this many extra microtask turns.
   * @default 8
   */
  maxDelayTurns?: number
  /**
   * With a `clock`, a held-back message waits 1 to this many milliseconds of clock time.
   * @default 50
   */
  maxDelayMs?: number
}

/** Options of {@link MemoryNetwork}. */
export interface MemoryNetworkOptions extends NetworkFaults {
  /**
   * Seeds the generator that decides every fault, for reproducible runs.
   * @default 1
   */
  seed?: number
  /** When set, held-back messages wait on this clock (see `maxDelayMs`). */
  clock?: Clock
  /**
   * Called when a subscriber's handler throws. By default the error is rethrown on a
   * later microtask, where it surfaces as an uncaught error and fails the test.
   */
  onError?: (error: unknown, info: { channel: string; node: string }) => void
}

/** The defaults of {@link NetworkFaults} and {@link MemoryNetworkOptions}. */
export const MEMORY_NETWORK_DEFAULTS = {
  /** @see MemoryNetworkOptions.seed */
  seed: 1,
  /** @see NetworkFaults.loss */
  loss: 0,
  /** @see NetworkFaults.duplicate */
  duplicate: 0,
  /** @see NetworkFaults.reorder */
  reorder: 0,
  /** @see NetworkFaults.maxDelayTurns */
  maxDelayTurns: 8,
  /** @see NetworkFaults.maxDelayMs */
  maxDelayMs: 50,
} as const

/** Counters of one channel, or of the whole network. */
export interface ChannelStats {
  /** Messages published, counted once however many nodes hear them. */
  published: number
  /** Bytes published, counted once per message. */
  publishedBytes: number
  /** Messages handed to a receiving node (once per node, however many handlers it has). */
  delivered: number
  /** Bytes handed to receiving nodes: what a broker would have sent on the wire. */
  deliveredBytes: number
  /** Deliveries lost to `loss`, partitions, isolation, crashes or closed receivers. */
  dropped: number
  /** Bytes of the dropped deliveries. */
  droppedBytes: number
  /** Extra deliveries made by `duplicate`, also counted in `delivered`. */
  duplicated: number
}

/** A snapshot of a network's counters. */
export interface NetworkStats {
  /** The sum over all channels. */
  total: ChannelStats
  /** Per channel, in the order channels were first used. */
  channels: ReadonlyMap<string, ChannelStats>
}

/** A transport of a {@link MemoryNetwork}, as {@link MemoryNetwork.transport} returns it. */
export interface MemoryTransport extends Transport {
  /** The node this transport belongs to. */
  readonly nodeId: string
}

type Handler = (data: Uint8Array) => void

/** @internal One transport: a node's connection to the network. */
class Link implements MemoryTransport {
  readonly nodeId: string
  readonly handlers = new Map<string, Set<Handler>>()
  state: 'open' | 'closed' | 'crashed' = 'open'
  readonly #network: Wire

  constructor(network: Wire, nodeId: string) {
    this.#network = network
    this.nodeId = nodeId
  }

  publish(channel: string, data: Uint8Array): Promise<void> {
    if (this.state === 'closed') return Promise.reject(closedError(this.nodeId))
    if (!(data instanceof Uint8Array)) return Promise.reject(notBytes(data))
    if (this.state === 'open') this.#network.send(this, channel, data)
    return Promise.resolve()
  }

  subscribe(channel: string, onData: Handler): Promise<void> {
    if (this.state === 'closed') return Promise.reject(closedError(this.nodeId))
    if (this.state === 'open') this.#network.listen(this, channel, onData)
    return Promise.resolve()
  }

  close(): Promise<void> {
    if (this.state === 'open') this.#network.detach(this)
    if (this.state !== 'crashed') this.state = 'closed'
    return Promise.resolve()
  }
}

/** @internal What a {@link Link} needs from its network. */
interface Wire {
  send(from: Link, channel: string, data: Uint8Array): void
  listen(link: Link, channel: string, onData: Handler): void
  detach(link: Link): void
}

/**
 * An in-process network for tests and simulations: every transport made by one network
 * shares its channels, and every node hears its own publishes, as with Redis pub/sub.
 * Messages arrive on a later microtask, never inside `publish`, each handler with its own
 * copy of the bytes. Partitions, isolation, crashes, loss, duplication and reordering
 * can be switched on and off while it runs; faults are decided by a seeded generator.
 *
 * @example
 * ```ts
 * const clock = new ManualClock()
 * const network = new MemoryNetwork({ seed: 42, loss: 0.1 })
 * const a = new Tracker({ clock, cluster: { transport: network.transport('a'), nodeId: 'a' } })
 * const b = new Tracker({ clock, cluster: { transport: network.transport('b'), nodeId: 'b' } })
 * network.partition(['a'], ['b'])
 * await clock.advance(5_000)
 * network.heal()
 * await clock.advance(5_000)
 * const bytesOnTheWire = network.stats.total.deliveredBytes
 * ```
 */
export class MemoryNetwork {
  readonly #subscribers = new Map<string, Set<Link>>()
  readonly #links = new Map<string, Set<Link>>()
  readonly #cuts = new Set<string>()
  readonly #isolated = new Set<string>()
  readonly #stats = new Map<string, ChannelStats>()
  readonly #faults: Required<NetworkFaults>
  readonly #random: () => number
  readonly #clock: Clock | undefined
  readonly #onError: NonNullable<MemoryNetworkOptions['onError']>
  readonly #wire: Wire = {
    send: (from, channel, data) => this.#send(from, channel, data),
    listen: (link, channel, onData) => this.#listen(link, channel, onData),
    detach: (link) => this.#detach(link),
  }

  constructor(options: MemoryNetworkOptions = {}) {
    this.#faults = checkFaults({ ...MEMORY_NETWORK_DEFAULTS, ...options })
    this.#random = seededRandom(options.seed ?? MEMORY_NETWORK_DEFAULTS.seed)
    this.#clock = options.clock
    this.#onError = options.onError ?? rethrowLater
  }

  /**
   * A new transport for `nodeId`. Several transports may share a node id: that is a node
   * restarting after `crash`, and partitions, isolation and crashes apply by node id.
   */
  transport(nodeId: string): MemoryTransport {
    if (typeof nodeId !== 'string' || nodeId === '') {
      throw new PresenceError(
        'invalid_argument',
        `MemoryNetwork.transport expects a non-empty node id, got ${describe(nodeId)}`,
      )
    }
    const link = new Link(this.#wire, nodeId)
    const links = this.#links.get(nodeId) ?? new Set()
    this.#links.set(nodeId, links.add(link))
    return link
  }

  /** Cuts every link between a node of `groupA` and a node of `groupB`, both ways. */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    const overlap = groupA.find((node) => groupB.includes(node))
    if (overlap !== undefined) {
      throw new PresenceError(
        'invalid_argument',
        `MemoryNetwork.partition expects disjoint groups, but "${overlap}" is in both`,
        { node: overlap },
      )
    }
    for (const a of groupA) for (const b of groupB) this.#cuts.add(pairKey(a, b))
  }

  /** Cuts `nodeId` off from every other node, including nodes that join later. */
  isolate(nodeId: string): void {
    this.#isolated.add(nodeId)
  }

  /** Ends every partition and isolation. Crashed transports stay dead. */
  heal(): void {
    this.#cuts.clear()
    this.#isolated.clear()
  }

  /**
   * Kills every current transport of `nodeId`, as a SIGKILL would: from now on it sends
   * nothing, hears nothing and raises no error. A later `transport(nodeId)` is a restart.
   */
  crash(nodeId: string): void {
    for (const link of this.#links.get(nodeId) ?? []) {
      if (link.state === 'open') this.#detach(link)
      link.state = 'crashed'
    }
    this.#links.delete(nodeId)
  }

  /** Whether a message from `from` can reach `to` now (a node always reaches itself). */
  connected(from: string, to: string): boolean {
    if (from === to) return true
    if (this.#isolated.has(from) || this.#isolated.has(to)) return false
    return !this.#cuts.has(pairKey(from, to))
  }

  /** The faults in force. */
  get faults(): Readonly<Required<NetworkFaults>> {
    return { ...this.#faults }
  }

  /** Changes some faults; the others stay as they are. */
  setFaults(faults: NetworkFaults): void {
    Object.assign(this.#faults, checkFaults({ ...this.#faults, ...faults }))
  }

  /** A snapshot of the counters since the network was made or `resetStats` was called. */
  get stats(): NetworkStats {
    const total = emptyStats()
    const channels = new Map<string, ChannelStats>()
    for (const [channel, stats] of this.#stats) {
      channels.set(channel, { ...stats })
      for (const field of STAT_FIELDS) total[field] += stats[field]
    }
    return { total, channels }
  }

  /** Sets every counter back to zero. */
  resetStats(): void {
    this.#stats.clear()
  }

  #listen(link: Link, channel: string, onData: Handler): void {
    const handlers = link.handlers.get(channel) ?? new Set()
    link.handlers.set(channel, handlers.add(onData))

    const links = this.#subscribers.get(channel) ?? new Set()
    this.#subscribers.set(channel, links.add(link))
  }

  #detach(link: Link): void {
    for (const channel of link.handlers.keys()) {
      const links = this.#subscribers.get(channel)
      links?.delete(link)
      if (links?.size === 0) this.#subscribers.delete(channel)
    }
    link.handlers.clear()
    this.#links.get(link.nodeId)?.delete(link)
  }

  #send(from: Link, channel: string, data: Uint8Array): void {
    const bytes = new Uint8Array(data)
    const stats = this.#channelStats(channel)
    stats.published += 1
    stats.publishedBytes += bytes.length

    for (const to of [...(this.#subscribers.get(channel) ?? [])]) {
      this.#route(from.nodeId, to, channel, bytes, stats)
    }
  }

  /** Draws this delivery's faults and schedules what survives them. */
  #route(from: string, to: Link, channel: string, bytes: Uint8Array, stats: ChannelStats) {
    if (this.#chance(this.#faults.loss)) {
      stats.dropped += 1
      stats.droppedBytes += bytes.length
      return
    }
    const copies = this.#chance(this.#faults.duplicate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const duplicate = i > 0
      this.#later(() => this.#deliver(from, to, channel, bytes, duplicate))
    }
  }

  /** Runs `fn` on a later microtask, or later still when the message is held back. */
  #later(fn: () => void): void {
    if (!this.#chance(this.#faults.reorder)) {
      queueMicrotask(fn)
    } else if (this.#clock) {
      this.#clock.setTimeout(fn, 1 + this.#below(this.#faults.maxDelayMs))
    } else {
      const step = (left: number): void => queueMicrotask(left > 0 ? () => step(left - 1) : fn)
      step(1 + this.#below(this.#faults.maxDelayTurns))
    }
  }

  #deliver(from: string, to: Link, channel: string, bytes: Uint8Array, duplicate: boolean) {
    const stats = this.#channelStats(channel)
    const handlers = to.handlers.get(channel)
    if (to.state !== 'open' || !handlers || !this.connected(from, to.nodeId)) {
      stats.dropped += 1
      stats.droppedBytes += bytes.length
      return
    }
    stats.delivered += 1
    stats.deliveredBytes += bytes.length
    if (duplicate) stats.duplicated += 1

    for (const handler of [...handlers]) {
      try {
        handler(new Uint8Array(bytes))
      } catch (error) {
        this.#onError(error, { channel, node: to.nodeId })
      }
    }
  }

  #channelStats(channel: string): ChannelStats {
    const stats = this.#stats.get(channel) ?? emptyStats()
    this.#stats.set(channel, stats)
    return stats
  }

  #chance(rate: number): boolean {
    return rate > 0 && this.#random() < rate
  }

  /** A whole number from 0 to `n - 1` (0 when `n` is below 1). */
  #below(n: number): number {
    return n >= 1 ? Math.floor(this.#random() * Math.floor(n)) : 0
  }
}

const STAT_FIELDS = [
  'published',
  'publishedBytes',
  'delivered',
  'deliveredBytes',
  'dropped',
  'droppedBytes',
  'duplicated',
] as const satisfies readonly (keyof ChannelStats)[]

function emptyStats(): ChannelStats {
  return {
    published: 0,
    publishedBytes: 0,
    delivered: 0,
    deliveredBytes: 0,
    dropped: 0,
    droppedBytes: 0,
    duplicated: 0,
  }
}

function checkFaults(faults: Required<NetworkFaults>): Required<NetworkFaults> {
  const { loss, duplicate, reorder, maxDelayTurns, maxDelayMs } = faults
  for (const [name, rate] of Object.entries({ loss, duplicate, reorder })) {
    if (!(rate >= 0 && rate <= 1)) {
      throw new PresenceError(
        'invalid_argument',
        `MemoryNetwork fault ${name} must be a probability from 0 to 1, got ${describe(rate)}`,
      )
    }
  }
  for (const [name, max] of Object.entries({ maxDelayTurns, maxDelayMs })) {
    if (!(Number.isInteger(max) && max >= 1)) {
      throw new PresenceError(
        'invalid_argument',
        `MemoryNetwork option ${name} must be a whole number >= 1, got ${describe(max)}`,
      )
    }
  }
  return { loss, duplicate, reorder, maxDelayTurns, maxDelayMs }
}

function closedError(nodeId: string): PresenceError {
  return new PresenceError(
    'closed',
    `The transport of node "${nodeId}" is closed; make a new one with network.transport()`,
    { node: nodeId },
  )
}

function notBytes(data: unknown): PresenceError {
  return new PresenceError(
    'invalid_argument',
    `Transport.publish expects a Uint8Array, got ${describe(data)}`,
  )
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`
}

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error
  })
}
