/**
 * The load itself: fill the rooms, then let every client act on its own for a while
 * (vote, change its vote, change the task, leave and come back, drop its socket and
 * reconnect within or beyond the grace period) while one member per room deals the
 * rounds (reveal, reset). Everything stops by itself: at the deadline, or once the step
 * budget is spent; every wait is bounded.
 */
import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { CARDS, type Card } from '../../examples/poker/protocol.js'
import { type GameKind, type JoinKind, LoadClient } from './client.js'
import { seeded } from './metrics.js'
import type { LoadOptions } from './options.js'
import type { Mark, Recorder } from './recorder.js'
import { Room } from './room.js'

/** Step weights of a seated client; a vote is the rest. */
const MIX = { flapBeyond: 0.02, flapWithin: 0.06, leave: 0.04, task: 0.06 }
const VOTE_CARDS = CARDS.filter((card) => card !== '☕')
/** How long a flap beyond the grace period waits for everybody to see it leave. */
const SETTLE_MS = 10_000
/** At the end: how long open claims may take, and the silence that means "done". */
const DRAIN_MS = 30_000
const QUIET_MS = 500
const QUIET_MAX_MS = 10_000

export interface DriveHooks {
  /** Everyone is seated; the clients start acting after this resolves. */
  steadyStart?: () => Promise<void>
  /** The deadline passed (or the budget ran out); before the drain. */
  steadyEnd?: () => Promise<void>
}

export interface DriveResult {
  /** `seated`: clients holding a seat once the ramp was over. */
  ramp: { start: Mark; end: Mark; seated: number }
  steady: { start: Mark; end: Mark }
}

export class Driver {
  readonly rooms: Room[]
  readonly clients: LoadClient[]
  readonly #options: LoadOptions
  readonly #recorder: Recorder
  readonly #random: () => number
  readonly #stop = new AbortController()
  #taskCounter = 0

