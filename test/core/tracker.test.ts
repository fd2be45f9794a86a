import { describe, expect, it, vi } from 'vitest'
import { PresenceError } from '../../src/errors.js'
import type { DiffEvent, PresenceEvent, UpdateEvent } from '../../src/events.js'
import { ManualClock, MemoryNetwork } from '../../src/testing/index.js'
import { Tracker } from '../../src/tracker.js'
import { expectError, record, refsOf, setup, snapshot, type TestMeta } from './helpers.js'

describe('track', () => {
  it('returns the ref that list and get then show', () => {
    const { tracker } = setup()
    const ref = tracker.track('s1', 'room:1', 'alice', { status: 'online' })

    expect(typeof ref).toBe('string')
    expect(tracker.list('room:1')).toEqual({
      alice: { metas: [{ status: 'online', phx_ref: ref }] },
    })
    expect(tracker.get('room:1', 'alice')).toEqual([
      { node: tracker.nodeId, owner: 's1', meta: { status: 'online' }, ref },
    ])
  })

  it('gives two owners of one key two metas with distinct refs', () => {
    const { tracker } = setup()
    const a = tracker.track('tab-1', 'room:1', 'alice', { tab: 1 })
    const b = tracker.track('tab-2', 'room:1', 'alice', { tab: 2 })

    expect(a).not.toBe(b)
    expect(refsOf(tracker.list('room:1'), 'alice')).toEqual([a, b])
    expect(tracker.get('room:1', 'alice').map((info) => info.owner)).toEqual(['tab-1', 'tab-2'])
    expect(tracker.count('room:1')).toBe(2)
    expect(tracker.countKeys('room:1')).toBe(1)
  })

  it('throws already_tracked for the same owner, topic and key, and changes nothing', () => {
    const { tracker, events } = setup()
    tracker.track('s1', 'room:1', 'alice', { n: 1 })
    const before = snapshot(tracker)
    events.length = 0

    const error = expectError(
      () => tracker.track('s1', 'room:1', 'alice', { n: 2 }),
      'already_tracked',
      /already tracks key "alice" in topic "room:1".*update\(\)/,
    )
    expect([error.topic, error.key, error.owner]).toEqual(['room:1', 'alice', 's1'])
    expect(snapshot(tracker)).toEqual(before)
    expect(events).toEqual([])
  })

  it('copies the meta: later changes by the caller do not reach the tracker', () => {
    const { tracker } = setup()
    const meta = { status: 'online', tags: ['a'] }
    tracker.track('s1', 'room:1', 'alice', meta)
    meta.status = 'away'
    meta.tags.push('b')

    expect(tracker.get('room:1', 'alice')[0]!.meta).toEqual({ status: 'online', tags: ['a'] })
  })
})

