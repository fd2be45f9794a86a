/**
 * The planning-poker rooms on top of a rollcall Tracker: sessions, the messages a page
 * sends, and the game entry everybody in a room may change.
 *
 * - Every socket is a session; the session id is the owner of the participant's entry.
 *   A page that reconnects within the grace period takes its session back (resume),
 *   so the others see nothing at all.
 * - The game is a standalone name, `game:<room>`, created with `releaseWhenAlone`: it
 *   outlives whoever started it and goes when the room empties.
 * - A picked card is kept here, by the session, and never enters the meta while the
 *   round is voting (the meta says only `voted: true`). When the game turns to
 *   `revealed`, every node writes the cards of its own sessions into their metas.
 * - Targets that a message names (another participant, another room) go to the tracker
 *   as they are: its owner check and `canWrite` are what refuse a foreign write.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { PresenceError, type PresenceEvent, type Tracker } from '../../src/index.js'
import type { PresenceMessage } from '../../src/types.js'
import {
  type Card,
  type ClientMessage,
  GAME_KEY,
  type GameMeta,
  gameName,
  type ParticipantMeta,
  PokerError,
  parseClientMessage,
  type RoomMeta,
  roomTopic,
  type ServerMessage,
} from './protocol.js'

export type PokerTracker = Tracker<RoomMeta>

/** A socket as the rooms see it. */
export interface Peer {
  send(message: ServerMessage | PresenceMessage<RoomMeta>): void
  /** Drops the socket at once; its close comes back through {@link PokerRooms.closed}. */
  terminate(): void
}

/** One socket: the session it speaks for changes when it takes an old session back. */
export interface Connection {
  readonly peer: Peer
  session: Session | undefined
  /** Messages of one socket are handled one after another. */
  queue: Promise<void>
}

export interface Session {
  readonly id: string
  readonly token: string
  conn: Connection | undefined
  room: string | undefined
  participant: string
  name: string
  /** The hidden card and the round it was picked in. */
  card: Card | null
  cardRound: number
  unsubscribe: (() => void) | undefined
  expiry: ReturnType<typeof setTimeout> | undefined
}

export interface RoomsOptions {
  /** How long a dropped socket's participant stays, waiting for the page to come back. */
  graceMs: number
  log?: (level: 'info' | 'warn' | 'error', message: string, data?: object) => void
}

type Handlers = {
  [T in ClientMessage['type']]: (
    conn: Connection,
    message: Extract<ClientMessage, { type: T }>,
  ) => void | Promise<void>
}

const NEW_GAME: GameMeta = { task: '', phase: 'voting', round: 1 }

/** How soon a reveal or reset that hit a participant's rate limit is written again. */
const RETRY_MS = 250

export class PokerRooms {
  readonly #tracker: PokerTracker
  readonly #options: RoomsOptions
  readonly #sessions = new Map<string, Session>()
  /** This node's sessions in each room topic. */
  readonly #members = new Map<string, Set<Session>>()
  readonly #pendingSync = new Set<string>()
  readonly #retryTopics = new Set<string>()
  #retry: ReturnType<typeof setTimeout> | undefined
  #counter = 0

