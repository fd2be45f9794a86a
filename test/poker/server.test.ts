/**
 * The planning-poker server, for real: an HTTP and WebSocket server on port 0 and `ws`
 * clients in this process. The tracker runs on a manual clock, so grace periods, TTLs and
 * rate limits are stepped, never waited for.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import {
  createPokerTracker,
  type PokerServer,
  type StartOptions,
  startServer,
} from '../../examples/poker/server.js'
import type { LimitOptions } from '../../src/limits.js'
import { ManualClock } from '../../src/testing/index.js'
import { PokerClient } from './client.js'

const GRACE_MS = 5_000
const TTL_MS = 10_000

interface Setup {
  clock: ManualClock
  server: PokerServer
  open(participant?: string): Promise<PokerClient>
}

const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(options: { limits?: LimitOptions } & StartOptions = {}): Promise<Setup> {
  const clock = new ManualClock()
  const tracker = createPokerTracker({
    clock,
    ownerTtl: TTL_MS,
    limits: options.limits ?? { updatesPerSecond: 100, entriesPerOwner: 2, entriesPerTopic: 50 },
  })
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    tracker,
    graceMs: GRACE_MS,
    pingIntervalMs: 60_000,
    ...options,
  })
  cleanups.push(async () => {
    await server.close()
    await tracker.close()
  })
  const open = async (participant?: string) => {
    const client = await PokerClient.open(server.url, participant)
    cleanups.push(() => client.close())
    return client
  }
  return { clock, server, open }
}

/** Re-checks a condition on the server side until it holds (a socket close travels). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`waited 3 s for ${what}`)
}

/** Every `vote` value anywhere in the messages a client received. */
function votesSeen(client: PokerClient): unknown[] {
  const votes: unknown[] = []
  for (const frame of client.frames) {
    JSON.parse(frame, (key, value) => {
      if (key === 'vote') votes.push(value)
      return value
    })
  }
  return votes
}

describe('joining', () => {
  it('hands the page its session, then the room with itself and a new game', async () => {
    const { open } = await setup()
    const alice = await open()

    const joined = await alice.join('blue', 'Alice')

    expect(joined).toMatchObject({ room: 'blue', participant: alice.participant, resumed: false })
    expect(joined.session).toMatch(/^conn-\d+@/)
    expect(joined.token.length).toBeGreaterThan(16)
    expect(alice.people()).toEqual({
      [alice.participant]: { name: 'Alice', vote: null, voted: false },
    })
    expect(alice.game()).toEqual({ task: '', phase: 'voting', round: 1 })
  })

  it('shows who is here to everyone, live, and who left', async () => {
    const { open } = await setup()
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice')

    await bob.join('blue', 'Bob')
    await alice.until(() => bob.participant in alice.people(), 'Bob to show')

    expect(Object.keys(bob.people()).sort()).toEqual([alice.participant, bob.participant].sort())
    bob.send({ type: 'leave' })
    await alice.until(() => !(bob.participant in alice.people()), 'Bob to go')
  })

  it('keeps rooms apart', async () => {
    const { open } = await setup()
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice')
    await bob.join('green', 'Bob')
    bob.vote('3')
    await bob.until(() => bob.people()[bob.participant]?.voted === true, 'own vote')

    expect(Object.keys(alice.people())).toEqual([alice.participant])
    expect(votesSeen(alice).every((vote) => vote === null)).toBe(true)
  })
})

describe('votes', () => {
  it('show as voted, while the card reaches no one else, not even the tracker', async () => {
    const { open, server } = await setup()
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice')
    await bob.join('blue', 'Bob')

    bob.vote('13')
    const card = await bob.next((m) => m.type === 'card' && m.card === '13')

    expect(card).toEqual({ type: 'card', card: '13', round: 1 })
    await alice.until(() => alice.people()[bob.participant]?.voted === true, 'Bob voted')
    expect(alice.people()[bob.participant]).toEqual({ name: 'Bob', vote: null, voted: true })
    expect(votesSeen(alice).every((vote) => vote === null)).toBe(true)
    expect(votesSeen(bob).every((vote) => vote === null)).toBe(true)
    expect(JSON.stringify(server.tracker.list('room:blue'))).not.toContain('13"')
  })

  it('are shown to everyone at the reveal', async () => {
    const { open } = await setup()
    const [alice, bob, carol] = [await open(), await open(), await open()]
    for (const [client, name] of [
      [alice, 'Alice'],
      [bob, 'Bob'],
      [carol, 'Carol'],
    ] as const) {
      await client.join('blue', name)
    }
    alice.vote('5')
    bob.vote('13')
    await carol.until(() => {
      const people = carol.people()
      return people[alice.participant]!.voted && people[bob.participant]!.voted
    }, 'two votes')

    bob.send({ type: 'reveal' })

    for (const client of [alice, bob, carol]) {
      await client.until(() => client.people()[bob.participant]?.vote === '13', 'the reveal')
      expect(client.game()?.phase).toBe('revealed')
      expect(client.people()).toMatchObject({
        [alice.participant]: { vote: '5', voted: true },
        [bob.participant]: { vote: '13', voted: true },
        [carol.participant]: { vote: null, voted: false },
      })
    }
    expect(await carol.expectError({ type: 'vote', card: '8' })).toMatchObject({
      code: 'not_voting',
    })
  })

  it('are cleared by a new round, which hides the table again', async () => {
    const { open } = await setup()
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice')
    await bob.join('blue', 'Bob')
    alice.vote('8')
    bob.vote('2')
    alice.send({ type: 'reveal' })
    await bob.until(() => bob.people()[alice.participant]?.vote === '8', 'the reveal')

    const from = alice.messages.length
    bob.send({ type: 'reset' })

    for (const client of [alice, bob]) {
      await client.until(() => client.game()?.round === 2, 'round 2')
      await client.until(
        () => Object.values(client.people()).every((p) => !p.voted && p.vote === null),
        'an empty table',
      )
      expect(client.game()).toMatchObject({ phase: 'voting', round: 2 })
    }
    expect(await alice.next((m) => m.type === 'card', from)).toEqual({
      type: 'card',
      card: null,
      round: 2,
    })
    alice.vote('1')
    await bob.until(() => bob.people()[alice.participant]?.voted === true, 'a round-2 vote')
    expect(bob.people()[alice.participant]?.vote).toBeNull()
  })
})

