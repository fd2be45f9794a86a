/**
 * The planning-poker demo: `npm start`, then open http://localhost:3000.
 *
 * A node:http server for the page and a `ws` server on /ws. Each socket is an owner in a
 * rollcall Tracker; see rooms.ts for what the sockets may do. With ROLLCALL_REDIS_URL (or
 * REDIS_URL) set, the tracker joins a cluster over Redis, so servers on several ports
 * share their rooms.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname } from 'node:os'
import { pathToFileURL } from 'node:url'
import { type WebSocket, WebSocketServer } from 'ws'
import { type Clock, type Logger, Tracker } from '../../src/index.js'
import type { LimitOptions } from '../../src/limits.js'
import { RedisTransport } from '../../src/transports/redis.js'
import { loadAssets, serveAsset } from './assets.js'
import { GAME_KEY, type RoomMeta, roomTopic } from './protocol.js'
import { type Connection, type Peer, PokerRooms, type PokerTracker } from './rooms.js'

/** What the demo runs with unless told otherwise. */
export const POKER_DEFAULTS = {
  port: 3000,
  /** A reload or a short network drop within this is invisible to the others. */
  graceMs: 15_000,
  /** A socket that answers no ping for this long leaves (half-open connections). */
  ownerTtl: 30_000,
  limits: {
    updatesPerSecond: 5,
    burst: 10,
    entriesPerOwner: 2,
    entriesPerTopic: 50,
  } satisfies LimitOptions,
  maxPayload: 4 * 1024,
  /** A socket that lets this much pile up unsent is too slow to keep. */
  maxBuffered: 1024 * 1024,
} as const

export interface TrackerSetup {
  redisUrl?: string
  /** Channel prefix on Redis; servers that share rooms share it. @default 'rollcall-poker' */
  redisPrefix?: string
  nodeId?: string
  ownerTtl?: number
  limits?: LimitOptions
  clock?: Clock
  logger?: Logger
}

/**
 * The demo's tracker: names on, and a name may be written only on behalf of an owner that
 * is in that name's room (`game:<id>` belongs to `room:<id>`).
 */
export function createPokerTracker(setup: TrackerSetup = {}): PokerTracker {
  const cluster = setup.redisUrl
    ? {
        transport: new RedisTransport({
          url: setup.redisUrl,
          prefix: setup.redisPrefix ?? 'rollcall-poker',
        }),
        nodeId: setup.nodeId ?? `poker-${hostname()}-${process.pid}`,
      }
    : undefined
  const tracker: PokerTracker = new Tracker<RoomMeta>({
    names: { canWrite: (as, name) => inRoomOf(tracker, as, name) },
    ownerTtl: setup.ownerTtl ?? POKER_DEFAULTS.ownerTtl,
    limits: setup.limits ?? POKER_DEFAULTS.limits,
    ...(setup.clock && { clock: setup.clock }),
    ...(setup.logger && { logger: setup.logger }),
    ...(cluster && { cluster }),
  })
  return tracker
}

/** Whether owner `as` tracks a participant in the room that `game:<id>` belongs to. */
function inRoomOf(tracker: PokerTracker, as: string, name: string): boolean {
  if (!name.startsWith('game:')) return false
  const topic = roomTopic(name.slice('game:'.length))
  for (const key of Object.keys(tracker.list(topic))) {
    if (key === GAME_KEY) continue
    if (tracker.get(topic, key).some((entry) => entry.owner === as)) return true
  }
  return false
}

export interface StartOptions extends TrackerSetup {
  /** 0 picks a free port. @default PORT, else 3000 */
  port?: number
  host?: string
  /** Bring your own (made with {@link createPokerTracker}); the caller closes it. */
  tracker?: PokerTracker
  /** @default 15000 */
  graceMs?: number
  /** How often sockets are pinged; each pong touches the owner. @default ownerTtl / 3 */
  pingIntervalMs?: number
}

export interface PokerServer {
  /** http://host:port of the page; the socket is at /ws. */
  url: string
  tracker: PokerTracker
  /** Open sockets. */
  clients(): number
  close(): Promise<void>
}

