/**
 * What the planning-poker server and page say to each other. Browser-safe: the page's
 * bundle imports it too, so both sides agree on cards, limits and message shapes.
 *
 * Presence messages (`presence_state`, `presence_diff`) travel as `tracker.subscribe`
 * hands them out, unchanged; every other message has a `type`.
 */
import type { PresenceMessage } from '../../src/types.js'

/** The deck, in the order the page shows it. */
export const CARDS = ['0', '1', '2', '3', '5', '8', '13', '21', '?', '☕'] as const

export type Card = (typeof CARDS)[number]

/**
 * A participant's entry in `room:<id>`, keyed by the participant id. `vote` stays null
 * while the round is voting, whatever was picked: the card itself is kept by the server
 * of the participant's connection and enters the meta only once the round is revealed.
 */
export interface ParticipantMeta {
  name: string
  vote: Card | null
  voted: boolean
}

/** The room's game, one entry under {@link GAME_KEY}, owned by the name `game:<id>`. */
export interface GameMeta {
  task: string
  phase: 'voting' | 'revealed'
  round: number
}

/** Every meta of a room; the key tells which one it is ({@link GAME_KEY} or a participant). */
export type RoomMeta = ParticipantMeta | GameMeta

/** The key of the game entry. Participant ids start with `p-`, so they never clash. */
export const GAME_KEY = 'game'

export const LIMITS = {
  name: 40,
  task: 200,
  /** Room ids are short and URL-safe: they live in the page's address. */
  room: /^[A-Za-z0-9_-]{1,40}$/,
  participant: /^p-[A-Za-z0-9_-]{6,40}$/,
} as const

export function roomTopic(room: string): string {
  return `room:${room}`
}

export function gameName(room: string): string {
  return `game:${room}`
}

export function isCard(value: unknown): value is Card {
  return typeof value === 'string' && (CARDS as readonly string[]).includes(value)
}

export function isGame(key: string, _meta: RoomMeta): _meta is GameMeta {
  return key === GAME_KEY
}

/** Credentials that let a reconnecting page take its old session back. */
export interface Resume {
  session: string
  token: string
}

/** Messages from the page. Targets (`participant`, `room`) default to the page's own. */
export type ClientMessage =
  | { type: 'join'; room: string; participant: string; name: string; resume?: Resume }
  | { type: 'vote'; card: Card | null; participant?: string }
  | { type: 'reveal'; room?: string }
  | { type: 'reset'; room?: string }
  | { type: 'task'; task: string; room?: string }
  | { type: 'leave' }

export type ClientMessageType = ClientMessage['type']

/** Why the server refused a message; PresenceError codes of the tracker pass through too. */
export type ErrorCode =
  | 'bad_json'
  | 'bad_message'
  | 'unknown_type'
  | 'invalid_card'
  | 'invalid_name'
  | 'invalid_room'
  | 'invalid_participant'
  | 'invalid_task'
  | 'not_joined'
  | 'not_voting'
  | 'no_game'
  | 'internal'

/** Messages from the server that are not presence messages. */
export type ServerMessage =
  | {
      type: 'joined'
      room: string
      participant: string
      /** Keep these to take the session back after a reconnect. */
      session: string
      token: string
      /** True when the old session was taken back: nobody saw a leave and a join. */
      resumed: boolean
    }
  /** Your own card, sent only to you, so a reloaded page shows what it picked. */
  | { type: 'card'; card: Card | null; round: number }
  | { type: 'error'; code: ErrorCode | string; message: string }

export type Incoming = ServerMessage | PresenceMessage<RoomMeta>

/** Thrown by the server's handlers and sent back to the one socket that caused it. */
export class PokerError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'PokerError'
  }
}

type Fields = Record<string, unknown>
type Parser = (fields: Fields) => ClientMessage

/** One parser per message type: each checks its fields and returns a typed message. */
const PARSERS: Record<ClientMessageType, Parser> = {
  join: (m) => ({
    type: 'join',
    room: checkRoom(m.room),
    participant: checkParticipant(m.participant),
    name: checkName(m.name),
    ...(m.resume === undefined ? {} : { resume: checkResume(m.resume) }),
  }),
  vote: (m) => ({ type: 'vote', card: checkVote(m.card), ...optionalParticipant(m) }),
  reveal: (m) => ({ type: 'reveal', ...optionalRoom(m) }),
  reset: (m) => ({ type: 'reset', ...optionalRoom(m) }),
  task: (m) => ({ type: 'task', task: checkTask(m.task), ...optionalRoom(m) }),
  leave: () => ({ type: 'leave' }),
}

/** Parses one frame from the page, or throws a {@link PokerError} that says what is wrong. */
export function parseClientMessage(text: string): ClientMessage {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new PokerError('bad_json', 'Expected a JSON object, got text that is not JSON.')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PokerError('bad_message', 'Expected a JSON object with a "type".')
  }
  const fields = value as Fields
  const type = fields.type
  if (typeof type !== 'string' || !Object.hasOwn(PARSERS, type)) {
    const known = Object.keys(PARSERS).join(', ')
    throw new PokerError('unknown_type', `Expected "type" to be one of ${known}.`)
  }
  return PARSERS[type as ClientMessageType](fields)
}

export function checkName(value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : ''
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused
  if (name === '' || name.length > LIMITS.name || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new PokerError(
      'invalid_name',
      `Expected a name of 1 to ${LIMITS.name} printable characters.`,
    )
  }
  return name
}

export function checkRoom(value: unknown): string {
  if (typeof value === 'string' && LIMITS.room.test(value)) return value
  throw new PokerError('invalid_room', 'Expected a room id of 1 to 40 letters, digits, - or _.')
}

function checkParticipant(value: unknown): string {
  if (typeof value === 'string' && LIMITS.participant.test(value)) return value
  throw new PokerError(
    'invalid_participant',
    'Expected a participant id such as "p-k3j9x2q1" (p- and 6 to 40 letters or digits).',
  )
}

function checkVote(value: unknown): Card | null {
  if (value === null || isCard(value)) return value
  throw new PokerError('invalid_card', `Expected a card of ${CARDS.join(' ')} or null.`)
}

function checkTask(value: unknown): string {
  if (typeof value === 'string' && value.trim().length <= LIMITS.task) return value.trim()
  throw new PokerError('invalid_task', `Expected a task of at most ${LIMITS.task} characters.`)
}

function checkResume(value: unknown): Resume {
  const resume = value as Partial<Resume> | null
  if (typeof resume?.session === 'string' && typeof resume.token === 'string') {
    return { session: resume.session, token: resume.token }
  }
  throw new PokerError('bad_message', 'Expected "resume" to be { session, token }.')
}

function optionalRoom(fields: Fields): { room?: string } {
  return fields.room === undefined ? {} : { room: checkRoom(fields.room) }
}

function optionalParticipant(fields: Fields): { participant?: string } {
  if (fields.participant === undefined) return {}
  return { participant: checkParticipant(fields.participant) }
}
