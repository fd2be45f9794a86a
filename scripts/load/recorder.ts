/** What a load run counts and measures, in one place. */
import { Samples, Tally } from './metrics.js'

/**
 * What a client did. `join` is a first join during the ramp; `rejoin` a join after a
 * leave, or after a flap that came back too late to resume; `resume` a reconnect that
 * should take its session back unseen; `expiry` the leave the server makes when a
 * dropped socket's grace period runs out.
 */
export type ActionKind =
  | 'join'
  | 'rejoin'
  | 'resume'
  | 'vote'
  | 'task'
  | 'reveal'
  | 'reset'
  | 'leave'
  | 'expiry'

export const ACTION_KINDS: readonly ActionKind[] = [
  'join',
  'vote',
  'task',
  'reveal',
  'reset',
  'leave',
  'rejoin',
  'expiry',
]

export interface FlapCounts {
  /** Closed and came back within the grace period. */
  within: number
  /** ... and took the session back. */
  resumed: number
  /** ... but the server had let the seat go: a leave and a join everybody saw. */
  lostSeat: number
  /** Observers that saw a resumed participant leave meanwhile (must stay 0). */
  seenLeaving: number
  /** Came back early because the run ended (within or beyond). */
  cutShort: number
  /** Closed and came back after the grace period. */
  beyond: number
  /** ... and joined afresh, as it should. */
  fresh: number
  /** ... and still took the session back (the server expired it late). */
  resumedLate: number
}

export interface Mark {
  at: number
  frames: number
  bytes: number
  actions: number
}

export class Recorder {
  frames = 0
  bytes = 0
  /** Scripted steps taken (votes, tasks, reveals, resets, leaves, rejoins, flaps). */
  actions = 0
  /** Frames the clients sent. */
  sent = 0
  connectionsOpened = 0
  connectFailures = 0
  unexpectedCloses = 0
  /** Actions whose every observer left or reconnected before seeing it. */
  noObservers = 0
  /** Deliveries not awaited: the observer's view ended (it left, flapped) first. */
  excused = 0
  /** Deliveries still missing when the action was given up, by kind and why. */
  readonly missing = new Tally()
  readonly steps = new Tally()
  readonly refused = new Tally()
  readonly dropped = new Tally()
  readonly strayErrors = new Tally()
  /** From an action until every other member of the room has seen it, by kind. */
  readonly everyone = new Map<ActionKind, Samples>()
  /** The same, for every action after the ramp. */
  readonly everyoneSteady = new Samples()
  /** From an action after the ramp until one member has seen it, for every member. */
  readonly each = new Samples()
  readonly flaps: FlapCounts = {
    within: 0,
    resumed: 0,
    lostSeat: 0,
    seenLeaving: 0,
    beyond: 0,
    fresh: 0,
    resumedLate: 0,
    cutShort: 0,
  }
  /** Flaps within the grace period: from the new socket's connect until `joined`. */
  readonly backWithin = new Samples()
  /** Every socket: from `new WebSocket` until it is open (TCP and the HTTP upgrade). */
  readonly connecting = new Samples()
  /** Every join: from the send until the server's `joined`. */
  readonly joining = new Samples()

  mark(): Mark {
    return { at: performance.now(), frames: this.frames, bytes: this.bytes, actions: this.actions }
  }

  /** An action every expected observer saw (or stopped watching before it came). */
  resolved(kind: ActionKind, sentAt: number, seen: Iterable<number>, excused: number): void {
    this.excused += excused
    const steady = kind !== 'join'
    let last = -1
    for (const at of seen) {
      if (steady) this.each.add(at - sentAt)
      last = Math.max(last, at - sentAt)
    }
    if (last < 0) {
      this.noObservers++
      return
    }
    if (steady) this.everyoneSteady.add(last)
    let samples = this.everyone.get(kind)
    if (!samples) {
      samples = new Samples()
      this.everyone.set(kind, samples)
    }
    samples.add(last)
  }
}
