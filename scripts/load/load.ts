/**
 * A whole load run: the demo server in its own process, the clients in this one, the
 * figures, and the checks. `run.ts` prints it; the smoke test asserts on it.
 */
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LimitOptions } from '../../src/limits.js'
import { type MemoryFigures, ServerProcess, type ServerStats } from './admin.js'
import { type CheckResult, checkRooms } from './check.js'
import { type DriveResult, Driver } from './driver.js'
import { type ProcessFigures, watchProcess } from './loop.js'
import type { LoadOptions } from './options.js'
import { Recorder } from './recorder.js'

export interface LoadResult {
  options: LoadOptions
  limits: LimitOptions
  serverPid: number
  drive: DriveResult
  recorder: Recorder
  memory: { before: MemoryFigures; peak: MemoryFigures; after: MemoryFigures }
  server: ServerStats
  generator: ProcessFigures
  check: CheckResult
  /** After every socket closed and the grace period passed: what the server still held. */
  leftover: { sockets: number; topics: number; entries: number }
  /** The machine's 1-minute load average before the run and at the end of the steady phase. */
  loadAverage: number[]
  passed: boolean
}

const SAMPLE_MS = 100
const CLOSE_WAIT_MS = 10_000
/** The demo forgets a dropped session 1 s after its grace period. */
const FORGET_MS = 1_000 + 500

/** The demo's limits, but a room may hold everyone the run puts in it, twice over. */
export function loadLimits(options: LoadOptions): LimitOptions {
  const perRoom = Math.ceil(options.connections / options.rooms)
  return { updatesPerSecond: 5, burst: 10, entriesPerOwner: 2, entriesPerTopic: perRoom * 2 + 2 }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const limits = loadLimits(options)
  const server = await ServerProcess.start({
    graceMs: options.graceMs,
    limits,
    sampleMs: SAMPLE_MS,
  })
  try {
    return await measure(options, limits, server)
  } finally {
    await server.stop()
  }
}

async function measure(
  options: LoadOptions,
  limits: LimitOptions,
  server: ServerProcess,
): Promise<LoadResult> {
  const recorder = new Recorder()
  const loadAverage = [loadavg()[0]!]
  const before = await server.call('memory')
  await server.call('resetPeak')
  const generator = watchProcess()
  const driver = new Driver(options, server.url, recorder)
  let peak = before
  let serverStats: ServerStats | undefined
  let generatorFigures: ProcessFigures | undefined
  const drive = await driver.run({
    steadyEnd: async () => {
      generatorFigures = generator.figures()
      generator.stop()
      loadAverage.push(loadavg()[0]!)
      serverStats = await server.call('stats')
      peak = await server.call('peak')
    },
  })

  const check = checkRooms(await server.call('state'), driver.rooms, driver.clients)
  driver.closeAll()
  const leftover = await afterEveryoneLeft(server, options.graceMs)
  const after = await server.call('memory')
  const stats = serverStats!
  const passed =
    check.passed &&
    leftover.entries + leftover.sockets === 0 &&
    recorder.missing.total === 0 &&
    recorder.flaps.seenLeaving === 0
  return {
    options,
    limits,
    serverPid: server.pid,
    drive,
    recorder,
    memory: { before, peak, after },
    server: stats,
    loadAverage,
    generator: generatorFigures!,
    check,
    leftover,
    passed,
  }
}

/** Waits for the server to see every socket close, then for the grace period to pass. */
async function afterEveryoneLeft(server: ServerProcess, graceMs: number) {
  const until = performance.now() + CLOSE_WAIT_MS
  while ((await server.call('state')).clients > 0 && performance.now() < until) await sleep(100)
  await sleep(graceMs + FORGET_MS)
  const state = await server.call('state')
  const topics = Object.values(state.rooms)
  let entries = 0
  for (const list of topics) for (const key of Object.keys(list)) entries += list[key]!.metas.length
  return { sockets: state.clients, topics: topics.length, entries }
}
