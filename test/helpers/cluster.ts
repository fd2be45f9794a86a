/**
 * A whole cluster in one process for the simulation tests: trackers on one
 * {@link ManualClock}, joined by one {@link MemoryNetwork}, with every event and log call
 * of each node recorded, and a normalised view of what a node lists.
 */
import { expect } from 'vitest'
import type { ClusterOptions } from '../../src/cluster/options.js'
import type { Transport } from '../../src/cluster/transport.js'
import type { LogLevel, Meta, TrackerOptions } from '../../src/index.js'
import {
  ManualClock,
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryTransport,
} from '../../src/testing/index.js'
import { Tracker } from '../../src/tracker.js'

/** One call of a node's logger. */
export interface LogCall {
  level: LogLevel
  message: string
  data: Record<string, unknown> | undefined
}

/** One event a node emitted. */
export interface Recorded {
  event: string
  payload: Record<string, unknown>
}

/** A node of a {@link Sim}: its tracker, what it emitted and what it logged. */
export interface SimNode {
  id: string
  tracker: Tracker<Meta>
  events: Recorded[]
  logs: LogCall[]
}

const EVENTS = ['join', 'leave', 'update', 'nodeup', 'nodedown', 'name_conflict'] as const

/** Options of every node of a {@link Sim}, each overridable per node. */
export interface SimOptions {
  network?: MemoryNetworkOptions
  tracker?: Omit<TrackerOptions, 'cluster' | 'clock'>
  cluster?: Partial<Omit<ClusterOptions, 'transport' | 'nodeId'>>
  /** Wraps the node's transport, to filter or watch what it hears. */
  wrap?: (transport: MemoryTransport) => Transport
}

/** Short periods so that liveness tests need little simulated time; all checks hold. */
export const SIM_PERIODS = {
  broadcastPeriod: 1_000,
  downPeriod: 5_000,
  permdownPeriod: 60_000,
  callTimeout: 3_000,
} as const

/** A deterministic cluster: one clock, one network, nodes added by id. */
export class Sim {
  readonly clock = new ManualClock()
  readonly network: MemoryNetwork
  readonly nodes = new Map<string, SimNode>()
  readonly #options: SimOptions

  constructor(options: SimOptions = {}) {
    this.#options = options
    this.network = new MemoryNetwork({ clock: this.clock, ...options.network })
  }

  /** Starts a node (a new incarnation when the id was used before). */
  add(id: string, options: SimOptions = {}): SimNode {
    const logs: LogCall[] = []
    const tracker = new Tracker<Meta>({
      clock: this.clock,
      names: true,
      logger: (level, message, data) => {
        logs.push({ level, message, data: data as Record<string, unknown> | undefined })
      },
      ...this.#options.tracker,
      ...options.tracker,
      cluster: {
        transport: (options.wrap ?? ((t) => t))(this.network.transport(id)),
        nodeId: id,
        random: () => 0.5,
        ...SIM_PERIODS,
        ...this.#options.cluster,
        ...options.cluster,
      },
    })
    const node: SimNode = { id, tracker, events: record(tracker), logs }
    this.nodes.set(id, node)
    return node
  }

  /** Starts several nodes and lets them hear each other out. */
  async start(...ids: string[]): Promise<Tracker<Meta>[]> {
    const trackers = ids.map((id) => this.add(id).tracker)
    await this.clock.advance(SIM_PERIODS.broadcastPeriod * 2)
    return trackers
  }

  node(id: string): SimNode {
    const node = this.nodes.get(id)
    if (!node) throw new Error(`no node "${id}" in this simulation`)
    return node
  }

  tracker(id: string): Tracker<Meta> {
    return this.node(id).tracker
  }

  /** Delivers what is in flight and fires due timers: well within one batch delay. */
  settle(): Promise<void> {
    return this.clock.advance(10)
  }

  advance(ms: number): Promise<void> {
    return this.clock.advance(ms)
  }

  /** Kills a node as SIGKILL would: no goodbye, its transport silent. */
  crash(id: string): void {
    this.network.crash(id)
    this.nodes.delete(id)
  }

  /** Closes every node still open (after a test), then lets the goodbyes land. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.nodes.values()].map(({ tracker }) => tracker.close()))
    await this.clock.flush()
  }
}

/**
 * A transport that hears nothing on `channel` while `blocked()` says so: a way to lose
 * one kind of message (transfers, calls, replies) and nothing else.
 */
export function deafTo(channel: string, blocked: () => boolean) {
  return (transport: MemoryTransport): Transport => ({
    publish: (name, data) => transport.publish(name, data),
    subscribe: (name, onData) =>
      transport.subscribe(name, name === channel ? (data) => blocked() || onData(data) : onData),
    close: () => transport.close(),
  })
}

/** Records every event of `tracker` into the returned array, in order. */
export function record(tracker: Tracker<Meta>): Recorded[] {
  const events: Recorded[] = []
  for (const event of EVENTS) {
    tracker.on(event, (payload: object) => {
      events.push({ event, payload: payload as Record<string, unknown> })
    })
  }
  return events
}

/** The events of one kind, payloads only. */
export function eventsOf(node: SimNode, event: string): Record<string, unknown>[] {
  return node.events.filter((item) => item.event === event).map((item) => item.payload)
}

/**
 * What a node lists, normalised for comparison: topic, then key, then the sorted metas
 * with their refs. Two nodes that agree on every entry give equal views.
 */
export function view(tracker: Tracker<Meta>): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {}
  for (const topic of [...tracker.topics()].sort()) {
    const list = tracker.list(topic)
    const keys: Record<string, string[]> = {}
    for (const key of Object.keys(list).sort()) {
      keys[key] = list[key]!.metas.map((meta) => JSON.stringify(meta)).sort()
    }
    out[topic] = keys
  }
  return out
}

/** The keys a node lists in `topic`, sorted. */
export function keysIn(tracker: Tracker<Meta>, topic: string): string[] {
  return Object.keys(tracker.list(topic)).sort()
}

/** Asserts that every tracker lists exactly the same entries. */
export function expectConverged(trackers: Tracker<Meta>[]): void {
  const [first, ...rest] = trackers
  if (!first) return
  const expected = view(first)
  for (const tracker of rest) {
    expect(view(tracker), `node ${tracker.nodeId} differs from ${first.nodeId}`).toEqual(expected)
  }
}

/** Log calls of `level` whose message matches `pattern`. */
export function logsMatching(node: SimNode, level: LogLevel, pattern: RegExp): LogCall[] {
  return node.logs.filter((call) => call.level === level && pattern.test(call.message))
}
