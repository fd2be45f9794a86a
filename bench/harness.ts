/**
 * The benchmark harness: every figure is measured beside a baseline doing the same work
 * in the same run, because these machines are noisy and only a ratio travels.
 */

/** One line of the results table. */
export interface BenchRow {
  /** The section it belongs to, e.g. `core`, `client`, `cluster`. */
  group: string
  /** What was measured, e.g. `track`, `list (10,000 entries)`. */
  name: string
  /** rollcall's figure. */
  value: number
  /** The baseline's figure, measured in the same run. */
  baseline: number
  /** What the baseline is, e.g. `Map`, `phoenix 1.8.16`. */
  baselineLabel: string
  /** The unit, e.g. `ops/s`, `bytes/entry`, `ms`. */
  unit: string
  /** Whether more is better (ops/s) or less is (ms, bytes). */
  higherIsBetter: boolean
}

/** Runs `fn` repeatedly for about `ms` milliseconds and returns operations per second. */
export function opsPerSecond(fn: (i: number) => void, ms = 300, batch = 100): number {
  for (let i = 0; i < batch * 5; i++) fn(i) // warm up
  let ops = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) fn(ops + i)
    ops += batch
    elapsed = performance.now() - start
  }
  return (ops * 1000) / elapsed
}

/** Times one call of `fn` (after `setup`), the median over `runs`, in milliseconds. */
export function medianMs(setup: () => () => void, runs = 7): number {
  const times: number[] = []
  for (let r = 0; r < runs; r++) {
    const fn = setup()
    const start = performance.now()
    fn()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}

/** Heap bytes retained by what `build` returns, per item, after forced GCs. */
export function bytesPer(count: number, build: (n: number) => unknown): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run the benchmarks with node --expose-gc (npm run bench does)')
  gc()
  gc()
  const before = process.memoryUsage().heapUsed
  const kept = build(count)
  gc()
  gc()
  const after = process.memoryUsage().heapUsed
  if (kept === undefined) throw new Error('unreachable: keeps the built value alive')
  return (after - before) / count
}

/** A percentile of a list of numbers (p in 0..100). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, index)]!
}
