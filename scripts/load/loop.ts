/** How busy a process was: CPU, event-loop delay, and its longest stall. */
import { monitorEventLoopDelay } from 'node:perf_hooks'

export interface ProcessFigures {
  /** CPU time over wall time (1 = one core busy all along). */
  cpu: number
  /** Event-loop delay percentiles, in ms. */
  loopDelay: { p50: number; p99: number; max: number }
  /**
   * The longest the loop did not turn, and the CPU time the process got meanwhile: a
   * stall with little CPU is time the machine gave to other processes.
   */
  stall: { ms: number; cpuMs: number }
}

const RESOLUTION_MS = 10

/** Starts watching this process; `figures()` reports since then. */
export function watchProcess(): { figures(): ProcessFigures; stop(): void } {
  const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  loop.enable()
  const cpuFrom = process.cpuUsage()
  const wallFrom = performance.now()
  const stall = { ms: 0, cpuMs: 0 }
  let tick = { at: wallFrom, cpu: cpuFrom }
  const timer = setInterval(() => {
    const now = { at: performance.now(), cpu: process.cpuUsage() }
    if (now.at - tick.at > stall.ms) {
      stall.ms = now.at - tick.at
      stall.cpuMs = cpuMs(process.cpuUsage(tick.cpu))
    }
    tick = now
  }, RESOLUTION_MS)
  timer.unref()
  // A sample is the resolution plus the delay.
  const ms = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS)
  return {
    figures: () => ({
      cpu: cpuMs(process.cpuUsage(cpuFrom)) / (performance.now() - wallFrom),
      loopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
      stall: { ...stall },
    }),
    stop() {
      clearInterval(timer)
      loop.disable()
    },
  }
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000
}