describe('update', () => {
  it('replaces the meta wholesale when given an object', () => {
    const { tracker } = setup()
    tracker.track('s1', 'room:1', 'alice', { status: 'online', typing: true })
    tracker.update('s1', 'room:1', 'alice', { status: 'away' })

    expect(tracker.get('room:1', 'alice')[0]!.meta).toEqual({ status: 'away' })
  })

  it('passes a function the frozen previous meta, without phx_ref', () => {
    const { tracker } = setup()
    tracker.track('s1', 'room:1', 'alice', { status: 'online', n: 1 })
    const seen: object[] = []
    const ref = tracker.update('s1', 'room:1', 'alice', (prev) => {
      seen.push(prev)
      return { ...prev, n: (prev.n as number) + 1 }
    })

    expect(seen).toHaveLength(1)
    expect(Object.isFrozen(seen[0])).toBe(true)
    expect(seen[0]).toEqual({ status: 'online', n: 1 })
    expect(seen[0]).not.toHaveProperty('phx_ref')
    expect(tracker.list('room:1').alice!.metas[0]).toMatchObject({ n: 2, phx_ref: ref })
  })

  it('returns a new ref, and list shows the old one as phx_ref_prev', () => {
    const { tracker } = setup()
    const first = tracker.track('s1', 'room:1', 'alice', { status: 'online' })
    const second = tracker.update('s1', 'room:1', 'alice', { status: 'away' })

    expect(second).not.toBe(first)
    expect(tracker.list('room:1').alice!.metas).toEqual([
      { status: 'away', phx_ref: second, phx_ref_prev: first },
    ])
  })

  it('keeps the key in its place in list and the topic in its place in topics', () => {
    const { tracker } = setup()
    tracker.track('s1', 'r', 'alice', {})
    tracker.track('s2', 'r', 'bob', {})
    tracker.track('s1', 'q', 'carol', {})
    tracker.update('s1', 'r', 'alice', { n: 1 })
    tracker.update('s1', 'q', 'carol', { n: 1 })
    expect(Object.keys(tracker.list('r'))).toEqual(['alice', 'bob'])
    expect(tracker.topics()).toEqual(['r', 'q'])
  })

  it('of an entry another owner tracks throws nopresence and changes nothing', () => {
    const { tracker, events } = setup()
    tracker.track('s1', 'room:1', 'alice', { status: 'online' })
    const before = snapshot(tracker)
    events.length = 0

    const error = expectError(
      () => tracker.update('s2', 'room:1', 'alice', { status: 'hacked' }),
      'nopresence',
      /Expected owner "s2" to track key "alice" in topic "room:1".*named owner/,
    )
    expect([error.topic, error.key, error.owner]).toEqual(['room:1', 'alice', 's2'])
    expect(snapshot(tracker)).toEqual(before)
    expect(events).toEqual([])
  })

  it('with a function, by a foreign owner, never calls the function', () => {
    const { tracker } = setup()
    tracker.track('s1', 'room:1', 'alice', { status: 'online' })
    const fn = vi.fn((prev: Readonly<TestMeta>) => prev)

    expectError(() => tracker.update('s2', 'room:1', 'alice', fn), 'nopresence')
    expect(fn).not.toHaveBeenCalled()
  })

  it('of an absent entry throws nopresence', () => {
    const { tracker, events } = setup()
    expectError(() => tracker.update('s1', 'room:1', 'nobody', {}), 'nopresence')
    expect(events).toEqual([])
    expect(tracker.topics()).toEqual([])
  })

  it('that throws inside the function leaves the entry as it was', () => {
    const { tracker, events } = setup()
    tracker.track('s1', 'room:1', 'alice', { status: 'online' })
    const before = snapshot(tracker)
    events.length = 0

    expect(() =>
      tracker.update('s1', 'room:1', 'alice', () => {
        throw new Error('app bug')
      }),
    ).toThrow('app bug')
    expect(snapshot(tracker)).toEqual(before)
    expect(events).toEqual([])
  })
})

describe('untrack and untrackAll', () => {
  it('untrack removes only the own entry and is a no-op when absent', () => {
    const { tracker, events } = setup()
    tracker.track('s1', 'room:1', 'alice', {})
    tracker.track('s2', 'room:1', 'alice', {})
    events.length = 0

    tracker.untrack('s3', 'room:1', 'alice')
    tracker.untrack('s1', 'room:1', 'bob')
    expect(events).toEqual([])

    tracker.untrack('s1', 'room:1', 'alice')
    expect(tracker.get('room:1', 'alice').map((info) => info.owner)).toEqual(['s2'])
    expect(events.map((e) => e.event)).toEqual(['leave', 'diff'])
  })

  it('untrackAll emits one leave per entry of the owner and keeps the others', () => {
    const { tracker, events } = setup()
    tracker.track('s1', 'room:1', 'alice', { a: 1 })
    tracker.track('s1', 'room:2', 'alice', { a: 2 })
    tracker.track('s1', 'room:2', 'carol', { a: 3 })
    tracker.track('s2', 'room:2', 'bob', {})
    events.length = 0

    tracker.untrackAll('s1')

    const leaves = events.filter((e) => e.event === 'leave').map((e) => e.payload)
    expect(leaves.map((e) => `${e.topic}/${e.key}/${e.owner}/${e.origin}`).sort()).toEqual([
      'room:1/alice/s1/local',
      'room:2/alice/s1/local',
      'room:2/carol/s1/local',
    ])
    expect(events.filter((e) => e.event === 'diff').map((e) => e.payload.topic)).toEqual([
      'room:1',
      'room:2',
    ])
    expect(tracker.topics()).toEqual(['room:2'])
    expect(Object.keys(tracker.list('room:2'))).toEqual(['bob'])
  })

  it('untrackAll of an owner with nothing is a no-op', () => {
    const { tracker, events } = setup()
    tracker.track('s1', 'room:1', 'alice', {})
    events.length = 0
    tracker.untrackAll('nobody')
    expect(events).toEqual([])
    expect(tracker.count('room:1')).toBe(1)
  })
})

