/**
 * The launcher's admin channel. The runner forks scripts/load/server.ts with an IPC pipe
 * and asks it, by request id, for memory figures and the tracker's rooms; nothing listens
 * on a port for this. The demo server itself listens on 127.0.0.1 only.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { RoomMeta } from '../../examples/poker/protocol.js'
import type { LimitOptions } from '../../src/limits.js'
import type { PresenceState } from '../../src/types.js'
import type { ProcessFigures } from './loop.js'

export interface LaunchOptions {
  graceMs: number
  limits: LimitOptions
  /** How often the server samples its own memory, for the peak. */
  sampleMs: number
}

export interface MemoryFigures {
  heapUsed: number
  rss: number
}

export interface ServerState {
  /** Open sockets, as `server.clients()` counts them. */
  clients: number
  /** `tracker.list(topic)` of every topic that holds an entry. */
  rooms: Record<string, PresenceState<RoomMeta>>
}

export interface ServerStats extends ProcessFigures {
  /** The tracker's and the demo's log calls, by level. */
  logs: Record<string, number>
  /** The first few warn and error messages. */
  firstLogs: string[]
}

/** What each admin call answers. */
export interface AdminCalls {
  /** `process.memoryUsage()` after a forced full GC. */
  memory: MemoryFigures
  /** The highest heapUsed and rss sampled since the last `resetPeak`. */
  peak: MemoryFigures
  /** Starts a new window for `peak` and `stats`; answers the current memory figures. */
  resetPeak: MemoryFigures
  state: ServerState
  stats: ServerStats
  /** Closes the demo server; the launcher exits after answering. */
  close: null
}

export type AdminCall = keyof AdminCalls

export interface AdminRequest {
  id: number
  call: AdminCall
}

export type LauncherMessage =
  | { type: 'ready'; url: string; pid: number }
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'reply'; id: number; error: string }

const LAUNCHER = fileURLToPath(new URL('./server.ts', import.meta.url))
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const READY_MS = 30_000
const CALL_MS = 30_000
const EXIT_MS = 5_000

/** LOAD_SERVER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=prof" profiles the server, say. */
function extraNodeFlags(): string[] {
  return (process.env.LOAD_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean)
}

/** The demo server in its own process: `node --expose-gc --import tsx server.ts`. */
export class ServerProcess {
  readonly url: string
  readonly pid: number
  readonly #child: ChildProcess
  readonly #waiting = new Map<number, (message: LauncherMessage) => void>()
  #nextId = 0

  private constructor(child: ChildProcess, url: string, pid: number) {
    this.#child = child
    this.url = url
    this.pid = pid
    child.on('message', (message: LauncherMessage) => {
      if (message.type !== 'reply') return
      this.#waiting.get(message.id)?.(message)
      this.#waiting.delete(message.id)
    })
  }

  static async start(options: LaunchOptions): Promise<ServerProcess> {
    const child = fork(LAUNCHER, [JSON.stringify(options)], {
      cwd: REPO,
      execArgv: ['--expose-gc', '--import', 'tsx', ...extraNodeFlags()],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const ready = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not start')), READY_MS)
      child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)))
      child.on('message', (message: LauncherMessage) => {
        if (message.type !== 'ready') return
        clearTimeout(timer)
        resolve(message)
      })
    }).catch((error: unknown) => {
      child.kill('SIGKILL')
      throw error
    })
    return new ServerProcess(child, ready.url, ready.pid)
  }

  /** One admin call; rejects after 30 s or when the launcher reports an error. */
  call<C extends AdminCall>(call: C): Promise<AdminCalls[C]> {
    const id = ++this.#nextId
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        reject(new Error(`the server did not answer "${call}" in ${CALL_MS} ms`))
      }, CALL_MS)
      this.#waiting.set(id, (message) => {
        clearTimeout(timer)
        if ('error' in message) reject(new Error(`the server failed "${call}": ${message.error}`))
        else if (message.type === 'reply') resolve(message.result as AdminCalls[C])
      })
      this.#child.send({ id, call } satisfies AdminRequest)
    })
  }

  /** Closes the server and waits for its process to exit (killed after 5 s). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()))
    await this.call('close').catch(() => undefined)
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), EXIT_MS)
    await exited
    clearTimeout(timer)
  }
}
