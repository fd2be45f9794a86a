import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { type RunningServer, start } from '../../examples/ws/server.js'
import { until, viewer } from './helpers.js'

let server: RunningServer
let sockets: WebSocket[] = []

beforeEach(async () => {
  server = await start({ port: 0 })
})

afterEach(async () => {
  for (const socket of sockets) socket.terminate()
  sockets = []
  await server.close()
})

/** A real `ws` client in `room` as `user`, its messages fed to a PresenceClient. */
function join(room: string, user: string) {
  const url = new URL('/ws', server.url.replace('http:', 'ws:'))
  url.search = new URLSearchParams({ room, user }).toString()
  const socket = new WebSocket(url)
  // terminate() in afterEach may catch a socket still opening: that is no failure.
  socket.on('error', () => {})
  const presence = viewer()
  const errors: Array<{ code: string }> = []
  socket.on('message', (data) => {
    const message = JSON.parse(String(data))
    if (message.event === 'error') errors.push(message.payload)
    else presence.receive(message)
  })
  sockets.push(socket)
  return { socket, presence, errors }
}

describe('examples/ws', () => {
  it('shows who joins, who changes status and who leaves', async () => {
    const alice = join('lobby', 'alice')
    await until(alice.presence, 'alice to see herself', (users) => 'alice' in users)

    const bob = join('lobby', 'bob')
    await until(alice.presence, 'bob to join', (users) => users.bob?.[0] === 'online')
    await until(bob.presence, 'bob to see both', (users) => 'alice' in users)

    bob.socket.send(JSON.stringify({ status: 'away' }))
    await until(alice.presence, 'bob to be away', (users) => users.bob?.[0] === 'away')

    bob.socket.close()
    await until(alice.presence, 'bob to leave', (users) => !('bob' in users))
    expect(server.tracker.countKeys('room:lobby')).toBe(1)
  })

  it('shows two tabs of one user as one key with two metas', async () => {
    const tab1 = join('lobby', 'alice')
    join('lobby', 'alice')
    await until(tab1.presence, 'two metas', (users) => users.alice?.length === 2)
    expect(server.tracker.count('room:lobby')).toBe(2)
    expect(server.tracker.countKeys('room:lobby')).toBe(1)
  })

  it('keeps rooms apart', async () => {
    const alice = join('lobby', 'alice')
    const carol = join('kitchen', 'carol')
    await until(alice.presence, 'alice to see herself', (users) => 'alice' in users)
    await until(carol.presence, 'carol to see herself', (users) => 'carol' in users)
    expect(Object.keys(carol.presence.state)).toEqual(['carol'])
    expect(Object.keys(server.tracker.list('room:lobby'))).toEqual(['alice'])
  })

  it('refuses a connection without a user, with the error code as the reason', async () => {
    const socket = new WebSocket(`${server.url.replace('http:', 'ws:')}/ws?room=lobby`)
    const [code, reason] = await new Promise<[number, string]>((resolve) =>
      socket.on('close', (code, reason) => resolve([code, String(reason)])),
    )
    expect([code, reason]).toEqual([1008, 'invalid_argument'])
    expect(server.tracker.topics()).toEqual([])
  })

  it('answers a malformed message with an error and changes nothing', async () => {
    const alice = join('lobby', 'alice')
    await until(alice.presence, 'alice to see herself', (users) => 'alice' in users)
    alice.socket.send('not json')
    await new Promise((resolve) => alice.socket.once('message', resolve))
    expect(alice.errors).toEqual([expect.objectContaining({ code: 'bad_request' })])
    expect(server.tracker.get('room:lobby', 'alice')[0]?.meta).toEqual({ status: 'online' })
  })

  it('tells a client that changes its status too often that it is rate limited', async () => {
    const alice = join('lobby', 'alice')
    await until(alice.presence, 'alice to see herself', (users) => 'alice' in users)
    const errored = new Promise((resolve) => {
      alice.socket.on('message', (data) => {
        if (String(data).includes('"error"')) resolve(undefined)
      })
    })
    for (let i = 0; i < 20; i++) {
      alice.socket.send(JSON.stringify({ status: i % 2 ? 'online' : 'away' }))
    }
    await errored
    expect(alice.errors[0]).toMatchObject({ code: 'rate_limited' })
  })

  it('serves the page and its bundled script', async () => {
    const page = await fetch(server.url)
    expect(await page.text()).toContain('<script type="module" src="/page.js">')
    const script = await fetch(`${server.url}/page.js`)
    expect(script.status).toBe(200)
    expect(await script.text()).toContain('presence_state')
  })
})
