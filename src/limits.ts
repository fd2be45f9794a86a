import type { Clock, TimerHandle } from './clock.js'
import { describe, PresenceError } from './errors.js'

/**
 * Limits against a misbehaving client. Each is off unless set; each refusal throws its
 * own `PresenceError` code and changes nothing.
 */
export interface LimitOptions {
  /**
   * Tracks and updates per owner per second, as a token bucket (`rate_limited`). Writes
   * through a name count against `as` when given, else against the name's owner.
   */
  updatesPerSecond?: number
  /**
   * How many writes an owner may make at once before the rate applies.
   * @default updatesPerSecond
   */
  burst?: number
  /** Entries one owner may hold on this node (`owner_full`). */
  entriesPerOwner?: number
  /** Entries one topic may hold, counted over the cluster (`topic_full`). */
  entriesPerTopic?: number
}

interface Bucket {
  tokens: number
  at: number
}

/** Buckets kept before full ones (idle writers) are swept out. */
const SWEEP_AT = 10_000

/** @internal Applies {@link LimitOptions}. */
export class Limits {
  readonly #options: LimitOptions
  readonly #clock: Clock
  readonly #buckets = new Map<string, Bucket>()
  /** Writers that left before their bucket refilled: it goes once it has. */
  readonly #leaving = new Set<string>()
  #leavingTimer: TimerHandle | undefined
  readonly #rate: number
  readonly #burst: number

  constructor(options: LimitOptions, clock: Clock) {
    for (const name of ['updatesPerSecond', 'burst', 'entriesPerOwner', 'entriesPerTopic']) {
      const value = options[name as keyof LimitOptions]
      if (value !== undefined && !(typeof value === 'number' && value > 0)) {
        throw new PresenceError(
          'invalid_argument',
          `Expected limits.${name} to be a number above 0, got ${describe(value)}.`,
        )
      }
    }
    this.#options = options
    this.#clock = clock
    this.#rate = options.updatesPerSecond ?? 0
    this.#burst = options.burst ?? this.#rate
  }

  /** Takes a token for a write by `writer`, or throws `rate_limited`. */
  takeWrite(writer: string, fields: { topic: string; key: string }): void {
    if (this.#rate === 0) return
    const now = this.#clock.now()
    const bucket = this.#buckets.get(writer) ?? { tokens: this.#burst, at: now }
    const tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) * this.#rate) / 1000)
    if (tokens < 1) {
      throw new PresenceError(
        'rate_limited',
        `Expected at most ${this.#rate} writes per second from owner "${writer}" ` +
          `(burst ${this.#burst}); slow down and retry later.`,
        { ...fields, owner: writer },
      )
    }
    bucket.tokens = tokens - 1
    bucket.at = now
    if (this.#leaving.size > 0) this.#leaving.delete(writer)
    if (!this.#buckets.has(writer)) this.#add(writer, bucket, now)
  }

  /** Throws `owner_full` or `topic_full` when one more entry would pass a limit. */
  checkTrack(owner: string, owned: number, topicSize: number, topic: string, key: string): void {
    const { entriesPerOwner, entriesPerTopic } = this.#options
    if (entriesPerOwner !== undefined && owned >= entriesPerOwner) {
      throw new PresenceError(
        'owner_full',
        `Expected owner "${owner}" to hold at most ${entriesPerOwner} entries, ` +
          'and it holds that many already. Untrack one first.',
        { topic, key, owner },
      )
    }
    if (entriesPerTopic !== undefined && topicSize >= entriesPerTopic) {
      throw new PresenceError(
        'topic_full',
        `Expected topic "${topic}" to hold at most ${entriesPerTopic} entries, ` +
          'and it holds that many already.',
        { topic, key, owner },
      )
    }
  }

  /**
   * Forgets an owner's bucket (it left), once the bucket has refilled: forgetting a spent
   * one would let a client reset its rate by untracking and tracking again.
   */
  forget(writer: string): void {
    const bucket = this.#buckets.get(writer)
    if (!bucket) return
    if (this.#refilled(bucket, this.#clock.now())) {
      this.#buckets.delete(writer)
      return
    }
    this.#leaving.add(writer)
    this.#leavingTimer ??= this.#clock.setTimeout(() => this.#forgetLeft(), this.#refillMs())
  }

  /** How long an empty bucket takes to refill. */
  #refillMs(): number {
    return Math.ceil((this.#burst / this.#rate) * 1000)
  }

  /** Drops the buckets of writers that left, once refilled; waits again for the others. */
  #forgetLeft(): void {
    this.#leavingTimer = undefined
    const now = this.#clock.now()
    for (const writer of this.#leaving) {
      const bucket = this.#buckets.get(writer)
      if (bucket && !this.#refilled(bucket, now)) continue
      this.#buckets.delete(writer)
      this.#leaving.delete(writer)
    }
    if (this.#leaving.size === 0) return
    this.#leavingTimer = this.#clock.setTimeout(() => this.#forgetLeft(), this.#refillMs())
  }

  #add(writer: string, bucket: Bucket, now: number): void {
    if (this.#buckets.size >= SWEEP_AT) this.#sweep(now)
    this.#buckets.set(writer, bucket)
  }

  /** Drops buckets that have refilled: their writers were idle long enough to start over. */
  #sweep(now: number): void {
    for (const [writer, bucket] of this.#buckets) {
      if (this.#refilled(bucket, now)) this.#buckets.delete(writer)
    }
  }

  #refilled(bucket: Bucket, now: number): boolean {
    return bucket.tokens + ((now - bucket.at) * this.#rate) / 1000 >= this.#burst
  }
}
