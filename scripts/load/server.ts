/**
 * The load test's server process: the planning-poker demo on a free port of 127.0.0.1,
 * answering admin calls from the runner over IPC (see admin.ts). Run by the runner as
 * `node --expose-gc --import tsx scripts/load/server.ts '<LaunchOptions as JSON>'`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import { startServer } from '../../examples/poker/server.js'
import type { LogLevel } from '../../src/types.js'
import type {
  AdminCall,
  AdminCalls,
  AdminRequest,
  LauncherMessage,
  LaunchOptions,
  MemoryFigures,
} from './admin.js'
import { watchProcess } from './loop.js'

const FIRST_LOGS = 5

const options = JSON.parse(process.argv[2] ?? '{}') as LaunchOptions
const gc = globalThis.gc
if (!process.send || !gc) {
  throw new Error('Run me from scripts/load/run.ts: I need an IPC channel and --expose-gc.')
}

const logs: Record<string, number> = {}
const firstLogs: string[] = []
const logger = (level: LogLevel, message: string, data?: object) => {
  logs[level] = (logs[level] ?? 0) + 1
  if ((level === 'warn' || level === 'error') && firstLogs.length < FIRST_LOGS) {
    firstLogs.push(`${level}: ${message} ${describe(data)}`)
  }
}

const server = await startServer({
  port: 0,
  host: '127.0.0.1',
  graceMs: options.graceMs,
  limits: options.limits,
  logger,
})

let peak = current()
let watch = watchProcess()
const sampler = setInterval(() => {
  const now = current()
  peak = { heapUsed: Math.max(peak.heapUsed, now.heapUsed), rss: Math.max(peak.rss, now.rss) }
}, options.sampleMs)

const calls: { [C in AdminCall]: () => AdminCalls[C] | Promise<AdminCalls[C]> } = {
  async memory() {
    gc()
    await nextTurn()
    gc()
    return current()
  },
  peak: () => peak,
  resetPeak() {
    peak = current()
    watch.stop()
    watch = watchProcess()
    return peak
  },
  state() {
    const rooms: AdminCalls['state']['rooms'] = {}
    for (const topic of server.tracker.topics()) rooms[topic] = server.tracker.list(topic)
    return { clients: server.clients(), rooms }
  },
  stats: () => ({ ...watch.figures(), logs, firstLogs }),
  async close() {
    await shutdown()
    return null
  },
}

let closing: Promise<void> | undefined
function shutdown(): Promise<void> {
  closing ??= (async () => {
    clearInterval(sampler)
    watch.stop()
    await server.close()
  })()
  return closing
}

process.on('message', (request: AdminRequest) => {
  Promise.resolve()
    .then(() => calls[request.call]())
    .then(
      (result) => reply({ type: 'reply', id: request.id, result }),
      (error: unknown) => reply({ type: 'reply', id: request.id, error: String(error) }),
    )
    .finally(() => {
      if (request.call === 'close') process.disconnect()
    })
})
// The runner went away without saying goodbye: do not outlive it.
process.on('disconnect', () => {
  void shutdown().finally(() => process.exit(0))
})

reply({ type: 'ready', url: server.url, pid: process.pid })

function reply(message: LauncherMessage): void {
  if (process.connected) process.send!(message)
}

function current(): MemoryFigures {
  const { heapUsed, rss } = process.memoryUsage()
  return { heapUsed, rss }
}

function describe(data: object | undefined): string {
  if (!data) return ''
  try {
    return JSON.stringify(data, (_key, value) =>
      value instanceof Error ? `${value.name}: ${value.message}` : value,
    ).slice(0, 300)
  } catch {
    return '[unprintable]'
  }
}
