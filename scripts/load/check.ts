/**
 * The end-of-run check: the server's rooms (tracker.list per room) against what the
 * surviving connections hold (who is seated, with which name and card) and against what
 * each seated page's PresenceClient shows.
 */
import {
  GAME_KEY,
  type GameMeta,
  type ParticipantMeta,
  type RoomMeta,
} from '../../examples/poker/protocol.js'
import type { PresenceState } from '../../src/types.js'
import type { ServerState } from './admin.js'
import type { LoadClient } from './client.js'
import type { Room } from './room.js'

export interface CheckResult {
  passed: boolean
  rooms: number
  /** Participants the server lists, over all rooms. */
  listed: number
  /** Clients that hold a seat (joined, socket open). */
  seated: number
  /** Seated here, absent on the server. */
  lost: number
  /** Listed on the server, held by no connection. */
  invented: number
  /** Listed with more than one meta (one owner per participant is the rule). */
  duplicated: number
  /** Listed with a name or card other than the connection holds. */
  wrongMeta: number
  /** PresenceClients compared, and those that differ from the server's list. */
  views: number
  viewsDiffering: number
  /** The server's socket count against the open sockets here. */
  serverSockets: number
  openSockets: number
  /** The first few problems, readable. */
  problems: string[]
}

const SHOWN = 8

export function checkRooms(server: ServerState, rooms: Room[], clients: LoadClient[]): CheckResult {
  const result: CheckResult = {
    passed: false,
    rooms: rooms.length,
    listed: 0,
    seated: 0,
    lost: 0,
    invented: 0,
    duplicated: 0,
    wrongMeta: 0,
    views: 0,
    viewsDiffering: 0,
    serverSockets: server.clients,
    openSockets: clients.filter((client) => client.open).length,
    problems: [],
  }
  const problem = (text: string) => {
    if (result.problems.length < SHOWN) result.problems.push(text)
  }
  const known = new Set(rooms.map((room) => room.topic))
  for (const topic of Object.keys(server.rooms)) {
    if (known.has(topic)) continue
    result.invented++
    problem(`${topic}: a topic no client is in`)
  }
  for (const room of rooms) checkRoom(server.rooms[room.topic] ?? {}, room, result, problem)
  if (result.serverSockets !== result.openSockets) {
    problem(`${result.serverSockets} sockets on the server, ${result.openSockets} open here`)
  }
  result.passed =
    result.lost + result.invented + result.duplicated + result.wrongMeta === 0 &&
    result.viewsDiffering === 0 &&
    result.serverSockets === result.openSockets
  return result
}

function checkRoom(
  list: PresenceState<RoomMeta>,
  room: Room,
  result: CheckResult,
  problem: (text: string) => void,
): void {
  const seated = (room.members as LoadClient[]).filter((c) => c.phase === 'seated' && c.open)
  const keys = Object.keys(list).filter((key) => key !== GAME_KEY)
  const holders = new Set(seated.map((client) => client.participant))
  result.listed += keys.length
  result.seated += seated.length
  for (const key of keys) {
    if (!holders.has(key)) {
      result.invented++
      problem(`${room.topic}: ${key} is listed, but no connection holds it`)
    }
    if (list[key]!.metas.length !== 1) {
      result.duplicated++
      problem(`${room.topic}: ${key} has ${list[key]!.metas.length} metas`)
    }
  }
  if (keys.length === 0 && Object.hasOwn(list, GAME_KEY)) {
    result.invented++
    problem(`${room.topic}: a game is listed in an empty room`)
  }
  const game = list[GAME_KEY]?.metas[0] as GameMeta | undefined
  const expected = canonical(list)
  for (const client of seated) {
    const meta = list[client.participant]?.metas[0] as ParticipantMeta | undefined
    if (!meta) {
      result.lost++
      problem(`${room.topic}: ${client.participant} is seated, but not listed`)
    } else if (!ownMetaHolds(meta, client, game)) {
      result.wrongMeta++
      problem(`${room.topic}: ${client.participant} holds ${client.card}, listed ${show(meta)}`)
    }
    if (!client.viewValid) continue
    result.views++
    if (canonical(client.presence.state as PresenceState<RoomMeta>) !== expected) {
      result.viewsDiffering++
      problem(`${room.topic}: ${client.participant}'s PresenceClient differs from the list`)
    }
  }
}

/** The meta says what the connection knows: its name, whether it voted, and when shown, what. */
function ownMetaHolds(meta: ParticipantMeta, client: LoadClient, game?: GameMeta): boolean {
  const shown = game?.phase === 'revealed' ? client.card : null
  return meta.name === client.name && meta.voted === (client.card !== null) && meta.vote === shown
}

/** A state as text, independent of key and meta order; `phx_ref_prev` is history, not state. */
function canonical(state: PresenceState<RoomMeta>): string {
  const keys = Object.keys(state).sort()
  return JSON.stringify(
    keys.map((key) => [
      key,
      state[key]!.metas.map(({ phx_ref_prev: _prev, ...meta }) => sortFields(meta)).sort((a, b) =>
        String(a.phx_ref).localeCompare(String(b.phx_ref)),
      ),
    ]),
  )
}

function sortFields(meta: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(meta).sort(([a], [b]) => a.localeCompare(b)))
}

function show(meta: ParticipantMeta): string {
  return JSON.stringify({ name: meta.name, vote: meta.vote, voted: meta.voted })
}
