/**
 * The churn of the soak (`scripts/soak.ts`) and of its fast test: owners join, update and
 * leave a tracker on a manual clock, across topics that come and go, aliases and
 * standalone names, subscriptions of every kind, suspends that resume or run out, and
 * owners that go silent until their TTL expires them. One cycle is one owner's whole
 * life: it joins, updates and leaves. After {@link Churn.drain} everyone has left, and
 * nothing should be left behind.
 */
import type { Meta } from '../src/index.js'
import { ManualClock, MemoryNetwork } from '../src/testing/index.js'
import { seededRandom } from '../src/testing/random.js'
import { Tracker } from '../src/tracker.js'

/** How the churn is shaped; the defaults are the soak's. */
export interface ChurnOptions {
  /** Seeds every choice, so a run can be replayed. */
  seed?: number
  /** Owners present at once, in the steady state. */
  population?: number
  /** Owners join in a topic of the current era; a new era every this many cycles. */
  eraCycles?: number
  /**
   * Runs the tracker as node `a` of a cluster, with node `b` holding a replica, on an
   * in-memory network.
   */
  cluster?: boolean
}

/** The tracker options the churn runs with. */
export const OWNER_TTL_MS = 5_000
const GRACE_MS = 200
const WINDOW_MS = 40

type Leave = 'untrackAll' | 'untrack' | 'expireGrace' | 'resume' | 'silent'

interface Owner {
  id: string
  topics: string[]
  leave: Leave
  unsubscribe: Array<() => void>
  suspended: boolean
}

/** Drives owners through their lives on one tracker. */
export class Churn {
  readonly clock = new ManualClock()
  readonly tracker: Tracker<Meta>
  /** With `cluster`, the other node, which only replicates. */
  readonly replica: Tracker<Meta> | undefined
  /** Owners whose whole life has been played out (they left, or were left to expire). */
  cycles = 0
  readonly #random: () => number
  readonly #population: number
  readonly #eraCycles: number
  readonly #live: Owner[] = []
  /** Standalone names this churn created and has not yet seen released. */
  readonly #games = new Map<string, string>()
  readonly #noop = () => {}
  #next = 0
  #step = 0

  constructor(options: ChurnOptions = {}) {
    this.#random = seededRandom(options.seed ?? 1)
    this.#population = options.population ?? 1_000
    this.#eraCycles = options.eraCycles ?? 2_000
    const network = options.cluster ? new MemoryNetwork() : undefined
    const cluster = (nodeId: string) =>
      network && {
        transport: network.transport(nodeId),
        nodeId,
        random: () => 0.5,
        maxRemovalLog: 4_096,
      }
    this.tracker = new Tracker<Meta>({
      clock: this.clock,
      names: { max: 100_000 },
      ownerTtl: OWNER_TTL_MS,
      limits: { updatesPerSecond: 1_000, burst: 50 },
      cluster: cluster('a'),
    })
    this.replica =
      network && new Tracker<Meta>({ clock: this.clock, names: true, cluster: cluster('b') })
  }

  /** Owners present now, as the churn sees them. */
  get live(): number {
    return this.#live.length
  }

