/**
 * A planning-poker page without the page: a `ws` socket, a PresenceClient fed with the
 * presence messages, and waits that are re-checked after every message (never sleeps).
 */
import { WebSocket } from 'ws'
import type {
  Card,
  ClientMessage,
  GameMeta,
  Incoming,
  ParticipantMeta,
  RoomMeta,
  ServerMessage,
} from '../../examples/poker/protocol.js'
import { GAME_KEY } from '../../examples/poker/protocol.js'
import { PresenceClient, type WireMeta } from '../../src/client/index.js'

const WAIT_MS = 3_000

type Joined = Extract<ServerMessage, { type: 'joined' }>
type ErrorReply = Extract<ServerMessage, { type: 'error' }>

interface Waiter {
  check: () => boolean
  resolve: () => void
}

let counter = 0

/** A meta as the app wrote it, without the refs rollcall adds on the wire. */
function withoutRefs(meta: Readonly<WireMeta<RoomMeta>> | undefined): RoomMeta | undefined {
  if (!meta) return undefined
  const { phx_ref: _ref, phx_ref_prev: _prev, ...rest } = meta
  return rest as RoomMeta
}

export class PokerClient {
  readonly socket: WebSocket
  /** Every frame received, as text, in order. */
  readonly frames: string[] = []
  readonly messages: Incoming[] = []
  readonly presence = new PresenceClient<RoomMeta>()
  readonly participant: string
  #waiters = new Set<Waiter>()
  #closed = false

  private constructor(socket: WebSocket, participant: string) {
    this.socket = socket
    this.participant = participant
    socket.on('message', (data) => this.#received(String(data)))
    socket.on('close', () => {
      this.#closed = true
      this.#wake()
    })
  }

  /** Opens a socket to the server at `url` (http://…); `participant` defaults to a new id. */
  static async open(url: string, participant = `p-test${++counter}xyz`): Promise<PokerClient> {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`)
    const client = new PokerClient(socket, participant)
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', reject)
    })
    return client
  }

  get closed(): boolean {
    return this.#closed
  }

  send(message: ClientMessage | Record<string, unknown> | string): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** Joins `room` and waits until the page would show it: joined, and a presence_state. */
  async join(room: string, name: string, extra: Record<string, unknown> = {}): Promise<Joined> {
    const from = this.messages.length
    this.send({ type: 'join', room, participant: this.participant, name, ...extra })
    const joined = await this.next<Joined>((m) => m.type === 'joined', from, `join ${room}`)
    await this.until(() => !this.presence.inPendingSyncState(), 'a presence_state')
    return joined
  }

  vote(card: Card | null): void {
    this.send({ type: 'vote', card })
  }

  /** The first typed message at or after index `from` that `match` accepts. */
  async next<T extends ServerMessage>(
    match: (message: ServerMessage) => boolean,
    from = 0,
    what = 'a message',
  ): Promise<T> {
    const find = () =>
      this.messages.slice(from).find((m): m is ServerMessage => !('event' in m) && match(m))
    await this.until(() => find() !== undefined, what)
    return find() as T
  }

  /** Sends `message` and waits for the error it causes. */
  async expectError(message: Parameters<PokerClient['send']>[0]): Promise<ErrorReply> {
    const from = this.messages.length
    this.send(message)
    return this.next<ErrorReply>((m) => m.type === 'error', from, 'an error reply')
  }

  /** Resolves once `check` holds, re-checking after every message; fails after 3 s. */
  until(check: () => boolean, what: string): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        const last = this.frames.slice(-5).join('\n  ')
        reject(new Error(`${this.participant} waited ${WAIT_MS} ms for ${what}; last:\n  ${last}`))
      }, WAIT_MS)
      this.#waiters.add(waiter)
    })
  }

  /** The participants this client sees, by participant id. */
  people(): Record<string, ParticipantMeta> {
    const people: Record<string, ParticipantMeta> = {}
    for (const [key, { metas }] of Object.entries(this.presence.state)) {
      if (key !== GAME_KEY) people[key] = withoutRefs(metas.at(-1)) as ParticipantMeta
    }
    return people
  }

  game(): GameMeta | undefined {
    return withoutRefs(this.presence.state[GAME_KEY]?.metas.at(-1)) as GameMeta | undefined
  }

  /** Closes the socket the way a browser tab does, and waits for it to be closed. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.socket.close()
    await this.until(() => this.#closed, 'the socket to close')
  }

  #received(text: string): void {
    this.frames.push(text)
    const message = JSON.parse(text) as Incoming
    this.messages.push(message)
    if ('event' in message) this.presence.receive(message)
    this.#wake()
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) {
      if (!waiter.check()) continue
      this.#waiters.delete(waiter)
      waiter.resolve()
    }
  }
}
