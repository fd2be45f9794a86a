/**
 * The planning-poker page. Presence comes from `rollcall/client` (imported from the
 * source here; an app writes `import { PresenceClient } from 'rollcall/client'`), fed
 * with the messages the server forwards from `tracker.subscribe`.
 *
 * A tab keeps its participant id in sessionStorage, so a reload is the same person, and
 * the session credentials the server handed out, so a reconnect takes the session back.
 */
import { PresenceClient } from '../../src/client/index.js'
import {
  type Card,
  GAME_KEY,
  type GameMeta,
  type Incoming,
  LIMITS,
  type ParticipantMeta,
  type Resume,
  type RoomMeta,
  type ServerMessage,
} from './protocol.js'
import { ReconnectingSocket, type SocketStatus } from './socket.js'
import { drawHand, drawPeople, drawSummary, type Person, updateHand } from './view.js'

const STORE = {
  participant: 'poker:participant',
  name: 'poker:name',
  resume: (room: string) => `poker:resume:${room}`,
}

const STATUS_TEXT: Record<SocketStatus, string> = {
  connecting: 'Connecting…',
  online: 'Live',
  offline: 'Reconnecting…',
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T
}

function randomId(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length))
  return Array.from(bytes, (byte) => 'abcdefghijkmnpqrstuvwxyz23456789'[byte % 32]).join('')
}

function roomFromUrl(): string {
  const query = new URLSearchParams(location.search).get('room')
  const room = query ?? decodeURIComponent(location.hash.slice(1))
  if (LIMITS.room.test(room)) return room
  const fresh = randomId(8)
  history.replaceState(null, '', `${location.pathname}#${fresh}`)
  return fresh
}

/**
 * The tab's participant id. A duplicated tab copies sessionStorage, so before reusing a
 * stored id the page asks the other tabs whether one of them is using it.
 */
async function claimParticipant(): Promise<string> {
  const channel = new BroadcastChannel('planning-poker')
  let id = sessionStorage.getItem(STORE.participant)
  if (id && (await inUseElsewhere(channel, id))) id = null
  id ??= `p-${randomId(12)}`
  sessionStorage.setItem(STORE.participant, id)
  const mine = id
  channel.onmessage = (event) => {
    if (event.data?.ask === mine) channel.postMessage({ mine })
  }
  return id
}

function inUseElsewhere(channel: BroadcastChannel, id: string): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 150)
    channel.onmessage = (event) => {
      if (event.data?.mine !== id) return
      clearTimeout(timer)
      resolve(true)
    }
    channel.postMessage({ ask: id })
  })
}

class PokerPage {
  room = roomFromUrl()
  name = sessionStorage.getItem(STORE.name) ?? undefined
  card: Card | null = null
  cardRound = 0
  status: SocketStatus = 'connecting'
  presence = this.#newPresence()
  readonly socket: ReconnectingSocket
  #toastTimer: ReturnType<typeof setTimeout> | undefined