describe('the game', () => {
  it('can be changed by anyone in the room, and outlives whoever started it', async () => {
    const { open, clock, server } = await setup()
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice')
    alice.send({ type: 'task', task: 'Login page' })
    await alice.until(() => alice.game()?.task === 'Login page', 'the task')
    await bob.join('blue', 'Bob')

    await alice.close()
    await eventually(() => server.clients() === 1, 'the server to see the close')
    await clock.advance(GRACE_MS)

    await bob.until(() => !(alice.participant in bob.people()), 'Alice to leave')
    expect(bob.game()).toEqual({ task: 'Login page', phase: 'voting', round: 1 })
    bob.send({ type: 'reveal' })
    await bob.until(() => bob.game()?.phase === 'revealed', 'Bob to reveal')
  })

  it('is released when the room empties, and a new one starts with the next visitor', async () => {
    const { open, clock, server } = await setup()
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice')
    await bob.join('blue', 'Bob')
    bob.send({ type: 'task', task: 'Search' })
    await alice.until(() => alice.game()?.task === 'Search', 'the task')
    const tracker = server.tracker

    alice.send({ type: 'leave' })
    await bob.until(() => !(alice.participant in bob.people()), 'Alice to leave')
    expect(tracker.names.whereis('game:blue')).toBeDefined()
    await bob.close()
    await eventually(() => server.clients() === 1, 'the server to see the close')
    await clock.advance(GRACE_MS)

    expect(tracker.names.whereis('game:blue')).toBeUndefined()
    expect(tracker.list('room:blue')).toEqual({})
    const carol = await open()
    await carol.join('blue', 'Carol')
    expect(carol.game()).toEqual({ task: '', phase: 'voting', round: 1 })
  })
})

describe('bad input', () => {
  it('gets an error with a code, to that socket only; everyone else is served', async () => {
    const { open } = await setup()
    const [alice, bob, outsider] = [await open(), await open(), await open()]
    await alice.join('blue', 'Alice')
    await bob.join('blue', 'Bob')
    await outsider.join('green', 'Mallory')
    const bobErrors = () => bob.messages.filter((m) => 'type' in m && m.type === 'error')

    const cases: Array<[Parameters<PokerClient['send']>[0], string]> = [
      ['{not json', 'bad_json'],
      ['[1, 2]', 'bad_message'],
      [{ type: 'dance' }, 'unknown_type'],
      [{ type: 'vote', card: '7' }, 'invalid_card'],
      [{ type: 'vote', card: 5 }, 'invalid_card'],
      [{ type: 'vote', card: '5', participant: bob.participant }, 'nopresence'],
      [{ type: 'reveal', room: 'blue' }, 'forbidden'],
      [{ type: 'task', task: 'x'.repeat(201) }, 'invalid_task'],
      [{ type: 'join', room: 'blue', participant: 'game', name: 'Eve' }, 'invalid_participant'],
      [{ type: 'join', room: '../etc', participant: 'p-abcdefgh', name: 'Eve' }, 'invalid_room'],
      [{ type: 'join', room: 'blue', participant: 'p-abcdefgh', name: '  ' }, 'invalid_name'],
    ]
    for (const [message, code] of cases) {
      const reply = await outsider.expectError(message)
      expect({ message, code: reply.code }).toEqual({ message, code })
      expect(reply.message.length).toBeGreaterThan(10)
    }
    const stranger = await open()
    expect((await stranger.expectError({ type: 'vote', card: '1' })).code).toBe('not_joined')

    bob.vote('3')
    await alice.until(() => alice.people()[bob.participant]?.voted === true, 'Bob to vote')
    expect(alice.game()).toEqual({ task: '', phase: 'voting', round: 1 })
    expect(bobErrors()).toEqual([])
    expect(outsider.closed).toBe(false)
  })

  it('is rate limited per socket, and the others are not slowed down', async () => {
    const { open, clock } = await setup({
      limits: { updatesPerSecond: 1, burst: 4, entriesPerOwner: 2 },
    })
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice') // two writes: Alice's entry and the new game
    await bob.join('blue', 'Bob')
    alice.vote('1')
    alice.vote('2')

    const refused = await alice.expectError({ type: 'vote', card: '3' })

    expect(refused.code).toBe('rate_limited')
    expect((await alice.expectError({ type: 'reveal' })).code).toBe('rate_limited')
    bob.vote('5')
    await alice.until(() => alice.people()[bob.participant]?.voted === true, 'Bob to vote')
    await clock.advance(1_000)
    const from = alice.messages.length
    alice.vote('8')
    expect(await alice.next((m) => m.type === 'card', from)).toMatchObject({ card: '8' })
  })

  it('shows the card of a rate-limited voter at the reveal as soon as its rate allows', async () => {
    const { open, clock } = await setup({
      limits: { updatesPerSecond: 1, burst: 3, entriesPerOwner: 2 },
    })
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice') // two writes: Alice's entry and the new game
    await bob.join('blue', 'Bob')
    alice.vote('13') // the third: Alice's bucket is empty now
    await alice.next((m) => m.type === 'card' && m.card === '13')

    bob.send({ type: 'reveal' })
    await bob.until(() => bob.game()?.phase === 'revealed', 'the reveal')
    expect(bob.people()[alice.participant]).toMatchObject({ vote: null, voted: true })
    await clock.advance(1_000)

    await bob.until(() => bob.people()[alice.participant]?.vote === '13', "Alice's card")
  })

  it('refuses sockets opened by pages of other sites', async () => {
    const { server } = await setup()
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      origin: 'https://evil.example',
    })
    const status = await new Promise<number>((resolve) => {
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      socket.on('error', () => {})
    })
    expect(status).toBe(401)
  })
})

