/**
 * Realistic traffic at a live node: bodies of every type valid by construction and each
 * way of breaking them, and mutations of real messages captured from a second node (bit
 * flips, truncation, field swaps, wrong types, huge numbers, NaN and negative clocks,
 * `__proto__` keys, metas with phx_ref, oversized strings). See attack.ts for what must
 * hold after each run.
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Envelope } from '../../src/cluster/codec.js'
import {
  attack,
  capturedFlow,
  capturedShot,
  constructedBody,
  setupArb,
  watchRejections,
} from './attack.js'
import { captureCorpus } from './corpus.js'
import { runs, timeoutFor } from './support.js'

watchRejections()

const RUNS = runs(5_000)
/** Runs of the captured messages: each run fires up to the whole scenario, 17 messages. */
const CAPTURED_RUNS = runs(3_000)

let corpus: Envelope[] = []

beforeAll(async () => {
  corpus = await captureCorpus()
})

describe('a live node under realistic and mutated cluster traffic', () => {
  it(
    'accepts bodies valid by construction and drops each way of breaking them',
    async () => {
      const shots = fc.array(constructedBody, { minLength: 1, maxLength: 6 })
      await fc.assert(fc.asyncProperty(shots, setupArb, attack), { numRuns: RUNS })
    },
    timeoutFor(RUNS, 2),
  )

  it(
    'survives mutations of real messages captured from another node',
    async () => {
      expect(corpus.length).toBeGreaterThan(10)
      const shots = fc.oneof(
        fc.array(capturedShot(corpus), { minLength: 1, maxLength: 10 }),
        capturedFlow(corpus),
      )
      await fc.assert(fc.asyncProperty(shots, setupArb, attack), { numRuns: CAPTURED_RUNS })
    },
    timeoutFor(CAPTURED_RUNS, 6),
  )
})
