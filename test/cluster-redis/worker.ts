/**
 * One node of the multi-process test: a Tracker in a cluster over Redis, driven by JSON
 * lines on stdin and answering with JSON lines on stdout. Run with
 * `node --import tsx test/cluster-redis/worker.ts` and the environment below.
 *
 * Requests are `{ id, cmd, ...args }`; each gets `{ id, ok: true, value }` or
 * `{ id, ok: false, code, message }`. Once joined it prints `{ event: 'ready' }`.
 */
import { createInterface } from 'node:readline'
import { PresenceError } from '../../src/errors.js'
import { Tracker } from '../../src/tracker.js'
import { RedisTransport } from '../../src/transports/redis.js'
import type { Meta } from '../../src/types.js'

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`worker: ${name} is not set`)
  return value
}

const nodeId = env('NODE_ID')
const transport = new RedisTransport({ url: env('REDIS_URL'), prefix: env('PREFIX') })
const tracker = new Tracker<Meta>({
  names: true,
  cluster: {
    transport,
    nodeId,
    broadcastPeriod: Number(env('BROADCAST_PERIOD')),
    downPeriod: Number(env('DOWN_PERIOD')),
  },
})

type Args = Record<string, unknown>
const str = (args: Args, name: string) => String(args[name])

/** The commands a test may send, each returning a JSON value. */
const commands: Record<string, (args: Args) => unknown> = {
  track: (a) => tracker.track(str(a, 'owner'), str(a, 'topic'), str(a, 'key'), a.meta as Meta),
  list: (a) => tracker.list(str(a, 'topic')),
  get: (a) => tracker.get(str(a, 'topic'), str(a, 'key')),
  nodes: () => tracker.nodes(),
  'create-name': (a) => tracker.names.create(str(a, 'name')),
  'track-name': (a) => tracker.names.track(str(a, 'name'), str(a, 'topic'), str(a, 'key'), {}),
  lookup: (a) => tracker.names.lookup(str(a, 'name')) ?? null,
  'update-through-name': (a) =>
    tracker.names.update(str(a, 'name'), str(a, 'topic'), str(a, 'key'), a.meta as Meta),
  /** A read-modify-write through the name: adds this node to the meta's `by` list. */
  'append-through-name': (a) =>
    tracker.names.update(str(a, 'name'), str(a, 'topic'), str(a, 'key'), (prev) => ({
      ...prev,
      by: [...((prev.by as string[] | undefined) ?? []), nodeId],
    })),
  close: async () => {
    await tracker.close()
    setImmediate(() => process.exit(0))
    return null
  },
}

function reply(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

async function handle(line: string): Promise<void> {
  const request = JSON.parse(line) as Args & { id: number; cmd: string }
  const command = commands[request.cmd]
  try {
    if (!command) throw new Error(`unknown command ${request.cmd}`)
    const value = await command(request)
    reply({ id: request.id, ok: true, value: value ?? null })
  } catch (error) {
    const code = error instanceof PresenceError ? error.code : 'error'
    reply({ id: request.id, ok: false, code, message: String(error) })
  }
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() !== '') void handle(line)
  })
  // The test process went away: leave no node behind.
  .on('close', () => process.exit(0))

await tracker.ready()
reply({ event: 'ready', node: nodeId })
