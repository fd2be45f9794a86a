/**
 * Who saw what, per room. Every action opens a claim on the key it changes (the actor's
 * participant id, or `game`), with a snapshot of the room's other members that hold a
 * live view at that moment. Members report what their diffs carry; the claim resolves
 * when each of them has seen the change, or has stopped watching (its view ended: it
 * left or its socket closed) before it came.
 *
 * A change is recognised exactly, never guessed from timing:
 * - by ref: the `phx_ref` of the meta the action made, which the actor learns from its own
 *   socket (votes, joins, game changes). Sightings that come before the actor knows its
 *   ref are kept as candidates per ref and sorted out once it does.
 * - by absence: the key's last meta leaving (a leave, a grace period running out), when
 *   the meta that left descends from the version the actor held when it acted. The demo
 *   may update a participant's meta on its own meanwhile (a reveal shows its card), so
 *   every update any member sees is kept as a link from the old ref to the new.
 *
 * Several claims may be open on one key (a slow member has not yet seen the previous
 * vote when the next is sent): each sighting names the version it is about.
 */
import { GAME_KEY } from '../../examples/poker/protocol.js'
import type { ActionKind, Recorder } from './recorder.js'

/** A member as the claims see it. */
export interface Observer {
  /** Whether it holds a view (a presence_state and the diffs after it) right now. */
  readonly viewValid: boolean
  /** Bumped whenever its view ends. */
  readonly viewEpoch: number
}

const BY_ABSENCE: ReadonlySet<ActionKind> = new Set(['leave', 'expiry'])

/** Updates followed back from a leaving version to the one an actor held. */
const MAX_CHAIN = 64

interface Watch {
  root: string
  gone: number
}

interface Sighting {
  observer: Observer
  epoch: number
  at: number
}

export class Action {
  readonly expected = new Map<Observer, number>()
  readonly seen = new Map<Observer, number>()
  readonly candidates = new Map<string, Sighting[]>()
  /** Expected observers that have neither seen it nor stopped watching. */
  waiting = 0
  ref: string | undefined
  /** By absence: the version of the key the actor held when it acted. */
  root: string | undefined
  finished = false
  readonly done: Promise<void>
  #finish!: () => void

  constructor(
    readonly kind: ActionKind,
    readonly key: string,
    readonly actor: Observer,
    readonly sentAt: number,
  ) {
    this.done = new Promise((resolve) => {
      this.#finish = resolve
    })
  }

  get byRef(): boolean {
    return !BY_ABSENCE.has(this.kind)
  }

  end(): void {
    this.finished = true
    this.#finish()
  }
}

export class Room {
  readonly topic: string
  readonly members: Observer[] = []
  /** The game's current ref, as the last game change or creation made it. */
  gameRef: string | undefined
  /** Open claims by key, oldest first: every member sees a key's changes in order. */
  readonly #claims = new Map<string, Action[]>()
  /** The game change whose actor has not seen it yet. */
  #gamePending: Action | undefined
  /** Participants that flapped within the grace period: how often they were seen leaving. */
  readonly #watches = new Map<string, Watch>()
  /** Every update seen by any member: new ref -> the ref it replaced. */
  readonly #prevOf = new Map<string, string>()
  readonly #recorder: Recorder

  constructor(
    readonly id: string,
    recorder: Recorder,
  ) {
    this.topic = `room:${id}`
    this.#recorder = recorder
  }

  /**
   * Until the actor of a game change has seen it, nobody else may change the game: the
   * actor's next game update is then its own.
   */
  get gameBusy(): boolean {
    return this.#gamePending !== undefined
  }

  /**
   * Opens the claim of an action that `actor` is about to send (or of an `expiry`, due at
   * `sentAt`). A claim by absence needs `root`, the key's version as the actor holds it.
   */
  open(kind: ActionKind, key: string, actor: Observer, sentAt: number, root?: string): Action {
    const action = new Action(kind, key, actor, sentAt)
    action.root = root
    for (const member of this.members) {
      if (member === actor || !member.viewValid) continue
      action.expected.set(member, member.viewEpoch)
    }
    action.waiting = action.expected.size
    const list = this.#claims.get(key)
    if (list) list.push(action)
    else this.#claims.set(key, [action])
    if (key === GAME_KEY) this.#gamePending = action
    return action
  }

