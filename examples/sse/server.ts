/**
 * rollcall over Server-Sent Events, with plain POSTs the other way. Run
 * `npx tsx examples/sse/server.ts`, then open http://localhost:3003 in two tabs (add
 * `?user=alice` to pick a name).
 *
 * `GET /events?room=lobby&user=alice` opens a stream: one stream is one owner. Its first
 * event, `hello`, carries that owner's id; every other event is a presence message as
 * JSON. `POST /status` with `{ owner, room, user, status }` changes that entry's status,
 * and the tracker refuses it (`nopresence`) unless that owner tracks it: the owner id is
 * the stream's secret, so only the stream's own page can change its entry. A real app
 * takes the user from its session, never from the URL. In your app, import from
 * 'rollcall' instead of '../../src/index.js'.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { PresenceError, Tracker } from '../../src/index.js'
import { notFound, type Page, servePage } from '../ws/browser.js'
import type { Status } from '../ws/page-kit.js'

/** Options of {@link start}. */
export interface SseExampleOptions {
  /** The port to listen on; 0 picks a free one. Default 3003. */
  port?: number
  /** The tracker to use; by default one of the example's own, closed with the server. */
  tracker?: Tracker<Status>
  /** How often an idle stream gets a comment line, so proxies keep it open. Default 15 s. */
  keepAliveMs?: number
}

/** A running example server. */
export interface RunningServer {
  /** `http://localhost:<port>`; streams are `/events`, status changes `POST /status`. */
  url: string
  tracker: Tracker<Status>
  /** Ends every stream and closes the server, and the tracker if the example made it. */
  close(): Promise<void>
}

/** What the request handlers share: the tracker, and the open streams. */
interface Hub {
  tracker: Tracker<Status>
  streams: Set<ServerResponse>
}

const PAGE: Page = {
  title: 'rollcall + Server-Sent Events',
  script: fileURLToPath(new URL('./page.ts', import.meta.url)),
}

/** Starts the server; resolves once it listens. */
export async function start(options: SseExampleOptions = {}): Promise<RunningServer> {
  const tracker = options.tracker ?? new Tracker<Status>({ limits: { updatesPerSecond: 5 } })
  const hub: Hub = { tracker, streams: new Set() }

  const http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    if (req.method === 'GET' && path === '/events') openStream(hub, req, res)
    else if (req.method === 'POST' && path === '/status') void setStatus(hub, req, res)
    else if (!servePage(PAGE, req, res)) notFound(res)
  })
  const pinger = setInterval(() => {
    for (const res of hub.streams) res.write(': keep-alive\n\n')
  }, options.keepAliveMs ?? 15_000)

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(options.port ?? 3003, resolve)
  })
  const { port } = http.address() as AddressInfo

  return {
    url: `http://localhost:${port}`,
    tracker,
    async close() {
      clearInterval(pinger)
      http.closeAllConnections()
      await new Promise((resolve) => http.close(resolve))
      if (!options.tracker) await tracker.close()
    },
  }
}

/** `GET /events`: track the stream's user, then forward the room's messages to it. */
function openStream({ tracker, streams }: Hub, req: IncomingMessage, res: ServerResponse) {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams
  const topic = `room:${query.get('room') ?? 'lobby'}`
  const user = query.get('user') ?? ''
  const owner = randomUUID()

  try {
    tracker.track(owner, topic, user, { status: 'online' })
  } catch (error) {
    // An empty or overlong user name is `invalid_argument`.
    reply(res, 400, errorOf(error))
    return
  }
  streams.add(res)
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  })
  res.write(`event: hello\ndata: ${JSON.stringify({ owner })}\n\n`)
  const stop = tracker.subscribe(topic, (message) => {
    res.write(`data: ${JSON.stringify(message)}\n\n`)
  })

  req.on('close', () => {
    stop()
    streams.delete(res)
    tracker.untrackAll(owner)
  })
}

/**
 * `POST /status` with `{ owner, room, user, status }`. The tracker itself checks that
 * `owner` tracks `user` in that room: any other owner id gets `nopresence`.
 */
async function setStatus({ tracker }: Hub, req: IncomingMessage, res: ServerResponse) {
  const { owner, room, user, status } = (await readJson(req)) ?? {}
  const strings = [owner, room, user, status].every((field) => typeof field === 'string')
  if (!strings || String(status).length > 32) {
    reply(res, 400, { code: 'bad_request', message: 'Expected { owner, room, user, status }.' })
    return
  }
  try {
    tracker.update(owner as string, `room:${room}`, user as string, { status: status as string })
    res.writeHead(204).end()
  } catch (error) {
    const failure = errorOf(error)
    reply(res, STATUS_CODES[failure.code] ?? 400, failure)
  }
}

/** HTTP statuses for the errors a status change may meet; anything else is a 400. */
const STATUS_CODES: Record<string, number> = { nopresence: 403, rate_limited: 429 }

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = ''
  for await (const chunk of req) {
    text += chunk
    if (text.length > 4096) return undefined
  }
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof PresenceError) return { code: error.code, message: error.message }
  throw error
}

function reply(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await start({ port: Number(process.env.PORT ?? 3003) })
  console.log(`rollcall + Server-Sent Events on ${server.url}`)
  process.once('SIGINT', () => server.close().then(() => process.exit(0)))
}
