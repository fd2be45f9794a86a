/**
 * Fanning one change out to the subscribers of a topic, beside a baseline loop.
 *
 * rollcall's figure is a whole `tracker.update` of one entry in a room of 100, with 1,000
 * subscribers on that room: the change, its events, and one `presence_diff` delivered to
 * every subscriber's `send`. The baseline does only the delivery: it builds the same
 * Phoenix-shaped diff (a leave of the old meta and a join of the new one naming it in
 * `phx_ref_prev`) and calls 1,000 sends. Every send on both sides is the same no-op.
 */
import { Tracker } from '../src/tracker.js'
import type { PresenceMessage } from '../src/types.js'
import { type BenchRow, opsPerSecond } from './harness.js'

type Meta = { status: string; online_at: number }

const SUBSCRIBERS = 1000
const ROOM = 100

let delivered = 0
const send = (_message: PresenceMessage<Meta>): void => {
  delivered++
}

function rollcallRate(): number {
  const tracker = new Tracker<Meta>()
  for (let n = 0; n < ROOM; n++) {
    tracker.track(`socket-${n}`, 'room', `user-${n}`, { status: 'online', online_at: n })
  }
  for (let s = 0; s < SUBSCRIBERS; s++) tracker.subscribe('room', send)
  return opsPerSecond(
    (i) => {
      const n = i % ROOM
      tracker.update(`socket-${n}`, 'room', `user-${n}`, { status: 'away', online_at: i })
    },
    300,
    10,
  )
}

function baselineRate(): number {
  const sends = Array.from({ length: SUBSCRIBERS }, () => send)
  const refs = Array.from({ length: ROOM }, (_, n) => `ref-${n}`)
  let next = 0
  return opsPerSecond(
    (i) => {
      const n = i % ROOM
      const key = `user-${n}`
      const old = refs[n]!
      const ref = `ref-${++next}`
      refs[n] = ref
      const message: PresenceMessage<Meta> = {
        event: 'presence_diff',
        payload: {
          joins: {
            [key]: { metas: [{ status: 'away', online_at: i, phx_ref: ref, phx_ref_prev: old }] },
          },
          leaves: { [key]: { metas: [{ status: 'online', online_at: n, phx_ref: old }] } },
        },
      }
      for (const each of sends) each(message)
    },
    300,
    10,
  )
}

/** Runs the channel benchmark: rollcall's fan-out beside the baseline's, from this run. */
export async function run(): Promise<BenchRow[]> {
  const before = delivered
  let value = 0
  let baseline = 0
  // In turns, best of three each: a shared machine's load changes from second to second.
  for (let round = 0; round < 3; round++) {
    value = Math.max(value, rollcallRate())
    baseline = Math.max(baseline, baselineRate())
  }
  if (delivered === before) throw new Error('no message was delivered')
  return [
    {
      group: 'channel',
      name: `one change to ${SUBSCRIBERS.toLocaleString('en-US')} subscribers`,
      value,
      baseline,
      baselineLabel: 'diff object + 1,000 sends',
      unit: 'ops/s',
      higherIsBetter: true,
    },
  ]
}
