import type { Clock, TimerHandle } from '../clock.js'
import { describe, PresenceError } from '../errors.js'

/** Options of {@link ManualClock}. */
export interface ManualClockOptions {
  /**
   * The time the clock starts at, in milliseconds.
   * @default 0
   */
  now?: number
  /**
   * The most timers one call of `advance`, `flush` or `runAll` may fire before it gives
   * up, so a timer that keeps rescheduling itself at the same instant fails the test
   * instead of hanging it.
   * @default 100_000
   */
  maxTimers?: number
}

/** The defaults of {@link ManualClockOptions}. */
export const MANUAL_CLOCK_DEFAULTS = {
  /** @see ManualClockOptions.now */
  now: 0,
  /** @see ManualClockOptions.maxTimers */
  maxTimers: 100_000,
} as const

/** The handle {@link ManualClock.setTimeout} returns. */
export interface ManualTimerHandle {
  /** A number unique to this timer within its clock. */
  readonly id: number
}

interface Timer {
  readonly handle: ManualTimerHandle
  readonly due: number
  readonly fn: () => void
}

// Captured at load, so a test that installs fake timers later cannot stall the clock.
const hostSetImmediate = globalThis.setImmediate
const hostSetTimeout = globalThis.setTimeout
const realSetImmediate: (fn: () => void) => void =
  typeof hostSetImmediate === 'function'
    ? (fn) => hostSetImmediate(fn)
    : (fn) => hostSetTimeout(fn, 0)

