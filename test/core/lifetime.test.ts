import { describe, expect, it } from 'vitest'
import type { ManualClock } from '../../src/testing/index.js'
import type { Tracker } from '../../src/tracker.js'
import { setup, type TestMeta } from './helpers.js'

/** Advances in steps and returns the time at which `topic` first became empty. */
async function timeEmptied(
  tracker: Tracker<TestMeta>,
  clock: ManualClock,
  topic: string,
  limit: number,
): Promise<number | undefined> {
  while (clock.now() < limit) {
    await clock.advance(10)
    if (tracker.count(topic) === 0) return clock.now()
  }
  return undefined
}

describe('suspend and resume', () => {
  it('a resume within the grace emits nothing and keeps the entries', async () => {
    const { tracker, clock, events } = setup()
    tracker.track('s1', 'r', 'alice', {})
    tracker.track('s1', 'q', 'alice', {})
    events.length = 0

    tracker.suspend('s1', 1000)
    await clock.advance(999)
    expect(tracker.resume('s1')).toBe(true)
    await clock.advance(10_000)

    expect(events).toEqual([])
    expect(tracker.topics().sort()).toEqual(['q', 'r'])
    expect(clock.pending()).toBe(0)
  })

  it('past the grace, every entry leaves with origin timeout', async () => {
    const { tracker, clock, events } = setup()
    tracker.track('s1', 'r', 'alice', {})
    tracker.track('s1', 'q', 'alice', {})
    tracker.track('s2', 'r', 'bob', {})
    events.length = 0

    tracker.suspend('s1', 1000)
    await clock.advance(999)
    expect(events).toEqual([])
    await clock.advance(1)

    const origins = events.map((e) => `${e.event}:${e.payload.origin}`)
    expect(origins.sort()).toEqual([
      'diff:timeout',
      'diff:timeout',
      'leave:timeout',
      'leave:timeout',
    ])
    expect(tracker.topics()).toEqual(['r'])
    expect(tracker.resume('s1')).toBe(false)
  })

  it('a second suspend restarts the grace', async () => {
    const { tracker, clock } = setup()
    tracker.track('s1', 'r', 'alice', {})
    tracker.suspend('s1', 1000)
    await clock.advance(800)
    tracker.suspend('s1', 1000)
    await clock.advance(800)
    expect(tracker.count('r')).toBe(1)
    await clock.advance(200)
    expect(tracker.count('r')).toBe(0)
  })

  it('suspend of an owner with nothing, and resume of one never suspended, do nothing', () => {
    const { tracker, clock } = setup()
    tracker.suspend('ghost', 10)
    expect(clock.pending()).toBe(0)
    tracker.track('s1', 'r', 'alice', {})
    expect(tracker.resume('s1')).toBe(false)
  })

  it('an owner that leaves while suspended leaves no timer behind', async () => {
    const { tracker, clock, events } = setup()
    tracker.track('s1', 'r', 'alice', {})
    tracker.suspend('s1', 1000)
    tracker.untrackAll('s1')
    expect(clock.pending()).toBe(0)
    tracker.track('s1', 'r', 'alice', {})
    events.length = 0
    await clock.advance(2000)
    expect(events).toEqual([])
    expect(tracker.count('r')).toBe(1)
  })
})

describe('ownerTtl and touch', () => {
  it('an owner never touched leaves between 1x and 1.5x the TTL, origin timeout', async () => {
    const { tracker, clock, events } = setup({ ownerTtl: 1000 })
    tracker.track('s1', 'r', 'alice', {})
    const at = await timeEmptied(tracker, clock, 'r', 5000)

    expect(at).toBeGreaterThanOrEqual(1000)
    expect(at).toBeLessThanOrEqual(1500)
    expect(events.filter((e) => e.event === 'leave')[0]!.payload.origin).toBe('timeout')
  })

  it('a touch moves the deadline; any write counts as one', async () => {
    const { tracker, clock } = setup({ ownerTtl: 1000 })
    tracker.track('s1', 'r', 'alice', {})
    await clock.advance(900)
    tracker.touch('s1')
    await clock.advance(900)
    tracker.update('s1', 'r', 'alice', { n: 1 })
    const touchedAt = clock.now()
    const at = await timeEmptied(tracker, clock, 'r', 10_000)

    expect(at! - touchedAt).toBeGreaterThanOrEqual(1000)
    expect(at! - touchedAt).toBeLessThanOrEqual(1500)
  })

  it('touched owners stay, untouched ones go', async () => {
    const { tracker, clock } = setup({ ownerTtl: 1000 })
    tracker.track('live', 'r', 'live', {})
    tracker.track('dead', 'r', 'dead', {})
    for (let i = 0; i < 10; i++) {
      await clock.advance(400)
      tracker.touch('live')
    }
    expect(Object.keys(tracker.list('r'))).toEqual(['live'])
  })

  it('a suspended owner is left to its grace, not the TTL', async () => {
    const { tracker, clock } = setup({ ownerTtl: 1000 })
    tracker.track('s1', 'r', 'alice', {})
    tracker.suspend('s1', 5000)
    await clock.advance(4000)
    expect(tracker.count('r')).toBe(1)
    expect(tracker.resume('s1')).toBe(true)
    await clock.advance(900)
    expect(tracker.count('r')).toBe(1)
  })

  it('a standalone name entries are not owned by a connection and never expire', async () => {
    const { tracker, clock } = setup({ ownerTtl: 1000, names: true })
    tracker.names.create('game')
    tracker.track({ name: 'game' }, 'r', 'game', { phase: 'voting' })
    tracker.update({ name: 'game' }, 'r', 'game', { phase: 'revealed' })
    await clock.advance(10_000)

    expect(tracker.names.whereis('game')).toBeDefined()
    expect(tracker.get('r', 'game')).toMatchObject([{ meta: { phase: 'revealed' } }])
  })

  it('stops its sweep timer once no owner is left', async () => {
    const { tracker, clock } = setup({ ownerTtl: 1000 })
    tracker.track('s1', 'r', 'alice', {})
    await clock.advance(5000)
    expect(tracker.count('r')).toBe(0)
    expect(clock.pending()).toBe(0)
  })
})