  readonly #handlers: Handlers = {
    join: (conn, message) => this.#join(conn, message),
    vote: (conn, message) => this.#vote(conn, message.card, message.participant),
    reveal: (conn, message) =>
      this.#writeGame(conn, message.room, (game) => ({ ...game, phase: 'revealed' })),
    reset: (conn, message) =>
      this.#writeGame(conn, message.room, (game) => ({
        ...game,
        phase: 'voting',
        round: game.round + 1,
      })),
    task: (conn, message) =>
      this.#writeGame(conn, message.room, (game) => ({ ...game, task: message.task })),
    leave: (conn) => this.#leave(conn),
  }

  constructor(tracker: PokerTracker, options: RoomsOptions) {
    this.#tracker = tracker
    this.#options = options
    const gameChanged = ({ topic, key }: { topic: string; key: string }) => {
      if (key === GAME_KEY) this.#scheduleSync(topic)
    }
    tracker.on('update', gameChanged)
    tracker.on('join', gameChanged)
    tracker.on('leave', (event) => this.#left(event))
  }

  /** A socket opened. */
  connect(peer: Peer): Connection {
    const conn: Connection = { peer, session: undefined, queue: Promise.resolve() }
    conn.session = this.#newSession(conn)
    return conn
  }

  /** A frame came from a socket. Errors go back to that socket only. */
  receive(conn: Connection, text: string): Promise<void> {
    conn.queue = conn.queue.then(() => this.#handle(conn, text))
    return conn.queue
  }

  /** The socket answered a ping: its session is alive. */
  alive(conn: Connection): void {
    const session = conn.session
    if (session?.room !== undefined) this.#tracker.touch(session.id)
  }

  /** Whether the socket has joined a room (the tracker's TTL watches it then). */
  joined(conn: Connection): boolean {
    return conn.session?.room !== undefined
  }

  /** The socket closed: its participant stays for the grace period, then leaves. */
  closed(conn: Connection): void {
    const session = conn.session
    if (!session) return
    this.#detach(session)
    if (!this.#ownEntry(session)) {
      this.#forget(session)
      return
    }
    this.#tracker.suspend(session.id, this.#options.graceMs)
    // Forget the session record after the tracker's own grace timer has had its turn.
    session.expiry = setTimeout(() => this.#forget(session), this.#options.graceMs + 1_000)
    session.expiry.unref()
  }

  /** Stops the retry timer and forgets every session; the tracker is the caller's. */
  close(): void {
    clearTimeout(this.#retry)
    for (const session of [...this.#sessions.values()]) this.#forget(session)
  }

  // ---- messages -----------------------------------------------------------------------

  async #handle(conn: Connection, text: string): Promise<void> {
    try {
      const message = parseClientMessage(text)
      this.alive(conn)
      const handler = this.#handlers[message.type] as (
        conn: Connection,
        message: ClientMessage,
      ) => void | Promise<void>
      await handler(conn, message)
    } catch (error) {
      conn.peer.send(this.#errorMessage(error))
    }
  }

  async #join(conn: Connection, message: Extract<ClientMessage, { type: 'join' }>) {
    if (message.resume && this.#resume(conn, message)) return
    const session = this.#session(conn)
    this.#leaveRoom(session)

    const topic = roomTopic(message.room)
    const game = this.#game(topic)
    session.participant = message.participant
    session.name = message.name
    session.card = null
    session.cardRound = game?.round ?? NEW_GAME.round
    this.#tracker.track(session.id, topic, message.participant, participantMeta(session, game))
    session.room = message.room
    addTo(this.#members, topic, session)

    try {
      await this.#ensureGame(session, message.room)
    } catch (error) {
      conn.peer.send(this.#errorMessage(error))
    }
    this.#welcome(conn, session, false)
  }

  /** Takes an old session back for a reconnecting page; false when that cannot be done. */
  #resume(conn: Connection, message: Extract<ClientMessage, { type: 'join' }>): boolean {
    const old = this.#sessions.get(message.resume!.session)
    const current = this.#session(conn)
    if (!old || old === current || !sameSecret(old.token, message.resume!.token)) return false
    if (old.room !== message.room || old.participant !== message.participant) return false

    if (old.conn) {
      // The old socket still looks open (half-open, or the page reloaded faster than its
      // close arrived): the token proves the page, so the new socket wins.
      const stale = old.conn.peer
      this.#detach(old)
      stale.terminate()
    } else if (!this.#tracker.resume(old.id)) {
      this.#forget(old)
      return false
    }

    clearTimeout(old.expiry)
    this.#leaveRoom(current)
    this.#forget(current)
    conn.session = old
    old.conn = conn
    this.#tracker.touch(old.id)
    if (old.name !== message.name) {
      old.name = message.name
      this.#syncSession(old, this.#game(roomTopic(old.room)))
    }
    this.#welcome(conn, old, true)
    return true
  }

  /** Tells the page it is in, subscribes its socket, and hands it its hidden card. */
  #welcome(conn: Connection, session: Session, resumed: boolean): void {
    const room = session.room!
    const { id, token, participant } = session
    conn.peer.send({ type: 'joined', room, participant, session: id, token, resumed })
    conn.peer.send({ type: 'card', card: session.card, round: session.cardRound })
    session.unsubscribe = this.#tracker.subscribe(roomTopic(room), (presence) => {
      session.conn?.peer.send(presence)
    })
  }

  #vote(conn: Connection, card: Card | null, participant: string | undefined): void {
    const session = this.#joinedSession(conn)
    const topic = roomTopic(session.room!)
    const game = this.#game(topic)
    if (game?.phase === 'revealed') {
      throw new PokerError('not_voting', 'The cards are on the table: start a new round first.')
    }
    const meta: ParticipantMeta = { name: session.name, vote: null, voted: card !== null }
    // A foreign participant id goes to the tracker as it came: it throws `nopresence`.
    this.#tracker.update(session.id, topic, participant ?? session.participant, meta)

    session.card = card
    session.cardRound = game?.round ?? session.cardRound
    conn.peer.send({ type: 'card', card, round: session.cardRound })
  }

  /** Changes the game through its name, on behalf of this session (`canWrite` checks). */
  async #writeGame(
    conn: Connection,
    room: string | undefined,
    change: (game: GameMeta) => GameMeta,
  ): Promise<void> {
    const session = this.#joinedSession(conn)
    const target = room ?? session.room!
    if (target === session.room) await this.#ensureGame(session, target)
    await this.#tracker.names.update(
      { name: gameName(target), as: session.id },
      roomTopic(target),
      GAME_KEY,
      (prev) => change(prev as GameMeta),
    )
  }

  #leave(conn: Connection): void {
    const session = this.#session(conn)
    this.#leaveRoom(session)
  }

  // ---- the game -----------------------------------------------------------------------

  #game(topic: string): GameMeta | undefined {
    return this.#tracker.get(topic, GAME_KEY)[0]?.meta as GameMeta | undefined
  }

  /** Creates the room's game when it has none: the first participant in starts it. */
  async #ensureGame(session: Session, room: string): Promise<void> {
    const topic = roomTopic(room)
    const name = gameName(room)
    if (this.#game(topic)) return
    try {
      if (!this.#tracker.names.lookup(name)) {
        this.#tracker.names.create(name, { releaseWhenAlone: topic })
      }
      await this.#tracker.names.track({ name, as: session.id }, topic, GAME_KEY, NEW_GAME)
    } catch (error) {
      // Another session (maybe on another node) started it at the same moment.
      if (isCode(error, 'name_taken') || isCode(error, 'already_tracked')) return
      throw error
    }
  }

  #scheduleSync(topic: string): void {
    if (!this.#members.has(topic) || this.#pendingSync.has(topic)) return
    this.#pendingSync.add(topic)
    // After the game's own diff has gone out, so pages see the phase before the cards.
    queueMicrotask(() => {
      this.#pendingSync.delete(topic)
      const game = this.#game(topic)
      for (const session of this.#members.get(topic) ?? []) {
        try {
          this.#syncSession(session, game)
        } catch (error) {
          this.#options.log?.('error', 'could not show a participant the game', { error })
        }
      }
    })
  }

  /** Makes the session's meta match the game: a new round clears, a reveal shows. */
  #syncSession(session: Session, game: GameMeta | undefined): void {
    if (game && session.cardRound !== game.round) {
      session.card = null
      session.cardRound = game.round
      session.conn?.peer.send({ type: 'card', card: null, round: game.round })
    }
    const entry = this.#ownEntry(session)
    const next = participantMeta(session, game)
    if (!entry || sameParticipant(entry.meta as ParticipantMeta, next)) return
    try {
      this.#tracker.update(session.id, entry.topic, session.participant, next)
    } catch (error) {
      if (!isCode(error, 'rate_limited')) throw error
      this.#retryLater(entry.topic)
    }
  }

  #retryLater(topic: string): void {
    this.#retryTopics.add(topic)
    if (this.#retry) return
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      const topics = [...this.#retryTopics]
      this.#retryTopics.clear()
      for (const each of topics) this.#scheduleSync(each)
    }, RETRY_MS)
    this.#retry.unref()
  }

  // ---- sessions -----------------------------------------------------------------------

  #newSession(conn: Connection): Session {
    const session: Session = {
      id: `conn-${++this.#counter}@${this.#tracker.nodeId}`,
      token: randomBytes(18).toString('base64url'),
      conn,
      room: undefined,
      participant: '',
      name: '',
      card: null,
      cardRound: 0,
      unsubscribe: undefined,
      expiry: undefined,
    }
    this.#sessions.set(session.id, session)
    return session
  }

  #session(conn: Connection): Session {
    if (conn.session) return conn.session
    throw new PokerError('internal', 'This socket has no session any more; reconnect.')
  }

  #joinedSession(conn: Connection): Session {
    const session = this.#session(conn)
    if (session.room !== undefined) return session
    throw new PokerError('not_joined', 'Join a room first: send { type: "join", ... }.')
  }

  #ownEntry(session: Session) {
    if (session.room === undefined) return undefined
    const topic = roomTopic(session.room)
    const entries = this.#tracker.get(topic, session.participant)
    const own = entries.find((e) => e.owner === session.id && e.node === this.#tracker.nodeId)
    return own && { topic, meta: own.meta }
  }

  /** The session's socket is gone (closed, or replaced by a newer one). */
  #detach(session: Session): void {
    session.unsubscribe?.()
    session.unsubscribe = undefined
    if (session.conn) session.conn.session = undefined
    session.conn = undefined
  }

  #leaveRoom(session: Session): void {
    if (session.room === undefined) return
    const topic = roomTopic(session.room)
    session.unsubscribe?.()
    session.unsubscribe = undefined
    removeFrom(this.#members, topic, session)
    session.room = undefined
    this.#tracker.untrack(session.id, topic, session.participant)
  }

  #forget(session: Session): void {
    clearTimeout(session.expiry)
    if (session.room !== undefined) removeFrom(this.#members, roomTopic(session.room), session)
    this.#sessions.delete(session.id)
    this.#detach(session)
  }

  /** A participant left on its own (grace or TTL ran out): drop what is kept for it. */
  #left(event: PresenceEvent<RoomMeta>): void {
    if (event.origin !== 'timeout' || event.node !== this.#tracker.nodeId) return
    const session = this.#sessions.get(event.owner)
    if (!session || this.#ownEntry(session)) return
    const peer = session.conn?.peer
    this.#forget(session)
    // The TTL ran out on a socket that still looks open: it is half-open, so drop it.
    peer?.terminate()
  }

  #errorMessage(error: unknown): ServerMessage {
    if (error instanceof PokerError || error instanceof PresenceError) {
      return { type: 'error', code: error.code, message: error.message }
    }
    this.#options.log?.('error', 'a message handler failed', { error })
    return { type: 'error', code: 'internal', message: 'Something went wrong on the server.' }
  }
}

function participantMeta(session: Session, game: GameMeta | undefined): ParticipantMeta {
  const revealed = game?.phase === 'revealed'
  return { name: session.name, vote: revealed ? session.card : null, voted: session.card !== null }
}

function sameParticipant(a: ParticipantMeta, b: ParticipantMeta): boolean {
  return a.name === b.name && a.vote === b.vote && a.voted === b.voted
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof PresenceError && error.code === code
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key)
  if (set) set.add(value)
  else map.set(key, new Set([value]))
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key)
  if (!set) return
  set.delete(value)
  if (set.size === 0) map.delete(key)
}