  /** The actor learnt the ref its action made. */
  confirm(action: Action, ref: string): void {
    if (this.#gamePending === action) this.#gamePending = undefined
    if (action.finished) return
    action.ref = ref
    for (const { observer, epoch, at } of action.candidates.get(ref) ?? []) {
      this.#record(action, observer, epoch, at)
    }
    action.candidates.clear()
    this.#settle(action)
  }

  /** A member's diff joined `ref` to `key`. */
  sawJoin(observer: Observer, key: string, ref: string, at: number): void {
    for (const action of this.#claims.get(key) ?? []) {
      if (!action.byRef || action.actor === observer) continue
      if (action.ref === undefined) {
        const list = action.candidates.get(ref)
        const sighting = { observer, epoch: observer.viewEpoch, at }
        if (list) list.push(sighting)
        else action.candidates.set(ref, [sighting])
      } else if (action.ref === ref) {
        this.#record(action, observer, observer.viewEpoch, at)
      }
    }
  }

  /** A member saw `ref` replace `prev`. */
  link(ref: string, prev: string): void {
    this.#prevOf.set(ref, prev)
  }

  /** A member's diff took the last meta of `key` away; `refs` are the versions that left. */
  sawGone(observer: Observer, key: string, refs: string[], at: number): void {
    const watch = this.#watches.get(key)
    if (watch && refs.some((ref) => this.#descends(ref, watch.root))) watch.gone++
    const epoch = observer.viewEpoch
    for (const action of this.#claims.get(key) ?? []) {
      if (action.byRef || action.expected.get(observer) !== epoch) continue
      if (refs.some((ref) => this.#descends(ref, action.root))) {
        this.#record(action, observer, epoch, at)
      }
    }
  }

  /** A member's view ended (epoch `epoch`): claims stop waiting for it. */
  viewEnded(observer: Observer, epoch: number): void {
    for (const action of this.openClaims()) {
      if (action.expected.get(observer) !== epoch || action.seen.has(observer)) continue
      action.waiting--
      this.#settle(action)
    }
  }

  /** Gives an action up without a figure (refused, interrupted, resumed unseen, ...). */
  drop(action: Action, reason: string): void {
    if (action.finished) return
    this.#recorder.dropped.add(`${action.kind}: ${reason}`)
    this.#close(action)
  }

  /** Forgets an action that changed nothing others could see (a resume, a refusal). */
  cancel(action: Action): void {
    if (!action.finished) this.#close(action)
  }

  /** Gives up waiting: observers still waiting count as missing, under `why`. */
  retire(action: Action, why: string): void {
    if (action.finished) return
    if (action.byRef && action.ref === undefined) {
      this.drop(action, 'the actor never saw its own change')
      return
    }
    if (action.waiting > 0) this.#recorder.missing.add(`${action.kind}: ${why}`, action.waiting)
    this.#close(action)
  }

  /** Every open claim, for the end of the run. */
  openClaims(): Action[] {
    return [...this.#claims.values()].flat()
  }

  /** Counts how often members see `key`'s version `root` (or a later one) leave. */
  watch(key: string, root: string): Watch {
    const watch = { root, gone: 0 }
    this.#watches.set(key, watch)
    return watch
  }

  unwatch(key: string): void {
    this.#watches.delete(key)
  }

  /** Whether `ref` is `root` or an update of it (of an update of it, ...). */
  #descends(ref: string, root: string | undefined): boolean {
    let current: string | undefined = ref
    for (let step = 0; current !== undefined && step < MAX_CHAIN; step++) {
      if (current === root) return true
      current = this.#prevOf.get(current)
    }
    return false
  }

  #record(action: Action, observer: Observer, epoch: number, at: number): void {
    if (action.expected.get(observer) !== epoch || action.seen.has(observer)) return
    action.seen.set(observer, at)
    action.waiting--
    this.#settle(action)
  }

  #settle(action: Action): void {
    if (action.finished || action.waiting > 0) return
    if (action.byRef && action.ref === undefined) return
    const excused = action.expected.size - action.seen.size
    this.#recorder.resolved(action.kind, action.sentAt, action.seen.values(), excused)
    this.#close(action)
  }

  #close(action: Action): void {
    if (this.#gamePending === action) this.#gamePending = undefined
    const list = this.#claims.get(action.key)
    const index = list?.indexOf(action) ?? -1
    if (index >= 0) list!.splice(index, 1)
    if (list?.length === 0) this.#claims.delete(action.key)
    action.end()
  }
}