  constructor(readonly participant: string) {
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`
    this.socket = new ReconnectingSocket(url, {
      open: () => this.#opened(),
      message: (message) => this.#received(message),
      status: (status) => this.#showStatus(status),
    })
  }

  start(): void {
    this.#bindControls()
    this.render()
    this.socket.start()
  }

  #newPresence(): PresenceClient<RoomMeta> {
    const presence = new PresenceClient<RoomMeta>()
    presence.on('sync', () => this.render())
    return presence
  }

  // ---- talking to the server ----------------------------------------------------------

  #opened(): void {
    // Diffs wait for the new presence_state, which is reconciled into what changed.
    this.presence.reset()
    if (this.name) this.#join()
  }

  #join(): void {
    if (!this.name) return
    const stored = sessionStorage.getItem(STORE.resume(this.room))
    const resume = stored ? (JSON.parse(stored) as Resume) : undefined
    const { room, participant, name } = this
    this.socket.send({ type: 'join', room, participant, name, ...(resume && { resume }) })
  }

  #received(message: Incoming): void {
    if ('event' in message) this.presence.receive(message)
    else this.#handlers[message.type](message as never)
  }

  readonly #handlers: {
    [T in ServerMessage['type']]: (m: Extract<ServerMessage, { type: T }>) => void
  } = {
    joined: (message) => {
      const resume: Resume = { session: message.session, token: message.token }
      sessionStorage.setItem(STORE.resume(message.room), JSON.stringify(resume))
    },
    card: (message) => {
      this.card = message.card
      this.cardRound = message.round
      this.render()
    },
    error: (message) => {
      if (message.code === 'invalid_name') this.#forgetName()
      this.toast(message.message)
    },
  }

  // ---- controls -----------------------------------------------------------------------

  #bindControls(): void {
    byId('join-form').addEventListener('submit', (event) => {
      event.preventDefault()
      const name = byId<HTMLInputElement>('name').value.trim()
      if (!name) return
      this.name = name
      sessionStorage.setItem(STORE.name, name)
      localStorage.setItem(STORE.name, name)
      this.#join()
      this.render()
      byId('main').focus()
    })
    byId<HTMLInputElement>('name').value = localStorage.getItem(STORE.name) ?? ''
    byId('task-form').addEventListener('submit', (event) => {
      event.preventDefault()
      const input = byId<HTMLInputElement>('task')
      if (this.#send({ type: 'task', task: input.value.trim() })) input.value = ''
    })
    byId('reveal').addEventListener('click', () => this.#send({ type: 'reveal' }))
    byId('reset').addEventListener('click', () => this.#send({ type: 'reset' }))
    drawHand(byId('hand'), (card) => this.#pick(card))
    byId('copy-link').addEventListener('click', () => this.#copyLink())
    this.#bindRoomLinks()
  }

  #bindRoomLinks(): void {
    const newRoom = byId<HTMLAnchorElement>('new-room')
    const refresh = () => {
      newRoom.href = `#${randomId(8)}`
    }
    refresh()
    addEventListener('hashchange', () => {
      refresh()
      const room = roomFromUrl()
      if (room === this.room) return
      this.room = room
      this.card = null
      this.presence = this.#newPresence()
      this.#join()
      this.render()
    })
  }

  #pick(card: Card): void {
    const next = this.card === card ? null : card
    if (this.#send({ type: 'vote', card: next })) this.card = next
    this.render()
  }

  #send(message: Parameters<ReconnectingSocket['send']>[0]): boolean {
    if (this.socket.send(message)) return true
    this.toast('Not connected right now; trying again in a moment.')
    return false
  }

  async #copyLink(): Promise<void> {
    try {
      await navigator.clipboard.writeText(location.href)
      this.toast('Link copied: send it to your team.')
    } catch {
      this.toast(`Share this link: ${location.href}`)
    }
  }

  #forgetName(): void {
    this.name = undefined
    sessionStorage.removeItem(STORE.name)
    this.render()
  }

  // ---- drawing ------------------------------------------------------------------------

  render(): void {
    byId('room-id').textContent = this.room
    byId('join').hidden = this.name !== undefined
    byId('game').hidden = this.name === undefined
    const game = this.presence.state[GAME_KEY]?.metas.at(-1) as GameMeta | undefined
    const people = this.#people()
    this.#drawTask(game)
    drawPeople(byId('people'), people, game, this.participant)
    drawSummary(byId('summary'), people, game)
    this.#drawControls(game, people)
  }

  #people(): Person[] {
    const people = this.presence.list((key, { metas }) => {
      const meta = metas.at(-1) as ParticipantMeta
      return { key, name: meta.name, voted: meta.voted, vote: meta.vote }
    })
    return people
      .filter((person) => person.key !== GAME_KEY)
      .sort((a, b) => a.name.localeCompare(b.name) || a.key.localeCompare(b.key))
  }

  #drawTask(game: GameMeta | undefined): void {
    const title = byId('task-title')
    const task = game?.task ?? ''
    title.textContent = task || 'No task yet'
    title.classList.toggle('empty', !task)
    byId('round').textContent = String(game?.round ?? 1)
    byId('phase').textContent = game?.phase === 'revealed' ? 'Cards revealed' : 'Voting'
    document.title = task ? `${task} · Planning poker` : 'Planning poker · rollcall'
  }

  #drawControls(game: GameMeta | undefined, people: Person[]): void {
    const voting = game?.phase !== 'revealed'
    const online = this.status === 'online' && game !== undefined
    const voted = people.filter((person) => person.voted).length
    byId('progress').textContent = people.length ? `${voted} of ${people.length} voted` : ''

    const reveal = byId<HTMLButtonElement>('reveal')
    const reset = byId<HTMLButtonElement>('reset')
    reveal.disabled = !online || !voting
    reset.disabled = !online
    reveal.classList.toggle('primary', voting)
    reset.classList.toggle('primary', !voting)

    const picked = game && this.cardRound === game.round ? this.card : null
    updateHand(byId('hand'), picked, voting && online)
  }

  #showStatus(status: SocketStatus): void {
    this.status = status
    const badge = byId('status')
    badge.dataset.state = status
    badge.textContent = STATUS_TEXT[status]
    this.render()
  }

  toast(text: string): void {
    const box = byId('toast')
    box.textContent = text
    box.hidden = false
    clearTimeout(this.#toastTimer)
    this.#toastTimer = setTimeout(() => {
      box.hidden = true
    }, 4_000)
  }
}

claimParticipant().then((participant) => new PokerPage(participant).start())