describe('reads', () => {
  it('count, countKeys and topics follow every change', () => {
    const { tracker } = setup()
    expect([tracker.count('r'), tracker.countKeys('r'), tracker.topics()]).toEqual([0, 0, []])

    tracker.track('s1', 'r', 'alice', {})
    tracker.track('s2', 'r', 'alice', {})
    tracker.track('s2', 'r', 'bob', {})
    tracker.track('s2', 'q', 'bob', {})
    expect([tracker.count('r'), tracker.countKeys('r')]).toEqual([3, 2])
    expect(tracker.topics().sort()).toEqual(['q', 'r'])

    tracker.update('s1', 'r', 'alice', { x: 1 })
    expect([tracker.count('r'), tracker.countKeys('r')]).toEqual([3, 2])

    tracker.untrack('s1', 'r', 'alice')
    expect([tracker.count('r'), tracker.countKeys('r')]).toEqual([2, 2])
    tracker.untrackAll('s2')
    expect([tracker.count('r'), tracker.countKeys('r'), tracker.topics()]).toEqual([0, 0, []])
  })

  it('list and get of an absent topic or key are empty', () => {
    const { tracker } = setup()
    expect(tracker.list('nowhere')).toEqual({})
    expect(tracker.get('nowhere', 'alice')).toEqual([])
  })

  it('hands out frozen metas in list, get and events', () => {
    const { tracker, events } = setup()
    tracker.track('s1', 'r', 'alice', { status: 'online', nested: { deep: [1] } })
    tracker.update('s1', 'r', 'alice', (prev) => ({ ...prev, status: 'away' }))

    const listed = tracker.list('r').alice!.metas[0]!
    const got = tracker.get('r', 'alice')[0]!.meta as { nested: { deep: number[] } }
    expect(Object.isFrozen(listed)).toBe(true)
    expect(Object.isFrozen(got)).toBe(true)
    expect(Object.isFrozen(got.nested)).toBe(true)
    expect(Object.isFrozen(got.nested.deep)).toBe(true)
    expect(() => {
      ;(listed as Record<string, unknown>).status = 'x'
    }).toThrow(TypeError)

    for (const { event, payload } of events) {
      if (event === 'diff') {
        const diff = payload as unknown as DiffEvent
        for (const state of [diff.joins, diff.leaves]) {
          for (const key of Object.keys(state)) {
            for (const meta of state[key]!.metas) expect(Object.isFrozen(meta)).toBe(true)
          }
        }
      } else {
        expect(Object.isFrozen(payload.meta)).toBe(true)
        if (event === 'update') expect(Object.isFrozen(payload.prevMeta)).toBe(true)
      }
    }
    expect(events.map((e) => e.event)).toEqual(['join', 'diff', 'update', 'diff'])
  })

  it('a caller changing the arrays list returned does not change the tracker', () => {
    const { tracker } = setup()
    tracker.track('s1', 'r', 'alice', {})
    const state = tracker.list('r')
    state.alice!.metas.length = 0
    delete state.alice
    expect(Object.keys(tracker.list('r'))).toEqual(['alice'])
    expect(tracker.list('r').alice!.metas).toHaveLength(1)
  })
})

