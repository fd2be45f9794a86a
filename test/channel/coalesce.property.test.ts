/**
 * Random changes, with time moving at random between them: every subscriber, whatever its
 * window and whenever it subscribed, ends with what `tracker.list` shows, and every diff
 * it got is well formed.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { syncDiff, syncState } from '../../src/client/index.js'
import type { Meta, PresenceState } from '../../src/types.js'
import { setup } from '../core/helpers.js'
import { canonical, expectWellFormedDiff, type Msg, ReferenceClient } from './helpers.js'
import { opArb, run, TOPIC } from './ops.js'

const refOf = (meta: { phx_ref: string }) => meta.phx_ref

/** A subscriber that checks each message and keeps two views: reference and rollcall's. */
function subscriber() {
  const reference = new ReferenceClient()
  let client: PresenceState<Meta> = Object.create(null)
  const messages: Msg[] = []
  const send = (message: Msg) => {
    const copy = JSON.parse(JSON.stringify(message)) as Msg
    messages.push(copy)
    expectWellFormedDiff(copy)
    if (copy.event === 'presence_diff') {
      const { joins, leaves } = copy.payload
      expect(Object.keys(joins).length + Object.keys(leaves).length).toBeGreaterThan(0)
      // Leaves are refs that were sent, joins refs that were not.
      const held = new Set(reference.canonical().flatMap(([, metas]) => metas.map(refOf)))
      for (const key of Object.keys(leaves)) {
        for (const ref of leaves[key]!.metas.map(refOf)) expect(held.has(ref)).toBe(true)
      }
      for (const key of Object.keys(joins)) {
        for (const ref of joins[key]!.metas.map(refOf)) expect(held.has(ref)).toBe(false)
      }
      client = syncDiff(client, copy.payload)
    } else if (copy.event === 'presence_state') {
      client = syncState(client, copy.payload)
    }
    reference.receive(copy)
  }
  return { send, messages, reference, client: () => client }
}

describe('coalesced diffs', () => {
  it('bring every subscriber to tracker.list, whatever the window and the timing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 50 }),
        fc.nat(50),
        fc.constantFrom(0, 1, 30, 100),
        async (ops, lateAt, lateWindow) => {
          const { tracker, clock } = setup()
          const windows = [0, 10, 45, 100]
          const subscribers = windows.map((diffWindowMs) => {
            const s = subscriber()
            tracker.subscribe(TOPIC, s.send, { diffWindowMs })
            return s
          })
          for (const [index, op] of ops.entries()) {
            if (index === lateAt) {
              const late = subscriber()
              tracker.subscribe(TOPIC, late.send, { diffWindowMs: lateWindow })
              subscribers.push(late)
            }
            await run(tracker, clock, op)
          }
          await clock.advance(1000)

          const expected = canonical(tracker.list(TOPIC))
          for (const s of subscribers) {
            expect(s.reference.canonical()).toEqual(expected)
            expect(canonical(s.client())).toEqual(expected)
          }
          expect(clock.pending()).toBe(0)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('with a window of 0, a subscriber gets exactly one diff per change of the topic', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const { tracker, clock } = setup()
        const s = subscriber()
        tracker.subscribe(TOPIC, s.send)
        let diffs = 0
        tracker.on('diff', ({ topic }) => {
          if (topic === TOPIC) diffs++
        })
        for (const op of ops) await run(tracker, clock, op)
        expect(s.messages.length).toBe(diffs + 1)
      }),
      { numRuns: 100 },
    )
  })
})