/** Starts the demo server; resolves once it listens (and, in a cluster, has joined). */
export async function startServer(options: StartOptions = {}): Promise<PokerServer> {
  const ownTracker = !options.tracker
  const port = options.port ?? envPort()
  // A stable node id per host and port: a restarted server replaces its old self at once.
  const nodeId = options.nodeId ?? (port === 0 ? undefined : `poker-${hostname()}-${port}`)
  const tracker = options.tracker ?? createPokerTracker({ ...options, ...(nodeId && { nodeId }) })
  await tracker.ready()
  const rooms = new PokerRooms(tracker, {
    graceMs: options.graceMs ?? POKER_DEFAULTS.graceMs,
    log: (level, message, data) => options.logger?.(level, message, data),
  })
  const assets = await loadAssets()

  const http = createServer((req, res) => serveAsset(assets, req, res))
  const wss = new WebSocketServer({
    server: http,
    path: '/ws',
    maxPayload: POKER_DEFAULTS.maxPayload,
    verifyClient: ({ req }: { req: IncomingMessage }) => sameOrigin(req),
  })
  const sockets = new Map<WebSocket, { conn: Connection; lastPong: number }>()
  wss.on('connection', (socket) => sockets.set(socket, wire(rooms, socket, sockets)))

  const pingMs = options.pingIntervalMs ?? (options.ownerTtl ?? POKER_DEFAULTS.ownerTtl) / 3
  const pinger = setInterval(() => pingAll(rooms, sockets, pingMs), pingMs)
  pinger.unref()

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, options.host, () => resolve())
  })
  const address = http.address() as AddressInfo
  const host = options.host && options.host !== '0.0.0.0' ? options.host : 'localhost'

  return {
    url: `http://${host}:${address.port}`,
    tracker,
    clients: () => sockets.size,
    async close() {
      clearInterval(pinger)
      for (const socket of sockets.keys()) socket.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      await new Promise<void>((resolve) => http.close(() => resolve()))
      rooms.close()
      if (ownTracker) await tracker.close()
    },
  }
}

function wire(
  rooms: PokerRooms,
  socket: WebSocket,
  sockets: Map<WebSocket, { conn: Connection; lastPong: number }>,
) {
  const state = { conn: rooms.connect(peerOf(socket)), lastPong: Date.now() }
  socket.on('message', (data, isBinary) => {
    void rooms.receive(state.conn, isBinary ? '' : data.toString())
  })
  socket.on('pong', () => {
    state.lastPong = Date.now()
    rooms.alive(state.conn)
  })
  socket.on('close', () => {
    sockets.delete(socket)
    rooms.closed(state.conn)
  })
  // A socket error is followed by its close, which does the cleanup.
  socket.on('error', () => {})
  return state
}

/**
 * The tracker hands every plain subscriber of a topic the same frozen message, so its
 * JSON text is made once and sent to the whole room.
 */
const encoded = new WeakMap<object, string>()

function encode(message: object): string {
  let text = encoded.get(message)
  if (text === undefined) {
    text = JSON.stringify(message)
    if (Object.isFrozen(message)) encoded.set(message, text)
  }
  return text
}

function peerOf(socket: WebSocket): Peer {
  return {
    send(message) {
      if (socket.readyState !== socket.OPEN) return
      if (socket.bufferedAmount > POKER_DEFAULTS.maxBuffered) {
        socket.terminate()
        return
      }
      socket.send(encode(message))
    },
    terminate: () => socket.terminate(),
  }
}

/**
 * Pings every socket; pongs touch the owner, and the tracker's `ownerTtl` removes the
 * participant of a socket that stopped answering. A socket that never joined a room has
 * no owner to expire, so it is dropped here after two unanswered pings.
 */
function pingAll(
  rooms: PokerRooms,
  sockets: Map<WebSocket, { conn: Connection; lastPong: number }>,
  pingMs: number,
): void {
  const deadline = Date.now() - 2 * pingMs
  for (const [socket, state] of sockets) {
    if (!rooms.joined(state.conn) && state.lastPong < deadline) {
      socket.terminate()
      continue
    }
    socket.ping()
  }
}

/** Refuses sockets opened by pages of other sites (browsers always send Origin). */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin
  if (origin === undefined) return true
  try {
    return new URL(origin).host === req.headers.host
  } catch {
    return false
  }
}

function envPort(): number {
  const port = Number(process.env.PORT ?? POKER_DEFAULTS.port)
  return Number.isInteger(port) && port >= 0 ? port : POKER_DEFAULTS.port
}

async function main(): Promise<void> {
  const redisUrl = process.env.ROLLCALL_REDIS_URL ?? process.env.REDIS_URL
  const server = await startServer({
    ...(redisUrl && { redisUrl }),
    ...(process.env.ROLLCALL_NODE_ID && { nodeId: process.env.ROLLCALL_NODE_ID }),
    logger: (level, message, data) => {
      if (level === 'warn' || level === 'error') console[level](`[rollcall] ${message}`, data)
    },
  })
  const cluster = redisUrl ? ` (cluster node ${server.tracker.nodeId} over Redis)` : ''
  console.log(`Planning poker on ${server.url}${cluster}`)
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
}
