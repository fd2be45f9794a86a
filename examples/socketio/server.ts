/**
 * rollcall over Socket.IO. Run `npx tsx examples/socketio/server.ts`, then open
 * http://localhost:3002 in two tabs (add `?user=alice` to pick a name).
 *
 * One Socket.IO socket is one owner, its `socket.id` the owner id. It says which room and
 * user it is in its handshake's `auth` (a real app checks who the user is in a middleware),
 * gets the room's messages as `presence` events, and sets its status with a `status`
 * event whose acknowledgement carries any error. In your app, import from 'rollcall'
 * instead of '../../src/index.js'.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Server, type Socket } from 'socket.io'
import { PresenceError, Tracker } from '../../src/index.js'
import { notFound, type Page, servePage } from '../ws/browser.js'
import type { Status } from '../ws/page-kit.js'

/** Options of {@link start}. */
export interface SocketIoExampleOptions {
  /** The port to listen on; 0 picks a free one. Default 3002. */
  port?: number
  /** The tracker to use; by default one of the example's own, closed with the server. */
  tracker?: Tracker<Status>
}

/** A running example server. */
export interface RunningServer {
  /** `http://localhost:<port>`, where Socket.IO clients connect. */
  url: string
  tracker: Tracker<Status>
  /** Disconnects every socket and closes the server, and the tracker if the example made it. */
  close(): Promise<void>
}

/** What a `status` event's acknowledgement carries: `{}`, or the error. */
export type StatusReply = { code?: string; message?: string }

const PAGE: Page = {
  title: 'rollcall + Socket.IO',
  script: fileURLToPath(new URL('./page.ts', import.meta.url)),
}

/** Starts the server; resolves once it listens. */
export async function start(options: SocketIoExampleOptions = {}): Promise<RunningServer> {
  const tracker = options.tracker ?? new Tracker<Status>({ limits: { updatesPerSecond: 5 } })
  const http = createServer((req, res) => servePage(PAGE, req, res) || notFound(res))
  const io = new Server(http, { serveClient: false })
  io.on('connection', (socket) => connect(tracker, socket))

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(options.port ?? 3002, resolve)
  })
  const { port } = http.address() as AddressInfo

  return {
    url: `http://localhost:${port}`,
    tracker,
    async close() {
      // Closes every socket (each one's `disconnect` untracks it), then the HTTP server.
      await io.close()
      if (!options.tracker) await tracker.close()
    },
  }
}

/** One socket: track, subscribe, take status changes, and leave on disconnect. */
function connect(tracker: Tracker<Status>, socket: Socket): void {
  const { room, user } = socket.handshake.auth as { room?: unknown; user?: unknown }
  const topic = `room:${typeof room === 'string' ? room : 'lobby'}`
  const key = user as string
  const owner = socket.id

  try {
    tracker.track(owner, topic, key, { status: 'online' })
  } catch (error) {
    // A missing or overlong user is `invalid_argument`: say why, then hang up.
    socket.emit('refused', replyOf(error))
    socket.disconnect(true)
    return
  }
  const stop = tracker.subscribe(topic, (message) => socket.emit('presence', message))

  socket.on('status', (status: unknown, ack?: (reply: StatusReply) => void) => {
    let reply: StatusReply = {}
    if (typeof status !== 'string' || status.length > 32) {
      reply = { code: 'bad_request', message: 'Expected a status string.' }
    } else {
      try {
        tracker.update(owner, topic, key, (prev) => ({ ...prev, status }))
      } catch (error) {
        reply = replyOf(error)
      }
    }
    if (typeof ack === 'function') ack(reply)
  })
  socket.on('disconnect', () => {
    stop()
    tracker.untrackAll(owner)
  })
}

function replyOf(error: unknown): StatusReply {
  if (error instanceof PresenceError) return { code: error.code, message: error.message }
  throw error
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await start({ port: Number(process.env.PORT ?? 3002) })
  console.log(`rollcall + Socket.IO on ${server.url}`)
  process.once('SIGINT', () => server.close().then(() => process.exit(0)))
}
