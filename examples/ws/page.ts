/** The ws example's page script: one WebSocket, its messages fed to a PresenceClient. */
import { PresenceClient } from '../../src/client/index.js'
import { identity, onStatus, render, type Status } from './page-kit.js'

const { room, user } = identity()
const presence = new PresenceClient<Status>()
presence.on('sync', () => render(presence))

let socket: WebSocket

function connect(): void {
  const url = new URL('/ws', location.href)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  url.search = new URLSearchParams({ room, user }).toString()
  socket = new WebSocket(url)
  // A new connection sends a new presence_state: hold diffs until it comes.
  socket.onopen = () => presence.reset()
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data))
    if (message.event === 'error') console.warn(message.payload)
    else presence.receive(message)
  }
  socket.onclose = () => setTimeout(connect, 1_000)
}

connect()
onStatus((status) => socket.send(JSON.stringify({ status })))
