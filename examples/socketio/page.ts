/** The Socket.IO example's page script: `presence` events fed to a PresenceClient. */
import { io } from 'socket.io-client'
import { PresenceClient } from '../../src/client/index.js'
import { identity, onStatus, render, type Status } from '../ws/page-kit.js'

const presence = new PresenceClient<Status>()
presence.on('sync', () => render(presence))

const socket = io({ auth: identity() })
// Socket.IO reconnects by itself; the new connection sends a new presence_state.
socket.on('connect', () => presence.reset())
socket.on('presence', (message) => presence.receive(message))
socket.on('refused', (error) => console.warn(error))

onStatus((status) => {
  socket.emit('status', status, (reply: { code?: string }) => {
    if (reply.code) console.warn(reply)
  })
})
