/**
 * The SSE example's page script: an EventSource for the presence messages, and a POST
 * for each status change, signed with the owner id the stream's `hello` event carried.
 */
import { PresenceClient } from '../../src/client/index.js'
import { identity, onStatus, render, type Status } from '../ws/page-kit.js'

const { room, user } = identity()
const presence = new PresenceClient<Status>()
presence.on('sync', () => render(presence))

let owner = ''
const source = new EventSource(`/events?${new URLSearchParams({ room, user })}`)
// EventSource reconnects by itself: each new stream is a new owner with a new state.
source.addEventListener('hello', (event) => {
  owner = JSON.parse(event.data).owner
  presence.reset()
})
source.onmessage = (event) => presence.receive(JSON.parse(event.data))

onStatus(async (status) => {
  const body = JSON.stringify({ owner, room, user, status })
  const response = await fetch('/status', { method: 'POST', body })
  if (!response.ok) console.warn(await response.json())
})
