import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type RunningServer, start } from '../../examples/sse/server.js'
import { until, viewer } from './helpers.js'

let server: RunningServer
let streams: AbortController[] = []

beforeEach(async () => {
  server = await start({ port: 0 })
})

afterEach(async () => {
  for (const stream of streams) stream.abort()
  streams = []
  await server.close()
})

/**
 * Opens `/events` with fetch and reads it as a browser's EventSource would: the `hello`
 * event's owner id, and every unnamed event's data fed to a PresenceClient.
 */
async function join(room: string, user: string) {
  const controller = new AbortController()
  streams.push(controller)
  const query = new URLSearchParams({ room, user })
  const response = await fetch(`${server.url}/events?${query}`, { signal: controller.signal })
  expect(response.headers.get('content-type')).toBe('text/event-stream')
  const presence = viewer()
  let hello: (owner: string) => void = () => {}
  const owner = new Promise<string>((resolve) => {
    hello = resolve
  })
  void read(response, (event, data) => {
    if (event === 'hello') hello(JSON.parse(data).owner)
    else presence.receive(JSON.parse(data))
  })
  return { presence, owner: await owner, leave: () => controller.abort() }
}

/** Calls `onEvent` for each event of an SSE body; ends quietly when the stream is aborted. */
async function read(response: Response, onEvent: (event: string, data: string) => void) {
  const decoder = new TextDecoder()
  let buffer = ''
  const reader = response.body!.getReader()
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      buffer += decoder.decode(chunk.value, { stream: true })
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const field = (name: string) =>
          frame
            .split('\n')
            .filter((line) => line.startsWith(`${name}: `))
            .map((line) => line.slice(name.length + 2))
            .join('\n')
        const data = field('data')
        if (data) onEvent(field('event') || 'message', data)
      }
    }
  } catch (error) {
    if ((error as Error).name !== 'AbortError') throw error
  }
}

function postStatus(body: object): Promise<Response> {
  return fetch(`${server.url}/status`, { method: 'POST', body: JSON.stringify(body) })
}

describe('examples/sse', () => {
  it('shows who joins, who changes status and who leaves', async () => {
    const alice = await join('lobby', 'alice')
    await until(alice.presence, 'alice to see herself', (users) => 'alice' in users)

    const bob = await join('lobby', 'bob')
    await until(alice.presence, 'bob to join', (users) => users.bob?.[0] === 'online')
    await until(bob.presence, 'bob to see both', (users) => 'alice' in users)

    const response = await postStatus({
      owner: bob.owner,
      room: 'lobby',
      user: 'bob',
      status: 'away',
    })
    expect(response.status).toBe(204)
    await until(alice.presence, 'bob to be away', (users) => users.bob?.[0] === 'away')

    bob.leave()
    await until(alice.presence, 'bob to leave', (users) => !('bob' in users))
    expect(server.tracker.countKeys('room:lobby')).toBe(1)
  })

  it("refuses a status change with another stream's owner id: nopresence", async () => {
    const alice = await join('lobby', 'alice')
    await join('lobby', 'bob')
    const response = await postStatus({
      owner: alice.owner,
      room: 'lobby',
      user: 'bob',
      status: 'away',
    })
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ code: 'nopresence' })
    expect(server.tracker.get('room:lobby', 'bob')[0]?.meta).toEqual({ status: 'online' })
  })

  it('refuses a stream without a user', async () => {
    const response = await fetch(`${server.url}/events?room=lobby`)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ code: 'invalid_argument' })
    expect(server.tracker.topics()).toEqual([])
  })

  it('serves the page and its bundled script', async () => {
    expect(await (await fetch(server.url)).text()).toContain('src="/page.js"')
    const script = await fetch(`${server.url}/page.js`)
    expect(script.status).toBe(200)
    expect(await script.text()).toContain('presence_state')
  })

  it('answers a malformed status change with 400', async () => {
    const alice = await join('lobby', 'alice')
    const response = await postStatus({ owner: alice.owner, status: 7 })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ code: 'bad_request' })
  })
})
