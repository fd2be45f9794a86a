import { describe, expect, it } from 'vitest'
import { expectError, setup, snapshot } from './helpers.js'

describe('rate limit (token bucket)', () => {
  it('refuses writes past the burst with rate_limited, then refills with time', async () => {
    const { tracker, clock, events } = setup({ limits: { updatesPerSecond: 2 } })
    tracker.track('s1', 'r', 'alice', { n: 0 })
    tracker.update('s1', 'r', 'alice', { n: 1 })
    const before = snapshot(tracker)
    events.length = 0

    const error = expectError(
      () => tracker.update('s1', 'r', 'alice', { n: 2 }),
      'rate_limited',
      /Expected at most 2 writes per second from owner "s1" \(burst 2\)/,
    )
    expect([error.owner, error.topic, error.key]).toEqual(['s1', 'r', 'alice'])
    expectError(() => tracker.track('s1', 'r', 'bob', {}), 'rate_limited')
    expect(snapshot(tracker)).toEqual(before)
    expect(events).toEqual([])

    await clock.advance(499)
    expectError(() => tracker.update('s1', 'r', 'alice', { n: 2 }), 'rate_limited')
    await clock.advance(1)
    tracker.update('s1', 'r', 'alice', { n: 2 })
    expectError(() => tracker.update('s1', 'r', 'alice', { n: 3 }), 'rate_limited')
    expect(tracker.get('r', 'alice')[0]!.meta).toEqual({ n: 2 })
  })

  it('the limited owner refusal leaves other owners served', () => {
    const { tracker } = setup({ limits: { updatesPerSecond: 1 } })
    tracker.track('noisy', 'r', 'noisy', {})
    expectError(() => tracker.update('noisy', 'r', 'noisy', { n: 1 }), 'rate_limited')
    for (let i = 0; i < 20; i++) tracker.track(`quiet-${i}`, 'r', `quiet-${i}`, {})
    expect(tracker.count('r')).toBe(21)
  })

  it('burst allows more writes at once than the rate', () => {
    const { tracker } = setup({ limits: { updatesPerSecond: 1, burst: 3 } })
    tracker.track('s1', 'r', 'a', {})
    tracker.update('s1', 'r', 'a', { n: 1 })
    tracker.update('s1', 'r', 'a', { n: 2 })
    expectError(() => tracker.update('s1', 'r', 'a', { n: 3 }), 'rate_limited', /burst 3/)
  })

  it('a track and untrack loop does not refill the bucket', () => {
    const { tracker } = setup({ limits: { updatesPerSecond: 2 } })
    let accepted = 0
    for (let i = 0; i < 10; i++) {
      try {
        tracker.track('s1', 'r', 'a', {})
        accepted++
        tracker.untrack('s1', 'r', 'a')
      } catch {
        break
      }
    }
    expect(accepted).toBe(2)
  })

  it('writes through a name count against `as`, else against the name', () => {
    const { tracker } = setup({ names: true, limits: { updatesPerSecond: 1 } })
    tracker.names.create('g')
    tracker.track({ name: 'g', as: 'p1' }, 'r', 'game', { n: 0 })
    tracker.update({ name: 'g', as: 'p2' }, 'r', 'game', { n: 1 })
    expectError(() => tracker.update({ name: 'g', as: 'p1' }, 'r', 'game', {}), 'rate_limited')
    tracker.update({ name: 'g' }, 'r', 'game', { n: 2 })
    expectError(() => tracker.update({ name: 'g' }, 'r', 'game', {}), 'rate_limited')
    expect(tracker.get('r', 'game')[0]!.meta).toEqual({ n: 2 })
  })
})

describe('entry limits', () => {
  it('owner_full past entriesPerOwner; other owners still track', () => {
    const { tracker, events } = setup({ limits: { entriesPerOwner: 2 } })
    tracker.track('s1', 'r', 'a', {})
    tracker.track('s1', 'q', 'a', {})
    const before = snapshot(tracker)
    events.length = 0

    const error = expectError(
      () => tracker.track('s1', 'p', 'a', {}),
      'owner_full',
      /Expected owner "s1" to hold at most 2 entries, and it holds that many already/,
    )
    expect(error.topic).toBe('p')
    expect(snapshot(tracker)).toEqual(before)
    expect(events).toEqual([])

    tracker.track('s2', 'p', 'b', {})
    tracker.update('s1', 'r', 'a', { n: 1 })
    tracker.untrack('s1', 'q', 'a')
    tracker.track('s1', 'p', 'a', {})
    expect(tracker.topics().sort()).toEqual(['p', 'r'])
  })

  it('topic_full past entriesPerTopic, counting every owner; other topics are served', () => {
    const { tracker, events } = setup({ limits: { entriesPerTopic: 2 } })
    tracker.track('s1', 'r', 'a', {})
    tracker.track('s2', 'r', 'a', {})
    const before = snapshot(tracker)
    events.length = 0

    expectError(
      () => tracker.track('s3', 'r', 'b', {}),
      'topic_full',
      /Expected topic "r" to hold at most 2 entries, and it holds that many already/,
    )
    expect(snapshot(tracker)).toEqual(before)
    expect(events).toEqual([])
    tracker.track('s3', 'q', 'b', {})
    tracker.update('s1', 'r', 'a', { n: 1 })
    expect([tracker.count('r'), tracker.count('q')]).toEqual([2, 1])
  })
})
