/** Counters and latency samples of a load run. */

export interface Summary {
  n: number
  p50: number
  p99: number
  max: number
}

/** Numbers kept in a growing Float64Array: a million samples cost 8 MB. */
export class Samples {
  #data = new Float64Array(1024)
  #n = 0

  add(value: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2)
      next.set(this.#data)
      this.#data = next
    }
    this.#data[this.#n++] = value
  }

  get count(): number {
    return this.#n
  }

  /** Nearest-rank percentiles; undefined without samples. */
  summary(): Summary | undefined {
    if (this.#n === 0) return undefined
    const sorted = this.#data.slice(0, this.#n).sort()
    return {
      n: this.#n,
      p50: rank(sorted, 0.5),
      p99: rank(sorted, 0.99),
      max: sorted[this.#n - 1]!,
    }
  }
}

function rank(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

/** Counts by name. */
export class Tally {
  readonly #counts = new Map<string, number>()

  add(name: string, n = 1): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + n)
  }

  get(name: string): number {
    return this.#counts.get(name) ?? 0
  }

  get total(): number {
    let total = 0
    for (const n of this.#counts.values()) total += n
    return total
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.#counts].sort((a, b) => b[1] - a[1]))
  }
}

/** A seeded generator, so a run's choices can be replayed. */
export { seededRandom as seeded } from '../../src/testing/random.js'
