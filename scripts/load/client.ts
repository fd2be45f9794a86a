/**
 * One simulated page: a `ws` socket to the demo speaking its protocol (protocol.ts), a
 * PresenceClient fed with the presence messages, and the claims (room.ts) of what it
 * does and what it sees. Every send resolves once the server has answered, or after
 * 30 s without an answer.
 */
import { type RawData, WebSocket } from 'ws'
import {
  type Card,
  type ClientMessage,
  GAME_KEY,
  type GameMeta,
  type Incoming,
  type Resume,
  type RoomMeta,
  type ServerMessage,
} from '../../examples/poker/protocol.js'
import { PresenceClient, type PresenceState, type WireMeta } from '../../src/client/index.js'
import type { ActionKind, Recorder } from './recorder.js'
import type { Action, Observer, Room } from './room.js'

export type Phase = 'new' | 'seated' | 'standing' | 'away' | 'dead'

/** How a send ended: the server did it, refused it, or the answer never came. */
export interface Answer {
  outcome: 'confirmed' | 'refused' | 'dropped'
  /** For joins: the server took the old session back. */
  resumed?: boolean
}

export type JoinKind = Extract<ActionKind, 'join' | 'rejoin' | 'resume'>
export type GameKind = Extract<ActionKind, 'task' | 'reveal' | 'reset'>

interface Pending {
  action: Action
  resolve: (answer: Answer) => void
  timer: ReturnType<typeof setTimeout>
  card?: Card
  task?: string
  /** A join: the server said `joined`. */
  joined?: boolean
  resumed?: boolean
}

const ANSWER_MS = 30_000
const CONNECT_TRIES = 3
const RETRY_MS = 200
/** A message the server always refuses with `unknown_type`: a marker in the stream. */
const BARRIER = JSON.stringify({ type: 'load-barrier' })

export class LoadClient implements Observer {
  readonly presence = new PresenceClient<RoomMeta>()
  readonly name: string
  phase: Phase = 'new'
  viewValid = false
  viewEpoch = 0
  /** The card the server last told this page it holds. */
  card: Card | null = null
  /** The driver runs one step of a client at a time. */
  busy = false
  #socket: WebSocket | undefined
  #resume: Resume | undefined
  #pending: Pending | undefined
  #barriers: Array<{ action: Action; code: string }> = []
  /** The ref this client's own key got in the previous frame, if that frame was a diff. */
  #prevOwnRef: string | undefined

  constructor(
    readonly index: number,
    readonly participant: string,
    readonly room: Room,
    readonly url: string,
    readonly recorder: Recorder,
  ) {
    this.name = `Load ${index}`
    room.members.push(this)
  }

  get open(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN
  }

  /** The game as this page sees it. */
  game(): WireMeta<GameMeta> | undefined {
    const state = this.presence.state as PresenceState<RoomMeta>
    return state[GAME_KEY]?.metas[0] as WireMeta<GameMeta> | undefined
  }

