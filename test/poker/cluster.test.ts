/**
 * Two planning-poker servers on two ports share their rooms through Redis, as
 * `ROLLCALL_REDIS_URL=… PORT=… npm start` does. Needs a Redis (REDIS_URL, else local).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PokerServer, startServer } from '../../examples/poker/server.js'
import { requireRedis, uniquePrefix } from '../helpers/redis.js'
import { PokerClient } from './client.js'

const servers: PokerServer[] = []
const clients: PokerClient[] = []

beforeAll(async () => {
  const redisUrl = await requireRedis()
  const redisPrefix = uniquePrefix('poker')
  const start = (nodeId: string) =>
    startServer({ port: 0, host: '127.0.0.1', redisUrl, redisPrefix, nodeId })
  servers.push(...(await Promise.all([start('poker-a'), start('poker-b')])))
})

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()))
  await Promise.all(servers.map((server) => server.close()))
})

async function open(server: PokerServer): Promise<PokerClient> {
  const client = await PokerClient.open(server.url)
  clients.push(client)
  return client
}

describe('two servers over Redis', () => {
  it('share a room: presence, hidden votes, a reveal from the node without the game', async () => {
    const [a, b] = servers as [PokerServer, PokerServer]
    const alice = await open(a)
    const bob = await open(b)
    await alice.join('shared', 'Alice')
    await bob.join('shared', 'Bob')
    await alice.until(() => bob.participant in alice.people(), 'Bob, from the other node')
    await bob.until(() => alice.game()?.round === bob.game()?.round, 'the game')

    bob.vote('21')
    alice.vote('3')
    await alice.until(() => alice.people()[bob.participant]?.voted === true, 'Bob to vote')
    expect(alice.people()[bob.participant]?.vote).toBeNull()
    expect(a.tracker.names.lookup('game:shared')?.node).toBe('poker-a')

    bob.send({ type: 'reveal' })

    for (const client of [alice, bob]) {
      await client.until(() => {
        const people = client.people()
        return people[bob.participant]?.vote === '21' && people[alice.participant]?.vote === '3'
      }, 'both cards')
      expect(client.game()?.phase).toBe('revealed')
    }
  })
})
