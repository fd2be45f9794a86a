import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { type RunningCluster, start } from '../../examples/cluster/two-nodes.js'
import type { RunningServer } from '../../examples/ws/server.js'
import { requireRedis, uniquePrefix } from '../helpers/redis.js'
import { until, viewer } from './helpers.js'

let cluster: RunningCluster | undefined
let sockets: WebSocket[] = []

beforeEach(async () => {
  // Fails each test, with what to do, when Redis is unreachable: never a silent skip.
  const redisUrl = await requireRedis()
  cluster = await start({
    redisUrl,
    prefix: uniquePrefix('example'),
    secret: 'example-secret',
    nodes: [
      { nodeId: 'web-1', port: 0 },
      { nodeId: 'web-2', port: 0 },
    ],
  })
})

afterEach(async () => {
  for (const socket of sockets) socket.terminate()
  sockets = []
  await cluster?.close()
  cluster = undefined
})

/** A real `ws` client of one node, in `room` as `user`. */
function join(node: RunningServer, room: string, user: string) {
  const url = new URL('/ws', node.url.replace('http:', 'ws:'))
  url.search = new URLSearchParams({ room, user }).toString()
  const socket = new WebSocket(url)
  socket.on('error', () => {})
  const presence = viewer()
  socket.on('message', (data) => presence.receive(JSON.parse(String(data))))
  sockets.push(socket)
  return { socket, presence }
}

describe('examples/cluster', () => {
  it('shows users of one node to the clients of the other, and their leaving', async () => {
    const [web1, web2] = cluster!.nodes as [RunningServer, RunningServer]
    const alice = join(web1, 'lobby', 'alice')
    const bob = join(web2, 'lobby', 'bob')
    await until(alice.presence, 'bob from web-2', (users) => users.bob?.[0] === 'online')
    await until(bob.presence, 'alice from web-1', (users) => users.alice?.[0] === 'online')
    expect(web1.tracker.get('room:lobby', 'bob')[0]?.node).toBe('web-2')

    bob.socket.send(JSON.stringify({ status: 'away' }))
    await until(alice.presence, 'bob to be away', (users) => users.bob?.[0] === 'away')

    bob.socket.close()
    await until(alice.presence, 'bob to leave', (users) => !('bob' in users))
  })

  it("drops a closed node's users at once: its goodbye needs no downPeriod", async () => {
    const [web1, web2] = cluster!.nodes as [RunningServer, RunningServer]
    const alice = join(web1, 'lobby', 'alice')
    join(web2, 'lobby', 'carol')
    await until(alice.presence, 'carol from web-2', (users) => 'carol' in users)

    await web2.tracker.close()
    await until(alice.presence, 'carol to leave', (users) => !('carol' in users))
    expect(web1.tracker.nodes().map((node) => node.node)).toEqual(['web-1'])
  })
})
