/**
 * Three real processes, each a Tracker in one cluster over the local Redis, driven over
 * stdin/stdout: they agree on a room, drop a killed node's entries after downPeriod and
 * a closed one's at once, and share one entry through a name that outlives its holder.
 * Needs Redis (`REDIS_URL`, default 127.0.0.1:6379); fails, never skips, without one.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { poll, Worker, WorkerError } from '../helpers/processes.js'
import { requireRedis, uniquePrefix } from '../helpers/redis.js'

const PERIODS = { broadcastPeriod: 200, downPeriod: 1_000 }

// Real processes on a machine that may be busy: starting three takes seconds.
vi.setConfig({ testTimeout: 60_000 })
const ROOM = 'room:1'

interface Info {
  node: string
  owner: string
  meta: Record<string, unknown>
  ref: string
}

interface NodeInfo {
  node: string
  status: string
}

let url: string
let workers: Worker[] = []

beforeAll(async () => {
  url = await requireRedis()
})

afterEach(async () => {
  await Promise.all(workers.map((worker) => worker.stop()))
  workers = []
})

async function startCluster(...ids: string[]): Promise<Worker[]> {
  const prefix = uniquePrefix('processes')
  workers = ids.map((nodeId) => new Worker({ url, prefix, nodeId, ...PERIODS }))
  await Promise.all(workers.map((worker) => worker.ready()))
  return workers
}

async function keys(worker: Worker, topic = ROOM): Promise<string[]> {
  const list = await worker.request<Record<string, unknown>>('list', { topic })
  return Object.keys(list).sort()
}

function untilKeys(worker: Worker, expected: string[]): Promise<string[]> {
  return poll(
    () => keys(worker),
    (seen) => JSON.stringify(seen) === JSON.stringify(expected),
  )
}

/** Three nodes, each tracking its own user in the room, all seeing all three. */
async function joinedCluster() {
  const [n1, n2, n3] = await startCluster('n1', 'n2', 'n3')
  await n1!.request('track', { owner: 'socket-1', topic: ROOM, key: 'alice', meta: { n: 1 } })
  await n2!.request('track', { owner: 'socket-1', topic: ROOM, key: 'bob', meta: { n: 2 } })
  await n3!.request('track', { owner: 'socket-1', topic: ROOM, key: 'carol', meta: { n: 3 } })
  for (const worker of [n1!, n2!, n3!]) await untilKeys(worker, ['alice', 'bob', 'carol'])
  return { n1: n1!, n2: n2!, n3: n3! }
}

describe('three processes over Redis', () => {
  it('each tracks its own users and all list the same room', async () => {
    const { n1, n2, n3 } = await joinedCluster()
    const lists = await Promise.all([n1, n2, n3].map((w) => w.request('list', { topic: ROOM })))
    expect(lists[1]).toEqual(lists[0])
    expect(lists[2]).toEqual(lists[0])
    expect(lists[0]).toMatchObject({ carol: { metas: [{ n: 3, phx_ref: expect.any(String) }] } })
    const nodes = await n1.request<NodeInfo[]>('nodes')
    expect(nodes.map((n) => [n.node, n.status]).sort()).toEqual([
      ['n1', 'self'],
      ['n2', 'up'],
      ['n3', 'up'],
    ])
  })

  it('a node killed with SIGKILL is dropped after downPeriod: it shows as down', async () => {
    const { n1, n2, n3 } = await joinedCluster()
    await n3.kill()
    for (const worker of [n1, n2]) {
      await untilKeys(worker, ['alice', 'bob'])
      const nodes = await worker.request<NodeInfo[]>('nodes')
      // Dropped by liveness, not by a goodbye: it is still known, as down.
      expect(nodes.find((n) => n.node === 'n3')?.status).toBe('down')
    }
  })

  it('a node that closes is dropped at once: its goodbye removes it entirely', async () => {
    const { n1, n2, n3 } = await joinedCluster()
    await n3.close()
    for (const worker of [n1, n2]) {
      await untilKeys(worker, ['alice', 'bob'])
      const nodes = await worker.request<NodeInfo[]>('nodes')
      // A node found down by liveness would still be listed, as down.
      expect(nodes.map((n) => n.node)).not.toContain('n3')
    }
  })
})

describe('one shared entry through a name, over Redis', () => {
  async function gameEntry(worker: Worker): Promise<Info[]> {
    return worker.request<Info[]>('get', { topic: ROOM, key: 'game' })
  }

  /** `holder` creates the name and its entry; resolves once `others` see both. */
  async function sharedGame(holder: Worker, others: Worker[]): Promise<void> {
    await holder.request('create-name', { name: 'game' })
    await holder.request('track-name', { name: 'game', topic: ROOM, key: 'game' })
    for (const worker of others) await untilGame(worker, (entries) => entries.length === 1)
  }

  function untilGame(worker: Worker, done: (entries: Info[]) => boolean): Promise<Info[]> {
    return poll(() => gameEntry(worker), done)
  }

  it('updates through the name from every process land on the one entry', async () => {
    const { n1, n2, n3 } = await joinedCluster()
    await sharedGame(n1, [n2, n3])

    for (const writer of [n1, n2, n3]) {
      const meta = { lastBy: writer.nodeId }
      const ref = await writer.request<string>('update-through-name', {
        name: 'game',
        topic: ROOM,
        key: 'game',
        meta,
      })
      // Resolved once the change is in the writer's own copy.
      expect(await gameEntry(writer)).toEqual([{ node: 'n1', owner: '\u0000name:game', meta, ref }])
      for (const reader of [n1, n2, n3]) {
        await untilGame(reader, (entries) => entries.length === 1 && entries[0]!.ref === ref)
      }
    }

    // Three read-modify-writes at once: each retries on stale until it lands.
    const append = { name: 'game', topic: ROOM, key: 'game' }
    await Promise.all([n1, n2, n3].map((writer) => writer.request('append-through-name', append)))
    for (const reader of [n1, n2, n3]) {
      const [entry] = await untilGame(
        reader,
        (entries) => (entries[0]?.meta.by as string[] | undefined)?.length === 3,
      )
      expect([...(entry!.meta.by as string[])].sort()).toEqual(['n1', 'n2', 'n3'])
    }
  })

  it('the holder closes and the entry lives on with its successor', async () => {
    const append = (meta: object) => ({ name: 'game', topic: ROOM, key: 'game', meta })
    const { n1, n2, n3 } = await joinedCluster()
    await sharedGame(n1, [n2, n3])
    const meta = { phase: 'voting' }
    await n3.request('update-through-name', append(meta))
    await untilGame(n2, (entries) => entries[0]?.meta.phase === 'voting')

    await n1.close()
    for (const worker of [n2, n3]) {
      const [entry] = await untilGame(worker, (entries) => entries[0]?.node === 'n2')
      expect(entry).toMatchObject({ node: 'n2', meta })
      expect(await keys(worker)).toEqual(['bob', 'carol', 'game'])
      expect(await worker.request('lookup', { name: 'game' })).toEqual({
        node: 'n2',
        owner: '\u0000name:game',
      })
    }

    const after = { phase: 'done' }
    await n3.request('update-through-name', append(after))
    await untilGame(n2, (entries) => entries[0]?.meta.phase === 'done')
    const unknown = n3.request('update-through-name', { ...append(after), name: 'nope' })
    await expect(unknown).rejects.toBeInstanceOf(WorkerError)
    await expect(unknown).rejects.toMatchObject({ code: 'unknown_name' })
  })
})
