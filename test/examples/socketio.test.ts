import { io, type Socket } from 'socket.io-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type RunningServer, type StatusReply, start } from '../../examples/socketio/server.js'
import { until, viewer } from './helpers.js'

let server: RunningServer
let sockets: Socket[] = []

beforeEach(async () => {
  server = await start({ port: 0 })
})

afterEach(async () => {
  for (const socket of sockets) socket.disconnect()
  sockets = []
  await server.close()
})

/** A real socket.io-client in `room` as `user`, its `presence` events fed to a client. */
function join(room: string, user: string | undefined) {
  const socket = io(server.url, { auth: { room, user }, transports: ['websocket'] })
  const presence = viewer()
  socket.on('presence', (message) => presence.receive(message))
  sockets.push(socket)
  return { socket, presence }
}

function setStatus(socket: Socket, status: unknown): Promise<StatusReply> {
  return socket.emitWithAck('status', status)
}

describe('examples/socketio', () => {
  it('shows who joins, who changes status and who leaves', async () => {
    const alice = join('lobby', 'alice')
    await until(alice.presence, 'alice to see herself', (users) => 'alice' in users)

    const bob = join('lobby', 'bob')
    await until(alice.presence, 'bob to join', (users) => users.bob?.[0] === 'online')
    await until(bob.presence, 'bob to see both', (users) => 'alice' in users)

    expect(await setStatus(bob.socket, 'away')).toEqual({})
    await until(alice.presence, 'bob to be away', (users) => users.bob?.[0] === 'away')

    bob.socket.disconnect()
    await until(alice.presence, 'bob to leave', (users) => !('bob' in users))
    expect(server.tracker.countKeys('room:lobby')).toBe(1)
  })

  it('uses socket.id as the owner id', async () => {
    const alice = join('lobby', 'alice')
    await until(alice.presence, 'alice to see herself', (users) => 'alice' in users)
    expect(server.tracker.get('room:lobby', 'alice')[0]?.owner).toBe(alice.socket.id)
  })

  it('refuses a socket without a user, saying why', async () => {
    const { socket } = join('lobby', undefined)
    const refused = new Promise<StatusReply>((resolve) => socket.on('refused', resolve))
    const reason = new Promise((resolve) => socket.on('disconnect', resolve))
    expect((await refused).code).toBe('invalid_argument')
    expect(await reason).toBe('io server disconnect')
    expect(server.tracker.topics()).toEqual([])
  })

  it('serves the page and its bundled script', async () => {
    expect(await (await fetch(server.url)).text()).toContain('src="/page.js"')
    const script = await fetch(`${server.url}/page.js`)
    expect(script.status).toBe(200)
    expect(await script.text()).toContain('presence_state')
  })

  it('acknowledges a bad status or too many changes with the error code', async () => {
    const alice = join('lobby', 'alice')
    await until(alice.presence, 'alice to see herself', (users) => 'alice' in users)
    expect(await setStatus(alice.socket, 42)).toMatchObject({ code: 'bad_request' })

    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => setStatus(alice.socket, i % 2 ? 'online' : 'away')),
    )
    expect(replies.map((reply) => reply.code)).toContain('rate_limited')
  })
})
