/**
 * A short soak: 20,000 owner lives of the churn that `scripts/soak.ts` runs a million of
 * (joins, updates and leaves across topics that come and go, aliases and standalone
 * names, subscriptions, suspends, TTL expiries). Once everyone has left, nothing may be
 * left behind that the API can see. The heap itself is the script's to measure.
 */
import { describe, expect, it } from 'vitest'
import { Churn } from '../../bench/soak.js'
import { checkTracker, checkWritable } from './support.js'

describe('churn', () => {
  it('leaves nothing behind once every owner has left', async () => {
    const churn = new Churn({ seed: 7, population: 400, eraCycles: 1_500 })
    const seen = new Set<string>()
    churn.tracker.on('join', ({ topic }) => seen.add(topic))

    await churn.run(10_000)
    expect(churn.tracker.topics().length).toBeGreaterThan(0)
    expect(churn.tracker.names.list().length).toBeGreaterThan(0)
    checkTracker(churn.tracker)
    await churn.run(10_000)
    await churn.drain()

    const { tracker, clock } = churn
    expect(churn.cycles).toBeGreaterThanOrEqual(20_000)
    expect(seen.size).toBeGreaterThan(100)
    expect(tracker.topics()).toEqual([])
    expect(tracker.names.list()).toEqual([])
    for (const topic of seen) {
      expect(tracker.count(topic)).toBe(0)
      expect(tracker.countKeys(topic)).toBe(0)
    }
    expect(clock.pending()).toBe(0)
    checkWritable(tracker)
    expect(tracker.topics()).toEqual([])
  })
})