  constructor(options: LoadOptions, url: string, recorder: Recorder) {
    this.#options = options
    this.#recorder = recorder
    this.#random = seeded(options.seed)
    // Every sleeping client listens for the stop.
    setMaxListeners(0, this.#stop.signal)
    this.rooms = Array.from({ length: options.rooms }, (_, i) => new Room(`load${i}`, recorder))
    const ws = `${url.replace(/^http/, 'ws')}/ws`
    this.clients = Array.from({ length: options.connections }, (_, i) => {
      const participant = `p-load${String(i).padStart(6, '0')}`
      return new LoadClient(i, participant, this.rooms[i % options.rooms]!, ws, recorder)
    })
  }

  get stopping(): boolean {
    return this.#stop.signal.aborted
  }

  /** Fills the rooms, acts until the deadline or the budget, then lets everything land. */
  async run(hooks: DriveHooks = {}): Promise<DriveResult> {
    const rampStart = this.#recorder.mark()
    await this.#ramp()
    const rampEnd = this.#recorder.mark()
    const seated = this.clients.filter((client) => client.phase === 'seated').length
    await hooks.steadyStart?.()

    const steadyStart = this.#recorder.mark()
    const deadline = setTimeout(() => this.#stop.abort(), this.#options.seconds * 1000)
    await Promise.all([
      ...this.clients.map((client) => this.#life(client)),
      ...this.rooms.map((room) => this.#dealer(room)),
    ])
    clearTimeout(deadline)
    this.#stop.abort()
    const steadyEnd = this.#recorder.mark()
    await hooks.steadyEnd?.()

    await Promise.all(this.clients.filter((c) => c.phase === 'away').map((c) => this.#back(c)))
    await this.#drain()
    return {
      ramp: { start: rampStart, end: rampEnd, seated },
      steady: { start: steadyStart, end: steadyEnd },
    }
  }

  /** Closes every socket on purpose. */
  closeAll(): void {
    for (const client of this.clients) if (client.open) client.drop(false)
  }

  // ---- phases ---------------------------------------------------------------------------

  async #ramp(): Promise<void> {
    const perTick = Math.max(1, Math.round(this.#options.connectRate / 100))
    const entering: Promise<unknown>[] = []
    for (let i = 0; i < this.clients.length; i += perTick) {
      for (const client of this.clients.slice(i, i + perTick)) {
        entering.push(this.#back(client, 'join'))
      }
      await sleep(10)
    }
    await Promise.all(entering)
  }

  /** One client's steps, each after a think time; ends at the deadline or the budget. */
  async #life(client: LoadClient): Promise<void> {
    const meanMs = (this.#options.connections / this.#options.rate) * 1000
    while (!this.stopping) {
      await this.#pause(meanMs * (0.5 + this.#random()))
      if (this.stopping || client.busy) continue
      client.busy = true
      try {
        await this.#step(client)
      } finally {
        client.busy = false
      }
    }
  }

  /** Deals the rounds of a room: reveal after `roundMs` of voting, reset a quarter later. */
  async #dealer(room: Room): Promise<void> {
    let revealed = false
    while (!this.stopping) {
      const ms = revealed ? this.#options.roundMs / 4 : this.#options.roundMs
      await this.#pause(ms * (0.75 + this.#random() / 2))
      const dealer = this.#pickDriver(room)
      if (this.stopping || !dealer) continue
      revealed = dealer.game()?.phase === 'revealed'
      dealer.busy = true
      try {
        if (await this.#changeGame(dealer, revealed ? 'reset' : 'reveal')) revealed = !revealed
      } finally {
        dealer.busy = false
      }
    }
  }

  /** After the deadline: every open claim resolves (or is given up), then the wire is quiet. */
  async #drain(): Promise<void> {
    const open = this.rooms.flatMap((room) => room.openClaims())
    await bounded(Promise.all(open.map((action) => action.done)), DRAIN_MS)
    for (const room of this.rooms)
      for (const action of room.openClaims()) room.retire(action, 'never seen')
    const until = performance.now() + QUIET_MAX_MS
    let frames = -1
    while (frames !== this.#recorder.frames && performance.now() < until) {
      frames = this.#recorder.frames
      await sleep(QUIET_MS)
    }
  }

  // ---- steps ----------------------------------------------------------------------------

  async #step(client: LoadClient): Promise<void> {
    if (client.phase === 'away') {
      await this.#back(client)
      return
    }
    if (client.phase === 'standing') {
      if (this.#take('rejoin')) await this.#join(client, 'rejoin')
      return
    }
    if (client.phase !== 'seated' || !client.viewValid || client.ownRef() === undefined) return
    const roll = this.#random()
    if (roll < MIX.flapBeyond) return this.#flap(client, true)
    if (roll < MIX.flapBeyond + MIX.flapWithin) return this.#flap(client, false)
    if (roll < MIX.flapBeyond + MIX.flapWithin + MIX.leave) {
      if (this.#take('leave')) client.leave()
      return
    }
    if (roll < MIX.flapBeyond + MIX.flapWithin + MIX.leave + MIX.task && this.#canDrive(client)) {
      await this.#changeGame(client, 'task')
      return
    }
    await this.#vote(client)
  }

  async #vote(client: LoadClient): Promise<void> {
    if (client.game()?.phase !== 'voting') return
    const choices = VOTE_CARDS.filter((card) => card !== client.card)
    const card = choices[Math.floor(this.#random() * choices.length)] as Card
    if (this.#take(client.card === null ? 'vote' : 'vote (changed)')) await client.vote(card)
  }

  /** A game change, if this client may drive the game now; true when it was made. */
  async #changeGame(client: LoadClient, kind: GameKind): Promise<boolean> {
    if (!this.#canDrive(client) || !this.#take(kind)) return false
    const task = kind === 'task' ? `Story ${++this.#taskCounter}` : ''
    const answer = await client.changeGame(kind, task)
    return answer.outcome === 'confirmed'
  }

  /**
   * Only one game change per room is in flight, and only by a client whose view holds the
   * game's latest version: so the next game update it sees is its own.
   */
  #canDrive(client: LoadClient): boolean {
    const room = client.room
    if (room.gameBusy || client.phase !== 'seated' || !client.viewValid) return false
    const ref = client.game()?.phx_ref
    if (ref === undefined) return false
    room.gameRef ??= ref
    return ref === room.gameRef
  }

  #pickDriver(room: Room): LoadClient | undefined {
    const members = room.members as LoadClient[]
    for (let tries = 0; tries < 20; tries++) {
      const client = members[Math.floor(this.#random() * members.length)]!
      if (!client.busy && this.#canDrive(client)) return client
    }
    return undefined
  }

  /** Drops the socket; comes back within the grace period, or after it has run out. */
  async #flap(client: LoadClient, beyond: boolean): Promise<void> {
    if (!this.#take(beyond ? 'flap beyond grace' : 'flap within grace')) return
    const { graceMs } = this.#options
    const flaps = this.#recorder.flaps
    const closedAt = performance.now()
    const root = client.ownRef()!
    client.drop(this.#random() < 0.5)
    if (!beyond) {
      flaps.within++
      const watch = client.room.watch(client.participant, root)
      await this.#pause(20 + this.#random() * Math.min(780, graceMs / 3))
      const backAt = performance.now()
      const resumed = await this.#back(client)
      client.room.unwatch(client.participant)
      if (resumed) {
        flaps.resumed++
        flaps.seenLeaving += watch.gone
        this.#recorder.backWithin.add(performance.now() - backAt)
      }
      if (resumed === false) flaps.lostSeat++
      return
    }
    flaps.beyond++
    const { room, participant } = client
    const expiry = room.open('expiry', participant, client, closedAt + graceMs, root)
    await this.#pause(graceMs + 200 + this.#random() * 1300)
    const cutShort = this.stopping && performance.now() < closedAt + graceMs
    // Come back once the others have seen the seat given up (or after 10 s at most).
    if (!this.stopping) await bounded(expiry.done, SETTLE_MS)
    const resumed = await this.#back(client, 'rejoin')
    if (resumed === undefined) return
    if (cutShort) flaps.cutShort++
    else if (resumed) flaps.resumedLate++
    else flaps.fresh++
    // Back before the grace ran out: the seat was never given up.
    if (resumed) client.room.cancel(expiry)
  }

  /** Connects and joins (with the old session's credentials, if any); see {@link #join}. */
  async #back(client: LoadClient, kind: JoinKind = 'resume'): Promise<boolean | undefined> {
    if (!(await client.connect())) return undefined
    return this.#join(client, kind)
  }

  /** Joins; resolves to whether the old session was resumed, undefined when not seated. */
  async #join(client: LoadClient, kind: JoinKind): Promise<boolean | undefined> {
    const answer = await client.join(kind)
    return answer.outcome === 'confirmed' ? answer.resumed === true : undefined
  }

  // ---- helpers --------------------------------------------------------------------------

  /** Spends one step of the budget; at the end of the budget the run stops. */
  #take(step: string): boolean {
    if (this.stopping || this.#recorder.actions >= this.#options.actions) {
      this.#stop.abort()
      return false
    }
    this.#recorder.actions++
    this.#recorder.steps.add(step)
    return true
  }

  /** Sleeps, or less when the run stops. */
  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => undefined)
  }
}

/** Waits for `promise`, at most `ms`. */
async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  await Promise.race([promise, timeout])
  clearTimeout(timer)
}
