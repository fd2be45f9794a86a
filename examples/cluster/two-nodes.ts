/**
 * Two rollcall nodes sharing presence over Redis: the ws example's server, twice, each
 * with its own Tracker joined to one cluster. A user on one node sees users on the other.
 *
 * Both nodes in one process (http://localhost:3011 and http://localhost:3012):
 *
 *     npx tsx examples/cluster/two-nodes.ts
 *
 * Or one node per process, in two terminals, to see what a crash (Ctrl-C, kill -9) does:
 *
 *     npx tsx examples/cluster/two-nodes.ts web-1 3011
 *     npx tsx examples/cluster/two-nodes.ts web-2 3012
 *
 * Redis comes from REDIS_URL (default redis://127.0.0.1:6379). In your app, import from
 * 'rollcall' and 'rollcall/redis' instead of '../../src/...'.
 */
import { pathToFileURL } from 'node:url'
import { Tracker } from '../../src/index.js'
import { RedisTransport } from '../../src/transports/redis.js'
import { type RunningServer, type Status, start as startServer } from '../ws/server.js'

/** Options of {@link start}. */
export interface ClusterExampleOptions {
  /** Default: REDIS_URL, else redis://127.0.0.1:6379. */
  redisUrl?: string
  /** Channel prefix: clusters with different prefixes share a Redis unaware. */
  prefix?: string
  /** The nodes to run in this process, with their ports (0 picks a free one). */
  nodes?: Array<{ nodeId: string; port: number }>
  /** Shared by every node: messages are signed, and unsigned ones dropped. */
  secret?: string
}

/** The running nodes of this process. */
export interface RunningCluster {
  nodes: RunningServer[]
  /** Closes each node's server, then its tracker (which says goodbye to the others). */
  close(): Promise<void>
}

const DEFAULT_NODES = [
  { nodeId: 'web-1', port: 3011 },
  { nodeId: 'web-2', port: 3012 },
]

/** A tracker that joins the cluster on Redis as `nodeId`. */
export function createNode(nodeId: string, options: ClusterExampleOptions = {}): Tracker<Status> {
  const url = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  return new Tracker<Status>({
    ownerTtl: 30_000,
    limits: { updatesPerSecond: 5, burst: 10 },
    cluster: {
      transport: new RedisTransport({ url, prefix: options.prefix ?? 'rollcall-example' }),
      nodeId,
      secret: options.secret ?? process.env.ROLLCALL_SECRET,
    },
  })
}

/** Starts the nodes; resolves once each has joined the cluster and listens. */
export async function start(options: ClusterExampleOptions = {}): Promise<RunningCluster> {
  const specs = options.nodes ?? DEFAULT_NODES
  const trackers = specs.map(({ nodeId }) => createNode(nodeId, options))
  // ready(): this node has heard from the cluster and holds its state.
  await Promise.all(trackers.map((tracker) => tracker.ready()))
  const nodes = await Promise.all(
    trackers.map((tracker, i) => startServer({ tracker, port: specs[i]!.port })),
  )
  return {
    nodes,
    async close() {
      await Promise.all(nodes.map((node) => node.close()))
      await Promise.all(trackers.map((tracker) => tracker.close()))
    },
  }
}

/** Logs what each node sees of the others. */
function watch(tracker: Tracker<Status>): void {
  const me = tracker.nodeId
  tracker.on('nodeup', ({ node }) => console.log(`[${me}] node ${node} is up`))
  tracker.on('nodedown', ({ node }) => console.log(`[${me}] node ${node} is down`))
  tracker.on('join', ({ key, node, origin }) => {
    console.log(`[${me}] ${key} joined on ${node} (${origin})`)
  })
  tracker.on('leave', ({ key, node, origin }) => {
    console.log(`[${me}] ${key} left on ${node} (${origin})`)
  })
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [nodeId, port] = process.argv.slice(2)
  const nodes = nodeId ? [{ nodeId, port: Number(port ?? 3011) }] : DEFAULT_NODES
  const cluster = await start({ nodes })
  for (const node of cluster.nodes) {
    watch(node.tracker)
    console.log(`node ${node.tracker.nodeId} on ${node.url}`)
  }
  process.once('SIGINT', () => cluster.close().then(() => process.exit(0)))
}
