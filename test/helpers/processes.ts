/**
 * Child processes for the multi-process tests: each runs `test/cluster-redis/worker.ts`,
 * a Tracker in a Redis cluster, driven by JSON lines. Waits are bounded polls of real
 * processes, never fixed sleeps.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** The longest a worker may take to answer one command (starting one takes longer). */
const REQUEST_TIMEOUT_MS = 15_000

const WORKER = fileURLToPath(new URL('../cluster-redis/worker.ts', import.meta.url))

/** How each worker joins the cluster. */
export interface WorkerOptions {
  url: string
  prefix: string
  nodeId: string
  broadcastPeriod: number
  downPeriod: number
}

/** A failed request: the code the tracker threw in the worker. */
export class WorkerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

interface Reply {
  id?: number
  event?: string
  ok?: boolean
  value?: unknown
  code?: string
  message?: string
}

/** One worker process, with a request/reply channel over its stdin and stdout. */
export class Worker {
  readonly nodeId: string
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  readonly #exited: Promise<number | null>
  #ready: Promise<void>
  #stderr = ''
  #nextId = 1

  constructor(options: WorkerOptions) {
    this.nodeId = options.nodeId
    this.#child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      env: {
        ...process.env,
        REDIS_URL: options.url,
        PREFIX: options.prefix,
        NODE_ID: options.nodeId,
        BROADCAST_PERIOD: String(options.broadcastPeriod),
        DOWN_PERIOD: String(options.downPeriod),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString()
    })
    this.#exited = new Promise((resolve) => this.#child.on('exit', (code) => resolve(code)))
    this.#ready = new Promise((resolve, reject) => {
      createInterface({ input: this.#child.stdout! }).on('line', (line) => {
        const reply = JSON.parse(line) as Reply
        if (reply.event === 'ready') resolve()
        else this.#settle(reply)
      })
      void this.#exited.then((code) => {
        const error = new Error(`worker ${this.nodeId} exited (${code}): ${this.#stderr}`)
        reject(error)
        for (const pending of this.#pending.values()) pending.reject(error)
        this.#pending.clear()
      })
    })
    this.#ready.catch(() => undefined)
  }

  /** Resolves once the worker's tracker is ready, or fails with its stderr. */
  ready(): Promise<void> {
    return this.#ready
  }

  /**
   * Sends one command; resolves with its value, or rejects with a {@link WorkerError}, or
   * with a plain error when no answer came within `timeoutMs`.
   */
  request<T = unknown>(
    cmd: string,
    args: Record<string, unknown> = {},
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<T> {
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`worker ${this.nodeId} did not answer ${cmd} within ${timeoutMs} ms`))
      }, timeoutMs)
      const done =
        <A extends unknown[]>(fn: (...args: A) => void) =>
        (...args: A) => {
          clearTimeout(timer)
          fn(...args)
        }
      this.#pending.set(id, {
        resolve: done(resolve as (v: unknown) => void),
        reject: done(reject),
      })
      this.#child.stdin!.write(`${JSON.stringify({ id, cmd, ...args })}\n`)
    })
  }

  /** Kills the process as a crash would: no goodbye. */
  async kill(): Promise<void> {
    this.#child.kill('SIGKILL')
    await this.#exited
  }

  /** Closes the tracker gracefully (goodbye) and waits for the process to exit. */
  async close(): Promise<void> {
    await this.request('close')
    await this.#exited
  }

  /** Ends the process whatever state it is in; for cleanup after a test. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    this.#child.kill('SIGKILL')
    await this.#exited
  }

  #settle(reply: Reply): void {
    const pending = this.#pending.get(reply.id!)
    if (!pending) return
    this.#pending.delete(reply.id!)
    if (reply.ok) pending.resolve(reply.value)
    else pending.reject(new WorkerError(reply.code ?? 'error', reply.message ?? ''))
  }
}

/**
 * Polls `probe` until it returns a value `done` accepts, at most `timeoutMs`. Resolves
 * with that value; rejects with the last one seen, so a failure says what was there.
 */
export async function poll<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 10_000, intervalMs = 25 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: T = await probe()
  while (!done(last)) {
    if (Date.now() > deadline) {
      throw new Error(`still not there after ${timeoutMs} ms: ${JSON.stringify(last)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
    last = await probe()
  }
  return last
}
