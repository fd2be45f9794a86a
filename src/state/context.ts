/**
 * The causal context: which dots (replica, clock) a replica has seen. Per replica it is a
 * contiguous prefix `1..max` plus a cloud of clocks seen beyond a gap, so that deltas can
 * be merged in any order and a gap is visible as a non-empty cloud.
 */

/** What one replica's dots look like in a delta: `(from, to]` plus single clocks. */
export interface DotRange {
  /** Clocks above `from` ... */
  from: number
  /** ... up to and including `to` are covered. */
  to: number
  /** Single clocks covered besides the range (removed dots older than `from`). */
  extra: number[]
}

/** @internal The seen clocks of one replica. */
export class ReplicaContext {
  /** Every clock in `1..max` has been seen. */
  max = 0
  /** Clocks seen above `max + 1`, waiting for the gap to close. */
  #cloud: Set<number> | undefined

  has(clock: number): boolean {
    return clock <= this.max || (this.#cloud?.has(clock) ?? false)
  }

  /** Whether a gap is open: something above `max` was seen but not all below it. */
  get hasGap(): boolean {
    return this.#cloud !== undefined && this.#cloud.size > 0
  }

  /** The highest clock seen at all. */
  get top(): number {
    if (!this.#cloud) return this.max
    let top = this.max
    for (const clock of this.#cloud) if (clock > top) top = clock
    return top
  }

  add(clock: number): void {
    if (clock <= this.max) return
    if (clock === this.max + 1) {
      this.max = clock
      this.#closeGap()
      return
    }
    this.#cloud ??= new Set()
    this.#cloud.add(clock)
  }

  addRange(range: DotRange): void {
    if (range.from <= this.max && range.to > this.max) {
      this.max = range.to
      this.#closeGap()
    } else {
      for (let clock = range.from + 1; clock <= range.to; clock++) this.add(clock)
    }
    for (const clock of range.extra) this.add(clock)
  }

  #closeGap(): void {
    const cloud = this.#cloud
    if (!cloud) return
    for (const clock of cloud) if (clock <= this.max) cloud.delete(clock)
    while (cloud.delete(this.max + 1)) this.max++
    if (cloud.size === 0) this.#cloud = undefined
  }
}