describe('connections', () => {
  it('come back within the grace period as the same session: nobody sees a thing', async () => {
    const { open, server } = await setup()
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice')
    const joined = await bob.join('blue', 'Bob')
    bob.vote('8')
    await alice.until(() => alice.people()[bob.participant]?.voted === true, 'Bob to vote')
    const left: string[] = []
    alice.presence.on('leave', (key) => left.push(key))

    await bob.close()
    await eventually(() => server.clients() === 1, 'the server to see the close')
    const again = await open(bob.participant)
    const resume = { session: joined.session, token: joined.token }
    const rejoined = await again.join('blue', 'Bob', { resume })

    expect(rejoined).toMatchObject({ resumed: true, session: joined.session })
    expect(await again.next((m) => m.type === 'card')).toMatchObject({ card: '8' })
    alice.send({ type: 'reveal' })
    await again.until(() => again.people()[bob.participant]?.vote === '8', 'the reveal')
    expect(left).toEqual([])
  })

  it('take the session from a socket that still looks open', async () => {
    const { open } = await setup()
    const bob = await open()
    const joined = await bob.join('blue', 'Bob')
    const again = await open(bob.participant)

    const resume = { session: joined.session, token: joined.token }
    expect(await again.join('blue', 'Bob', { resume })).toMatchObject({ resumed: true })
    await bob.until(() => bob.closed, 'the old socket to be dropped')
    expect(Object.keys(again.people())).toEqual([bob.participant])
  })

  it('join afresh after the grace period, or without the right token', async () => {
    const { open, clock, server } = await setup()
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice')
    const joined = await bob.join('blue', 'Bob')
    await bob.close()
    await eventually(() => server.clients() === 1, 'the server to see the close')

    const thief = await open(bob.participant)
    const forged = { session: joined.session, token: 'x'.repeat(joined.token.length) }
    expect(await thief.join('blue', 'Bob', { resume: forged })).toMatchObject({ resumed: false })
    await thief.close()
    await clock.advance(GRACE_MS)
    await alice.until(() => !(bob.participant in alice.people()), 'Bob to time out')

    const late = await open(bob.participant)
    const resume = { session: joined.session, token: joined.token }
    expect(await late.join('blue', 'Bob', { resume })).toMatchObject({ resumed: false })
    await alice.until(() => bob.participant in alice.people(), 'Bob to be back')
  })

  it('that stop answering pings leave after ownerTtl and are dropped', async () => {
    const { open, clock } = await setup({ pingIntervalMs: 20 })
    const [alice, bob] = [await open(), await open()]
    await alice.join('blue', 'Alice')
    await bob.join('blue', 'Bob')
    const pongs = () => new Promise((resolve) => alice.socket.once('ping', resolve))

    bob.socket.pause()
    await clock.advance(TTL_MS * 0.6)
    await pongs()
    await pongs()
    await clock.advance(TTL_MS * 0.6)

    await alice.until(() => !(bob.participant in alice.people()), 'Bob to expire')
    expect(alice.people()).toHaveProperty(alice.participant)
    bob.socket.resume()
    await bob.until(() => bob.closed, 'the half-open socket to be dropped')
  })
})