/**
 * Lets every pending microtask, and every microtask those queue, run: one macrotask turn.
 * `MemoryNetwork` delivers on microtasks, so after this every message sent so far has
 * arrived and its handlers' synchronous and promise follow-ups have run.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve))
}

/**
 * A {@link Clock} that moves only when told to, for deterministic tests of heartbeats,
 * grace periods and timeouts. Timers fire in order of due time, ties in the order they
 * were set. Between two timers, and after the last, the clock lets pending promise work
 * run, so messages a timer sends through a `MemoryNetwork` are delivered, and their
 * handlers have run, before the next timer fires.
 *
 * Calls of `advance`, `flush`, `next` and `runAll` that overlap run one after another.
 * If a timer throws, the call that fired it rejects with that error, leaving the clock at
 * that timer's due time and the other timers in place.
 *
 * @example
 * ```ts
 * const clock = new ManualClock()
 * const network = new MemoryNetwork()
 * const a = new Tracker({ clock, cluster: { transport: network.transport('a'), nodeId: 'a' } })
 * const b = new Tracker({ clock, cluster: { transport: network.transport('b'), nodeId: 'b' } })
 * a.track('socket-1', 'room:1', 'alice', {})
 * await clock.advance(1500) // heartbeats fire; b has heard from a
 * expect(b.list('room:1')).toHaveProperty('alice')
 * ```
 */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  readonly #maxTimers: number
  readonly #heap: Timer[] = []
  readonly #live = new Map<number, Timer>()
  #queue: Promise<void> = Promise.resolve()

  constructor(options: ManualClockOptions = {}) {
    this.#now = checkTime('now', options.now ?? MANUAL_CLOCK_DEFAULTS.now)
    this.#maxTimers = options.maxTimers ?? MANUAL_CLOCK_DEFAULTS.maxTimers
  }

  /** The current time, in milliseconds. */
  now(): number {
    return this.#now
  }

  /**
   * Schedules `fn` at `now() + ms`. A negative, NaN or infinite `ms` counts as 0 (the
   * timer fires at the next `flush` or `advance`), as it does for host timers.
   */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0
    const timer: Timer = { handle: { id: ++this.#seq }, due: this.#now + delay, fn }
    this.#live.set(timer.handle.id, timer)
    heapPush(this.#heap, timer)
    return timer.handle
  }

  /** Cancels a timer. A handle that fired, was cleared or is not this clock's is ignored. */
  clearTimeout(handle: TimerHandle): void {
    const id = (handle as Partial<ManualTimerHandle> | null)?.id
    if (typeof id === 'number' && this.#live.get(id)?.handle === handle) this.#live.delete(id)
  }

  /** How many timers are set and have neither fired nor been cleared. */
  pending(): number {
    return this.#live.size
  }

  /** The due time of the next timer, or undefined when none is pending. */
  nextAt(): number | undefined {
    return this.#peek()?.due
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way (including
   * those set meanwhile), in order, and letting promise work settle after each.
   */
  advance(ms: number): Promise<void> {
    if (!(Number.isFinite(ms) && ms >= 0)) {
      return Promise.reject(
        new PresenceError(
          'invalid_argument',
          `ManualClock.advance expects a finite number of ms >= 0, got ${describe(ms)}`,
        ),
      )
    }
    return this.#enqueue(() => this.#runUntil(() => this.#now + ms))
  }

  /** Delivers what is in flight and fires the timers already due, without moving time. */
  flush(): Promise<void> {
    return this.advance(0)
  }

  /**
   * Moves time to the next timer and fires every timer due then. Resolves `false` when no
   * timer was pending (after letting promise work settle).
   */
  next(): Promise<boolean> {
    return this.#enqueue(async () => {
      await settle()
      const due = this.nextAt()
      if (due === undefined) return false
      await this.#runUntil(() => due)
      return true
    })
  }

  /**
   * Fires timers, moving time forward, until none is pending, so only for code whose
   * timers stop by themselves: a cluster's heartbeats never do, use `advance` there.
   * Rejects with a `PresenceError` of code `timeout` after `limit` timers.
   *
   * @param limit - the most timers to fire; defaults to the clock's `maxTimers`
   */
  runAll(limit: number = this.#maxTimers): Promise<void> {
    return this.#enqueue(async () => {
      await settle()
      await this.#fireDue(Number.POSITIVE_INFINITY, limit, 'runAll')
    })
  }

  #enqueue<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(run)
    this.#queue = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }

  async #runUntil(target: () => number): Promise<void> {
    await settle()
    const until = target()
    await this.#fireDue(until, this.#maxTimers, 'advance')
    this.#now = Math.max(this.#now, until)
    await settle()
  }

  async #fireDue(until: number, limit: number, method: string): Promise<void> {
    let fired = 0
    for (let timer = this.#peek(); timer && timer.due <= until; timer = this.#peek()) {
      if (++fired > limit) throw tooManyTimers(limit, method)
      heapPop(this.#heap)
      await this.#fire(timer)
    }
  }

  async #fire(timer: Timer): Promise<void> {
    this.#now = Math.max(this.#now, timer.due)
    this.#live.delete(timer.handle.id)
    timer.fn()
    await settle()
  }

  /** The next live timer, dropping cleared ones from the top of the heap. */
  #peek(): Timer | undefined {
    let top = this.#heap[0]
    while (top && !this.#live.has(top.handle.id)) {
      heapPop(this.#heap)
      top = this.#heap[0]
    }
    return top
  }
}

function checkTime(name: string, value: number): number {
  if (Number.isFinite(value)) return value
  throw new PresenceError(
    'invalid_argument',
    `ManualClock option ${name} must be a finite number, got ${describe(value)}`,
  )
}

function tooManyTimers(limit: number, method: string): PresenceError {
  return new PresenceError(
    'timeout',
    `ManualClock.${method} fired more than ${limit} timers: a timer keeps rescheduling ` +
      'itself. Use advance(ms) for periodic timers, or raise the limit.',
  )
}

function before(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.handle.id < b.handle.id)
}

function heapPush(heap: Timer[], timer: Timer): void {
  heap.push(timer)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (!before(heap[i]!, heap[parent]!)) break
    swap(heap, i, parent)
    i = parent
  }
}

function heapPop(heap: Timer[]): void {
  const last = heap.pop()
  if (!last || heap.length === 0) return
  heap[0] = last
  let i = 0
  for (;;) {
    const left = 2 * i + 1
    const right = left + 1
    let least = i
    if (left < heap.length && before(heap[left]!, heap[least]!)) least = left
    if (right < heap.length && before(heap[right]!, heap[least]!)) least = right
    if (least === i) return
    swap(heap, i, least)
    i = least
  }
}

function swap(heap: Timer[], i: number, j: number): void {
  const t = heap[i]!
  heap[i] = heap[j]!
  heap[j] = t
}
