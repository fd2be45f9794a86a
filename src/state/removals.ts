/**
 * The own replica's recent removals, so that a transfer "since clock k" can be sent as a
 * delta (what was added and removed since k) instead of the whole state. Bounded: when
 * full, the older half is forgotten and a transfer from before that point is a full one.
 * With room for none, every transfer is a full one.
 */
export class RemovalLog {
  /** Pairs, flat: event clock, then the clock of the removed dot; in event order. */
  #pairs: number[] = []
  /** Every removal with an event clock above this is in the log. */
  #floor = 0
  readonly #maxRemovals: number

  constructor(maxRemovals: number) {
    this.#maxRemovals = maxRemovals
  }

  record(eventClock: number, removedClock: number): void {
    if (this.#maxRemovals === 0) {
      this.#floor = eventClock
      return
    }
    this.#pairs.push(eventClock, removedClock)
    if (this.#pairs.length > this.#maxRemovals * 2) this.#forgetOlderHalf()
  }

  /** Whether every removal after `since` is known. */
  covers(since: number): boolean {
    return since >= this.#floor
  }

  /** Removed dots at or below `since` whose removal happened after `since`. */
  removedSince(since: number): number[] {
    const pairs = this.#pairs
    const out: number[] = []
    for (let i = this.#firstAfter(since); i < pairs.length; i += 2) {
      const removed = pairs[i + 1]!
      if (removed <= since) out.push(removed)
    }
    return out
  }

  /** The index of the first pair whose event clock is above `since` (binary search). */
  #firstAfter(since: number): number {
    let low = 0
    let high = this.#pairs.length / 2
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.#pairs[mid * 2]! <= since) low = mid + 1
      else high = mid
    }
    return low * 2
  }

  #forgetOlderHalf(): void {
    const drop = Math.floor(this.#pairs.length / 4) * 2
    this.#floor = this.#pairs[drop - 2]!
    this.#pairs = this.#pairs.slice(drop)
  }
}
