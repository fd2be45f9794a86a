/**
 * A seeded generator of numbers in [0, 1) (mulberry32): small, fast, and the same
 * sequence for the same seed. Pass it as a cluster's `random` option to make jitter
 * reproducible, or use it to drive a simulation.
 *
 * @example
 * ```ts
 * const random = seededRandom(42)
 * const tracker = new Tracker({ cluster: { transport, nodeId: 'a', random } })
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}
