/**
 * Random traffic at a live node: bytes that are not messages, bytes after a valid header,
 * and well-formed envelopes of every type with random bodies, signed and not. See
 * attack.ts for what must hold after each run.
 */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { ManualClock } from '../../src/testing/index.js'
import {
  attack,
  node,
  randomBody,
  randomBytes,
  SECRET,
  setupArb,
  watchRejections,
} from './attack.js'
import { check, checkTracker, entriesOf, runs, timeoutFor } from './support.js'

watchRejections()

const BYTES = runs(25_000)
const RUNS = runs(5_000)

describe('a live node under random cluster traffic', () => {
  it(
    'drops bytes that are not a message, one log line each, and nothing changes',
    async () => {
      const clock = new ManualClock()
      const victim = node(clock, { secret: SECRET, names: true })
      await clock.advance(10)
      const before = entriesOf(victim.tracker)
      const notMessages = fc.uint8Array({ maxLength: 120 }).filter((bytes) => bytes[0] !== 0xc7)
      await fc.assert(
        fc.asyncProperty(notMessages, async (bytes) => {
          const logged = victim.logs.length
          await victim.inject(bytes)
          const calls = victim.logs.slice(logged)
          check(calls.length === 1 && calls[0]!.level === 'warn', 'not logged once as a warning')
          check(/^dropped a cluster message/.test(calls[0]!.message), calls[0]!.message)
        }),
        { numRuns: BYTES },
      )
      check(JSON.stringify(entriesOf(victim.tracker)) === JSON.stringify(before), 'changed')
      check(victim.tracker.nodes().length === 1, 'random bytes made a peer')
      checkTracker(victim.tracker)
    },
    timeoutFor(BYTES, 0.2),
  )

  it(
    'drops random bytes and bytes after a valid header, and stays whole',
    async () => {
      const shots = fc.array(randomBytes, { minLength: 1, maxLength: 8 })
      await fc.assert(fc.asyncProperty(shots, setupArb, attack), { numRuns: RUNS })
    },
    timeoutFor(RUNS, 2),
  )

  it(
    'takes or drops envelopes with random bodies, merging only what it takes',
    async () => {
      const shots = fc.array(randomBody, { minLength: 1, maxLength: 6 })
      await fc.assert(fc.asyncProperty(shots, setupArb, attack), { numRuns: RUNS })
    },
    timeoutFor(RUNS, 2),
  )
})
