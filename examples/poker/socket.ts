/**
 * A WebSocket that comes back by itself: after a close it retries with exponential
 * backoff and jitter (0.5 s doubling to 10 s), and at once when the browser says it is
 * online again or the tab becomes visible.
 */
import type { ClientMessage, Incoming } from './protocol.js'

export type SocketStatus = 'connecting' | 'online' | 'offline'

export interface SocketHandlers {
  /** A connection opened (the first one, or one after a drop). */
  open(): void
  message(message: Incoming): void
  status(status: SocketStatus): void
}

const FIRST_DELAY_MS = 500
const MAX_DELAY_MS = 10_000

export class ReconnectingSocket {
  readonly #url: string
  readonly #handlers: SocketHandlers
  #socket: WebSocket | undefined
  #attempt = 0
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(url: string, handlers: SocketHandlers) {
    this.#url = url
    this.#handlers = handlers
    addEventListener('online', () => this.#now())
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.#now()
    })
  }

  start(): void {
    this.#connect()
  }

  /** Sends when connected; a message sent while offline is dropped (false). */
  send(message: ClientMessage): boolean {
    if (this.#socket?.readyState !== WebSocket.OPEN) return false
    this.#socket.send(JSON.stringify(message))
    return true
  }

  #connect(): void {
    this.#timer = undefined
    this.#handlers.status('connecting')
    const socket = new WebSocket(this.#url)
    this.#socket = socket
    socket.onopen = () => {
      this.#attempt = 0
      this.#handlers.status('online')
      this.#handlers.open()
    }
    socket.onmessage = (event) => {
      let message: Incoming
      try {
        message = JSON.parse(String(event.data)) as Incoming
      } catch {
        return
      }
      this.#handlers.message(message)
    }
    socket.onclose = () => {
      if (this.#socket !== socket) return
      this.#socket = undefined
      this.#handlers.status('offline')
      this.#later()
    }
  }

  #later(): void {
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.#attempt)
    this.#attempt++
    this.#timer = setTimeout(() => this.#connect(), delay * (0.5 + Math.random() / 2))
  }

  /** Skips the wait when a reconnect is pending. */
  #now(): void {
    if (this.#timer === undefined) return
    clearTimeout(this.#timer)
    this.#connect()
  }
}