describe('events', () => {
  it('join and leave carry topic, key, node, owner, meta, ref and origin local', () => {
    const { tracker, events } = setup()
    const ref = tracker.track('s1', 'r', 'alice', { status: 'online' })
    tracker.untrack('s1', 'r', 'alice')

    const expected: PresenceEvent = {
      topic: 'r',
      key: 'alice',
      node: tracker.nodeId,
      owner: 's1',
      meta: { status: 'online' },
      ref,
      origin: 'local',
    }
    expect(events.filter((e) => e.event !== 'diff')).toEqual([
      { event: 'join', payload: expected },
      { event: 'leave', payload: expected },
    ])
  })

  it('an update is one update event, but a leave plus a join in the diff', () => {
    const { tracker, events } = setup()
    const first = tracker.track('s1', 'r', 'alice', { status: 'online' })
    events.length = 0
    const second = tracker.update('s1', 'r', 'alice', { status: 'away' })

    expect(events.map((e) => e.event)).toEqual(['update', 'diff'])
    const update = events[0]!.payload as unknown as UpdateEvent
    expect(update).toEqual({
      topic: 'r',
      key: 'alice',
      node: tracker.nodeId,
      owner: 's1',
      meta: { status: 'away' },
      ref: second,
      prevMeta: { status: 'online' },
      prevRef: first,
      origin: 'local',
    })
    const diff = events[1]!.payload as unknown as DiffEvent
    expect(diff).toEqual({
      topic: 'r',
      joins: { alice: { metas: [{ status: 'away', phx_ref: second, phx_ref_prev: first }] } },
      leaves: { alice: { metas: [{ status: 'online', phx_ref: first }] } },
      origin: 'local',
    })
  })

  it('a diff event carries phx_ref on a join and a leave', () => {
    const { tracker, events } = setup()
    const ref = tracker.track('s1', 'r', 'alice', { status: 'online' })
    tracker.untrack('s1', 'r', 'alice')
    const diffs = events.filter((e) => e.event === 'diff').map((e) => e.payload)
    expect(diffs).toEqual([
      {
        topic: 'r',
        joins: { alice: { metas: [{ status: 'online', phx_ref: ref }] } },
        leaves: {},
        origin: 'local',
      },
      {
        topic: 'r',
        joins: {},
        leaves: { alice: { metas: [{ status: 'online', phx_ref: ref }] } },
        origin: 'local',
      },
    ])
  })

  it('are emitted after the change is committed, before the call returns', () => {
    const { tracker } = setup()
    const seen: unknown[] = []
    tracker.on('join', ({ topic, key }) => seen.push(tracker.get(topic, key).length))
    tracker.track('s1', 'r', 'alice', {})
    expect(seen).toEqual([1])
  })

  it('a listener that throws is reported; the others run and the caller is unaffected', () => {
    const { tracker, logs } = setup()
    const after = vi.fn()
    const boom = new Error('listener bug')
    tracker.on('join', () => {
      throw boom
    })
    tracker.on('join', after)
    tracker.on('diff', () => {
      throw boom
    })
    const diffAfter = vi.fn()
    tracker.on('diff', diffAfter)

    const ref = tracker.track('s1', 'r', 'alice', {})

    expect(typeof ref).toBe('string')
    expect(after).toHaveBeenCalledTimes(1)
    expect(diffAfter).toHaveBeenCalledTimes(1)
    expect(tracker.count('r')).toBe(1)
    const errors = logs.filter((log) => log.level === 'error')
    expect(errors.map((log) => log.message)).toEqual([
      'a "join" listener threw; the other listeners still ran',
      'a "diff" listener threw; the other listeners still ran',
    ])
    expect(errors[0]!.data).toEqual({ error: boom })
  })

  it('a throwing listener without a logger is swallowed', () => {
    const { tracker } = setup({ logger: undefined })
    tracker.on('leave', () => {
      throw new Error('x')
    })
    tracker.track('s1', 'r', 'alice', {})
    expect(() => tracker.untrack('s1', 'r', 'alice')).not.toThrow()
    expect(tracker.count('r')).toBe(0)
  })

  it('off removes a listener added with on', () => {
    const { tracker } = setup()
    const fn = vi.fn()
    tracker.on('join', fn)
    tracker.off('join', fn)
    tracker.track('s1', 'r', 'alice', {})
    expect(fn).not.toHaveBeenCalled()
  })
})

describe('errors', () => {
  it('are PresenceError instances with name and code', () => {
    const { tracker } = setup()
    const error = expectError(() => tracker.update('s', 'r', 'k', {}), 'nopresence')
    expect(error).toBeInstanceOf(Error)
    expect(error).toBeInstanceOf(PresenceError)
    expect(error.name).toBe('PresenceError')
  })
})

describe('entries of another node', () => {
  async function pair() {
    const clock = new ManualClock()
    const network = new MemoryNetwork()
    const make = (nodeId: string) =>
      new Tracker<TestMeta>({ clock, cluster: { transport: network.transport(nodeId), nodeId } })
    const a = make('a')
    const b = make('b')
    await clock.advance(2000)
    return { clock, a, b, close: () => Promise.all([a.close(), b.close()]) }
  }

  it('arrive with origin remote, and are nopresence here even for the same owner id', async () => {
    const { clock, a, b, close } = await pair()
    const events = record(b)
    const ref = a.track('s1', 'r', 'alice', { status: 'online' })
    await clock.advance(10)

    expect(events.map((e) => `${e.event}:${e.payload.origin}`)).toEqual([
      'join:remote',
      'diff:remote',
    ])
    expect(b.get('r', 'alice')).toEqual([
      { node: 'a', owner: 's1', meta: { status: 'online' }, ref },
    ])
    const before = snapshot(b)
    expectError(() => b.update('s1', 'r', 'alice', { status: 'hacked' }), 'nopresence')
    b.untrack('s1', 'r', 'alice')
    b.untrackAll('s1')
    expect(snapshot(b)).toEqual(before)
    expect(b.list('r').alice!.metas).toEqual([{ status: 'online', phx_ref: ref }])

    b.track('s1', 'r', 'alice', { status: 'here too' })
    expect(b.count('r')).toBe(2)
    await close()
  })
})
