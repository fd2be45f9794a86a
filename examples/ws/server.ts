/**
 * rollcall over `ws`. Run `npx tsx examples/ws/server.ts`, then open
 * http://localhost:3001 in two tabs (add `?user=alice` to pick a name).
 *
 * One WebSocket connection is one owner. It tracks its user in the room named in its URL,
 * is sent that room's `presence_state` and then a `presence_diff` per change, and may set
 * its own status, and nobody else's. A real app takes the user from its session, never
 * from the URL. In your app, import from 'rollcall' instead of '../../src/index.js'.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type RawData, type WebSocket, WebSocketServer } from 'ws'
import { PresenceError, Tracker } from '../../src/index.js'
import { notFound, type Page, servePage } from './browser.js'
import type { Status } from './page-kit.js'

export type { Status } from './page-kit.js'

/** Options of {@link start}. */
export interface WsExampleOptions {
  /** The port to listen on; 0 picks a free one. Default 3001. */
  port?: number
  /** The tracker to use; by default one of the example's own, closed with the server. */
  tracker?: Tracker<Status>
  /** How often sockets are pinged; a pong is their sign of life. Default 10 s. */
  pingIntervalMs?: number
}

/** A running example server. */
export interface RunningServer {
  /** `http://localhost:<port>`; the WebSocket endpoint is `/ws` on it. */
  url: string
  tracker: Tracker<Status>
  /** Closes every socket and the server, and the tracker if the example made it. */
  close(): Promise<void>
}

const PAGE: Page = {
  title: 'rollcall + ws',
  script: fileURLToPath(new URL('./page.ts', import.meta.url)),
}

/** A tracker that drops owners silent for 30 s, and rate-limits status changes. */
export function createTracker(): Tracker<Status> {
  return new Tracker<Status>({
    ownerTtl: 30_000,
    limits: { updatesPerSecond: 5, burst: 10 },
  })
}

/** Starts the server; resolves once it listens. */
export async function start(options: WsExampleOptions = {}): Promise<RunningServer> {
  const tracker = options.tracker ?? createTracker()
  const http = createServer((req, res) => servePage(PAGE, req, res) || notFound(res))
  const wss = new WebSocketServer({ server: http, path: '/ws', maxPayload: 4096 })
  wss.on('connection', (socket, request) => connect(tracker, socket, request))

  // Ping every socket; its pong touches its owner, so a half-open socket times out.
  const pinger = setInterval(() => {
    for (const socket of wss.clients) socket.ping()
  }, options.pingIntervalMs ?? 10_000)

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(options.port ?? 3001, resolve)
  })
  const { port } = http.address() as AddressInfo

  return {
    url: `http://localhost:${port}`,
    tracker,
    async close() {
      clearInterval(pinger)
      for (const socket of wss.clients) socket.terminate()
      await new Promise((resolve) => wss.close(resolve))
      await new Promise((resolve) => http.close(resolve))
      if (!options.tracker) await tracker.close()
    },
  }
}

/** One connection: track, subscribe, take status changes, and leave on close. */
function connect(tracker: Tracker<Status>, socket: WebSocket, request: IncomingMessage): void {
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams
  const topic = `room:${query.get('room') ?? 'lobby'}`
  const user = query.get('user') ?? ''
  const owner = randomUUID()

  try {
    tracker.track(owner, topic, user, { status: 'online' })
  } catch (error) {
    // An empty or overlong user name is `invalid_argument`: refuse the connection.
    socket.close(1008, error instanceof PresenceError ? error.code : 'error')
    return
  }
  const stop = tracker.subscribe(topic, (message) => socket.send(JSON.stringify(message)))

  const fail = (code: string, message: string) => {
    socket.send(JSON.stringify({ event: 'error', payload: { code, message } }))
  }
  socket.on('message', (data) => {
    const status = statusOf(data)
    if (status === undefined) return fail('bad_request', 'Expected { "status": string }.')
    try {
      tracker.update(owner, topic, user, (prev) => ({ ...prev, status }))
    } catch (error) {
      // `rate_limited` when a client changes its status too often, for one.
      if (!(error instanceof PresenceError)) throw error
      fail(error.code, error.message)
    }
  })
  socket.on('pong', () => tracker.touch(owner))
  socket.on('close', () => {
    stop()
    tracker.untrackAll(owner)
  })
}

/** The status of a `{ "status": "away" }` message, or undefined for anything else. */
function statusOf(data: RawData): string | undefined {
  try {
    const { status } = JSON.parse(String(data)) as { status?: unknown }
    return typeof status === 'string' && status.length <= 32 ? status : undefined
  } catch {
    return undefined
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await start({ port: Number(process.env.PORT ?? 3001) })
  console.log(`rollcall + ws on ${server.url}`)
  process.once('SIGINT', () => server.close().then(() => process.exit(0)))
}