  /** Opens a socket (3 tries); false, and the client is dead, when none opened. */
  async connect(): Promise<boolean> {
    for (let attempt = 1; attempt <= CONNECT_TRIES; attempt++) {
      if (await this.#openSocket()) return true
      this.recorder.connectFailures++
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS * attempt))
    }
    this.phase = 'dead'
    return false
  }

  join(kind: JoinKind): Promise<Answer> {
    const message: ClientMessage = {
      type: 'join',
      room: this.room.id,
      participant: this.participant,
      name: this.name,
      ...(this.#resume && { resume: this.#resume }),
    }
    const action = this.room.open(kind, this.participant, this, performance.now())
    return this.#send(message, action)
  }

  vote(card: Card): Promise<Answer> {
    const action = this.room.open('vote', this.participant, this, performance.now())
    return this.#send({ type: 'vote', card }, action, { card })
  }

  /** A game change; the caller holds the room's game lock (see Room.gameBusy). */
  changeGame(kind: GameKind, task = ''): Promise<Answer> {
    const action = this.room.open(kind, GAME_KEY, this, performance.now())
    const message: ClientMessage = kind === 'task' ? { type: kind, task } : { type: kind }
    return this.#send(message, action, { task })
  }

  /** The version of this client's own entry that its view holds. */
  ownRef(): string | undefined {
    const state = this.presence.state as PresenceState<RoomMeta>
    return state[this.participant]?.metas[0]?.phx_ref
  }

  /** Stands up: the server says nothing back, so the claim is the only answer. */
  leave(): void {
    const action = this.room.open('leave', this.participant, this, performance.now(), this.ownRef())
    if (!this.#write(JSON.stringify({ type: 'leave' } satisfies ClientMessage))) {
      this.room.drop(action, 'socket not open')
    }
    this.#endView()
    this.phase = 'standing'
  }

  /** Drops the socket the way a flaky network or a closed tab does. */
  drop(abrupt: boolean): void {
    const socket = this.#socket
    this.#socket = undefined
    this.#endView()
    this.phase = 'away'
    this.#answer({ outcome: 'dropped' }, 'socket closed')
    if (abrupt) socket?.terminate()
    else socket?.close()
  }

  // ---- sending --------------------------------------------------------------------------

  #send(message: ClientMessage, action: Action, extra: Partial<Pending> = {}): Promise<Answer> {
    this.#answer({ outcome: 'dropped' }, 'superseded')
    if (!this.#write(JSON.stringify(message))) {
      this.room.drop(action, 'socket not open')
      return Promise.resolve({ outcome: 'dropped' })
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#answer({ outcome: 'dropped' }, 'no answer'), ANSWER_MS)
      this.#pending = { action, resolve, timer, ...extra }
    })
  }

  #write(text: string): boolean {
    if (!this.open) return false
    this.#socket!.send(text)
    this.recorder.sent++
    return true
  }

  /** Ends the pending send; a drop reason also gives its claim up. */
  #answer(answer: Answer, dropReason?: string): void {
    const pending = this.#pending
    if (!pending) return
    this.#pending = undefined
    clearTimeout(pending.timer)
    if (dropReason) this.room.drop(pending.action, dropReason)
    pending.resolve(answer)
  }

  #openSocket(): Promise<boolean> {
    const started = performance.now()
    const socket = new WebSocket(this.url, { perMessageDeflate: false })
    return new Promise((resolve) => {
      socket.once('open', () => {
        this.recorder.connectionsOpened++
        this.recorder.connecting.add(performance.now() - started)
        this.#socket = socket
        socket.on('message', (data) => this.#frame(socket, data))
        socket.on('close', () => this.#closed(socket))
        resolve(true)
      })
      // Before the open, an error means no socket; after it, the close that follows counts.
      socket.on('error', () => resolve(false))
    })
  }

  // ---- receiving ------------------------------------------------------------------------

  #frame(socket: WebSocket, data: RawData): void {
    if (socket !== this.#socket) return
    const at = performance.now()
    const text = data.toString()
    this.recorder.frames++
    this.recorder.bytes += Buffer.isBuffer(data) ? data.length : Buffer.byteLength(text)
    const message = JSON.parse(text) as Incoming
    if ('event' in message) this.#presenceMessage(message, at)
    else this.#serverMessage(message)
  }

  #presenceMessage(message: Exclude<Incoming, ServerMessage>, at: number): void {
    if (message.event === 'presence_state') {
      this.presence.receive(message)
      this.#prevOwnRef = undefined
      if (this.phase === 'seated') this.viewValid = true
      this.#joinAnswered()
      return
    }
    if (message.event !== 'presence_diff') return
    const { joins, leaves } = message.payload
    this.#link(joins)
    if (this.viewValid) this.#sawJoins(joins, at)
    this.presence.receive(message)
    if (this.viewValid) this.#sawGone(leaves, at)
    const own = Object.hasOwn(joins, this.participant) ? joins[this.participant] : undefined
    this.#prevOwnRef = own?.metas.at(-1)?.phx_ref
    if (Object.hasOwn(joins, GAME_KEY)) this.#gameAnswered(joins[GAME_KEY]!.metas)
  }

  #sawJoins(joins: PresenceState<RoomMeta>, at: number): void {
    for (const key of Object.keys(joins)) {
      for (const meta of joins[key]!.metas) {
        this.room.sawJoin(this, key, meta.phx_ref, at)
        // The game was created (again): nobody's change, but game changes chain on it.
        if (key === GAME_KEY && meta.phx_ref_prev === undefined) this.room.gameRef = meta.phx_ref
      }
    }
  }

  #sawGone(leaves: PresenceState<RoomMeta>, at: number): void {
    const state = this.presence.state
    for (const key of Object.keys(leaves)) {
      if (Object.hasOwn(state, key)) continue
      this.room.sawGone(
        this,
        key,
        leaves[key]!.metas.map((meta) => meta.phx_ref),
        at,
      )
    }
  }

  /** Updates are facts whoever sees them: the room keeps each as a link. */
  #link(joins: PresenceState<RoomMeta>): void {
    for (const key of Object.keys(joins)) {
      if (key === GAME_KEY) continue
      for (const meta of joins[key]!.metas) {
        if (meta.phx_ref_prev !== undefined) this.room.link(meta.phx_ref, meta.phx_ref_prev)
      }
    }
  }

  #serverMessage(message: ServerMessage): void {
    if (message.type === 'joined') {
      this.#resume = { session: message.session, token: message.token }
      this.phase = 'seated'
      if (this.#pending) {
        this.recorder.joining.add(performance.now() - this.#pending.action.sentAt)
        this.#pending.joined = true
        this.#pending.resumed = message.resumed
      }
    } else if (message.type === 'card') {
      this.card = message.card
      this.#voteAnswered(message.card)
    } else {
      this.#error(message.code)
    }
  }

  /** A join is answered by its presence_state, which holds the entry it made. */
  #joinAnswered(): void {
    const pending = this.#pending
    if (!pending?.joined) return
    if (pending.resumed) {
      this.room.cancel(pending.action)
      this.#answer({ outcome: 'confirmed', resumed: true })
      return
    }
    const own = (this.presence.state as PresenceState<RoomMeta>)[this.participant]
    const ref = own?.metas[0]?.phx_ref
    if (ref === undefined) {
      this.#answer({ outcome: 'dropped' }, 'own entry missing from the state')
      return
    }
    this.room.confirm(pending.action, ref)
    this.#answer({ outcome: 'confirmed', resumed: false })
  }

  /** The server sends the voter its card right after the diff of the vote. */
  #voteAnswered(card: Card | null): void {
    const pending = this.#pending
    if (pending?.action.kind !== 'vote' || pending.card !== card) return
    const ref = this.#prevOwnRef
    if (ref === undefined) {
      this.#answer({ outcome: 'dropped' }, 'no diff right before the card')
      return
    }
    this.room.confirm(pending.action, ref)
    this.#answer({ outcome: 'confirmed' })
  }

  /** Only this client changes the game while it holds the lock: its next update is it. */
  #gameAnswered(metas: readonly WireMeta<RoomMeta>[]): void {
    const pending = this.#pending
    const kind = pending?.action.kind
    if (!pending || (kind !== 'task' && kind !== 'reveal' && kind !== 'reset')) return
    for (const meta of metas as readonly WireMeta<GameMeta>[]) {
      if (meta.phx_ref_prev === undefined) continue
      const expected =
        kind === 'task'
          ? meta.task === pending.task
          : meta.phase === (kind === 'reveal' ? 'revealed' : 'voting')
      if (!expected) continue
      this.room.gameRef = meta.phx_ref
      this.room.confirm(pending.action, meta.phx_ref)
      this.#answer({ outcome: 'confirmed' })
      return
    }
  }

  /**
   * An error answers the pending send, except during a join: the demo reports a failed
   * game start and still seats the page. A barrier sent behind it tells which it was.
   */
  #error(code: string): void {
    if (code === 'unknown_type' && this.#barriers.length > 0) {
      const { action, code: joinCode } = this.#barriers.shift()!
      if (this.#pending?.action === action && !this.#pending.joined) this.#refuse(joinCode)
      else this.recorder.strayErrors.add(`${action.kind}, seated anyway: ${joinCode}`)
      return
    }
    const pending = this.#pending
    if (!pending || pending.joined) {
      this.recorder.strayErrors.add(code)
      return
    }
    if (!isJoin(pending.action.kind)) {
      this.#refuse(code)
      return
    }
    this.#barriers.push({ action: pending.action, code })
    this.#write(BARRIER)
  }

  #refuse(code: string): void {
    const pending = this.#pending
    if (!pending) return
    this.recorder.refused.add(`${pending.action.kind}: ${code}`)
    this.room.cancel(pending.action)
    this.#answer({ outcome: 'refused' })
  }

  #closed(socket: WebSocket): void {
    if (socket !== this.#socket) return
    this.#socket = undefined
    this.recorder.unexpectedCloses++
    this.#endView()
    this.phase = 'away'
    this.#answer({ outcome: 'dropped' }, 'socket closed by the server')
  }

  #endView(): void {
    this.#barriers = []
    if (!this.viewValid) return
    this.viewValid = false
    const epoch = this.viewEpoch++
    this.room.viewEnded(this, epoch)
  }
}

function isJoin(kind: ActionKind): boolean {
  return kind === 'join' || kind === 'rejoin' || kind === 'resume'
}