  /** Plays `cycles` more owner lives, advancing the clock 1 ms per join. */
  async run(cycles: number): Promise<void> {
    const target = this.cycles + cycles
    while (this.cycles < target) {
      this.#join()
      this.#update()
      if (this.#live.length > this.#population) this.#retire(this.#live.shift()!)
      if (++this.#step % 16 === 0) await this.clock.advance(16)
    }
  }

  /** Everyone left: the remaining owners go, and every timer runs out. */
  async drain(): Promise<void> {
    for (const owner of this.#live.splice(0)) this.#retire(owner)
    for (const [name] of this.#games) {
      if (this.tracker.names.whereis(name) !== undefined) this.tracker.names.unregister(name)
    }
    this.#games.clear()
    await this.clock.advance(OWNER_TTL_MS * 2)
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)]!
  }

  #topic(): string {
    const era = Math.floor(this.cycles / this.#eraCycles)
    return `room:${era}:${Math.floor(this.#random() * 24)}`
  }

  #join(): void {
    const id = `socket-${this.#next++}`
    const count = this.#random() < 0.3 ? 2 : 1
    const topics = [this.#topic()]
    if (count === 2) topics.push(this.#topic())
    const unique = [...new Set(topics)]
    for (const topic of unique) this.tracker.track(id, topic, `user-${id}`, { status: 'online' })
    const owner: Owner = {
      id,
      topics: unique,
      leave: this.#pick<Leave>([
        'untrackAll',
        'untrackAll',
        'untrack',
        'expireGrace',
        'resume',
        'silent',
      ]),
      unsubscribe: [],
      suspended: false,
    }
    if (this.#random() < 0.1) this.tracker.names.register(`alias-${id}`, id)
    if (this.#random() < 0.3) owner.unsubscribe.push(this.#subscribe(unique[0]!))
    if (this.#random() < 0.02) this.#createGame(unique[0]!)
    this.#live.push(owner)
  }

  #subscribe(topic: string): () => void {
    const kind = Math.floor(this.#random() * 4)
    if (kind === 0) return this.tracker.subscribe(topic, this.#noop)
    if (kind === 1) return this.tracker.subscribe(topic, this.#noop, { diffWindowMs: WINDOW_MS })
    if (kind === 2) return this.tracker.subscribe(topic, this.#noop, { countOnly: true })
    return this.tracker.subscribe(topic, this.#noop, {
      diffWindowMs: WINDOW_MS,
      fetch: (_topic, presences) => presences,
    })
  }

  /** A shared entry that lives as long as its room, or until it is unregistered. */
  #createGame(topic: string): void {
    const name = `game-${this.#next}`
    const graceMs = this.#random() < 0.5 ? 0 : GRACE_MS
    const release = this.#random() < 0.8 ? { releaseWhenAlone: { topic, graceMs } } : {}
    this.tracker.names.create(name, release)
    this.tracker.track({ name }, topic, name, { round: 0 })
    this.#games.set(name, topic)
  }

  #update(): void {
    if (this.#live.length === 0) return
    const owner = this.#pick(this.#live)
    if (owner.suspended) return
    const topic = this.#pick(owner.topics)
    const key = `user-${owner.id}`
    try {
      this.tracker.update(owner.id, topic, key, (prev) => ({ ...prev, seen: this.#step }))
    } catch {
      // Rate limited: the bucket refills with time, as for a real client.
    }
    if (owner.leave !== 'silent') this.tracker.touch(owner.id)
    if (this.#random() < 0.05) this.#playGame()
    if (this.#random() < 0.05 && owner.leave === 'resume') this.#suspendAndResume(owner)
  }

  #playGame(): void {
    if (this.#games.size === 0) return
    const [name, topic] = this.#games.entries().next().value as [string, string]
    this.#games.delete(name)
    if (this.tracker.names.whereis(name) === undefined) return
    try {
      this.tracker.update({ name }, topic, name, (prev) => ({ round: Number(prev.round) + 1 }))
    } catch {
      // Rate limited: writes through a name count against its owner.
    }
    if (this.#random() < 0.3) this.tracker.names.unregister(name)
    else this.#games.set(name, topic)
  }

  #suspendAndResume(owner: Owner): void {
    this.tracker.suspend(owner.id, GRACE_MS * 10)
    owner.suspended = true
    queueMicrotask(() => {
      this.tracker.resume(owner.id)
      owner.suspended = false
    })
  }

  /** The owner's life ends, the way it was drawn to end. */
  #retire(owner: Owner): void {
    for (const unsubscribe of owner.unsubscribe) unsubscribe()
    this.cycles++
    const { id, topics } = owner
    if (owner.leave === 'untrack') {
      for (const topic of topics) this.tracker.untrack(id, topic, `user-${id}`)
    } else if (owner.leave === 'expireGrace') {
      this.tracker.suspend(id, GRACE_MS)
    } else if (owner.leave !== 'silent') {
      this.tracker.untrackAll(id)
    }
  }
}
