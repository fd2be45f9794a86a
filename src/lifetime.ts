import type { Clock, TimerHandle } from './clock.js'
import { describe, PresenceError } from './errors.js'
import { STANDALONE_PREFIX } from './state/set.js'

/** @internal What owner lifetimes need of the tracker. */
export interface LifetimeHost {
  clock: Clock
  /** Whether the owner holds an entry on this node. */
  holds(owner: string): boolean
  /** The owner is gone: its entries leave with origin `timeout`. */
  expire(owner: string): void
}

/**
 * @internal Suspended owners (a dropped socket within its grace period) and, with
 * `ownerTtl`, owners that must be touched to stay present.
 */
export class Lifetimes {
  readonly #host: LifetimeHost
  readonly #ttl: number | undefined
  readonly #suspended = new Map<string, TimerHandle>()
  readonly #lastSeen = new Map<string, number>()
  #sweepTimer: TimerHandle | undefined

  constructor(host: LifetimeHost, ownerTtl: number | undefined) {
    if (ownerTtl !== undefined && !(typeof ownerTtl === 'number' && ownerTtl > 0)) {
      throw new PresenceError(
        'invalid_argument',
        `Expected ownerTtl to be a number of milliseconds above 0, got ${describe(ownerTtl)}.`,
      )
    }
    this.#host = host
    this.#ttl = ownerTtl
  }

  suspend(owner: string, graceMs: number): void {
    if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0) {
      throw new PresenceError(
        'invalid_argument',
        `Expected graceMs to be a finite number >= 0, got ${describe(graceMs)}.`,
        { owner },
      )
    }
    if (!this.#host.holds(owner)) return
    this.#cancel(owner)
    const timer = this.#host.clock.setTimeout(() => {
      this.#suspended.delete(owner)
      this.#host.expire(owner)
    }, graceMs)
    this.#suspended.set(owner, timer)
  }

  resume(owner: string): boolean {
    const resumed = this.#cancel(owner)
    if (resumed) this.touch(owner)
    return resumed && this.#host.holds(owner)
  }

  isSuspended(owner: string): boolean {
    return this.#suspended.has(owner)
  }

  /**
   * The owner showed a sign of life (any write counts as one). A standalone name's owner
   * belongs to the tracker, not to a connection, so the TTL never applies to it.
   */
  touch(owner: string): void {
    if (this.#ttl === undefined || owner.startsWith(STANDALONE_PREFIX)) return
    if (!this.#host.holds(owner)) return
    this.#lastSeen.set(owner, this.#host.clock.now())
    this.#sweepTimer ??= this.#host.clock.setTimeout(() => this.#sweep(), this.#ttl / 2)
  }

  /** The owner holds nothing on this node any more. */
  gone(owner: string): void {
    this.#cancel(owner)
    this.#lastSeen.delete(owner)
  }

  /** Expires owners silent for longer than the TTL: between 1x and 1.5x it after a touch. */
  #sweep(): void {
    this.#sweepTimer = undefined
    const deadline = this.#host.clock.now() - this.#ttl!
    for (const [owner, seen] of [...this.#lastSeen]) {
      if (seen > deadline || this.#suspended.has(owner)) continue
      this.#lastSeen.delete(owner)
      this.#host.expire(owner)
    }
    if (this.#lastSeen.size > 0) {
      this.#sweepTimer = this.#host.clock.setTimeout(() => this.#sweep(), this.#ttl! / 2)
    }
  }

  #cancel(owner: string): boolean {
    const timer = this.#suspended.get(owner)
    if (timer === undefined) return false
    this.#host.clock.clearTimeout(timer)
    this.#suspended.delete(owner)
    return true
  }
}
