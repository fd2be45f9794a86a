import { describe, expect, it, vi } from 'vitest'
import { Channels } from '../../src/channel.js'
import { ReplicatedSet, replicaOf } from '../../src/state/index.js'
import { ManualClock } from '../../src/testing/index.js'
import type { Meta } from '../../src/types.js'
import { setup } from '../core/helpers.js'
import { canonical, expectWellFormedDiff, type Msg, ReferenceClient, recorder } from './helpers.js'

describe('subscribe', () => {
  it('a subscription made inside a join listener gets that join once, in its state', () => {
    const { tracker } = setup()
    const { messages, send } = recorder()
    tracker.on('join', () => {
      if (messages.length === 0) tracker.subscribe('r', send)
    })
    const ref = tracker.track('s1', 'r', 'alice', { status: 'online' })
    tracker.track('s2', 'r', 'bob', {})
    expect(messages[0]).toEqual({
      event: 'presence_state',
      payload: { alice: { metas: [{ status: 'online', phx_ref: ref }] } },
    })
    expect(messages).toHaveLength(2)
    expect(messages[1]!.event).toBe('presence_diff')
  })

  it('a logger that throws does not reach the caller', () => {
    const { tracker } = setup({
      logger: () => {
        throw new Error('logger down')
      },
    })
    tracker.on('join', () => {
      throw new Error('listener down')
    })
    expect(() => tracker.track('s1', 'r', 'alice', {})).not.toThrow()
    expect(tracker.count('r')).toBe(1)
  })

  it('sends presence_state at once, then one presence_diff per change', () => {
    const { tracker } = setup()
    const a = tracker.track('s1', 'r', 'alice', { status: 'online' })
    const { messages, send } = recorder()
    tracker.subscribe('r', send)
    expect(messages).toEqual([
      {
        event: 'presence_state',
        payload: { alice: { metas: [{ status: 'online', phx_ref: a }] } },
      },
    ])

    const b = tracker.track('s2', 'r', 'bob', {})
    const a2 = tracker.update('s1', 'r', 'alice', { status: 'away' })
    tracker.untrack('s2', 'r', 'bob')
    tracker.track('s3', 'other', 'carol', {})

    expect(messages.slice(1)).toEqual([
      {
        event: 'presence_diff',
        payload: { joins: { bob: { metas: [{ phx_ref: b }] } }, leaves: {} },
      },
      {
        event: 'presence_diff',
        payload: {
          joins: { alice: { metas: [{ status: 'away', phx_ref: a2, phx_ref_prev: a }] } },
          leaves: { alice: { metas: [{ status: 'online', phx_ref: a }] } },
        },
      },
      {
        event: 'presence_diff',
        payload: { joins: {}, leaves: { bob: { metas: [{ phx_ref: b }] } } },
      },
    ])
  })

  it('an empty topic gives an empty presence_state', () => {
    const { tracker } = setup()
    const { messages, send } = recorder()
    tracker.subscribe('nobody-here', send)
    expect(messages).toEqual([{ event: 'presence_state', payload: {} }])
  })

  it('untrackAll sends one diff per topic with every leave of it', () => {
    const { tracker } = setup()
    tracker.track('s1', 'r', 'alice', {})
    tracker.track('s1', 'r', 'bob', {})
    tracker.track('s1', 'q', 'alice', {})
    const { messages, send } = recorder()
    tracker.subscribe('r', send)
    tracker.untrackAll('s1')
    expect(messages).toHaveLength(2)
    const diff = messages[1]!
    expect(diff.event).toBe('presence_diff')
    if (diff.event === 'presence_diff')
      expect(Object.keys(diff.payload.leaves).sort()).toEqual(['alice', 'bob'])
  })

  it('unsubscribe stops the messages; calling it twice is harmless', () => {
    const { tracker } = setup()
    const { messages, send } = recorder()
    const stop = tracker.subscribe('r', send)
    tracker.track('s1', 'r', 'alice', {})
    stop()
    stop()
    tracker.track('s2', 'r', 'bob', {})
    expect(messages.map((m) => m.event)).toEqual(['presence_state', 'presence_diff'])
  })

  it('a send that throws is reported; the other subscribers are served', () => {
    const { tracker, logs } = setup()
    const boom = new Error('socket closed')
    const first = recorder()
    const last = recorder()
    tracker.subscribe('r', first.send)
    tracker.subscribe('r', () => {
      throw boom
    })
    tracker.subscribe('r', last.send)

    expect(() => tracker.track('s1', 'r', 'alice', {})).not.toThrow()

    expect(first.messages).toHaveLength(2)
    expect(last.messages).toHaveLength(2)
    expect(tracker.count('r')).toBe(1)
    const errors = logs.filter((log) => log.level === 'error')
    expect(errors).toHaveLength(2)
    expect(errors[1]).toEqual({
      level: 'error',
      message: 'a subscriber send threw; other subscribers were served',
      data: { topic: 'r', error: boom },
    })
  })

  it('a subscriber that unsubscribes another from inside send does not break delivery', () => {
    const { tracker } = setup()
    const other = recorder()
    let stopOther = () => {}
    tracker.subscribe('r', (message) => {
      if (message.event === 'presence_diff') stopOther()
    })
    stopOther = tracker.subscribe('r', other.send)
    tracker.track('s1', 'r', 'alice', {})
    tracker.track('s1', 'r', 'bob', {})
    expect(other.messages.map((m) => m.event)).toEqual(['presence_state'])
  })

  it('a send that unsubscribes most others mid-delivery serves exactly those still on', () => {
    const { tracker } = setup()
    const later = Array.from({ length: 7 }, () => recorder())
    const stops: Array<() => void> = []
    let stopped = false
    tracker.subscribe('r', (message) => {
      // Stopping five of eight compacts the list while this delivery still walks it.
      if (message.event !== 'presence_diff' || stopped) return
      stopped = true
      for (const stop of stops.slice(0, 5)) stop()
    })
    for (const each of later) stops.push(tracker.subscribe('r', each.send))
    tracker.track('s1', 'r', 'alice', {})
    tracker.track('s1', 'r', 'bob', {})

    const events = later.map((each) => each.messages.map((m) => m.event))
    expect(events.slice(0, 5)).toEqual(Array(5).fill(['presence_state']))
    const stayed = ['presence_state', 'presence_diff', 'presence_diff']
    expect(events.slice(5)).toEqual([stayed, stayed])
  })

  it('after many subscribers leave, the rest still get every change, in their order', () => {
    const { tracker } = setup()
    const order: number[] = []
    const stops = Array.from({ length: 20 }, (_, n) =>
      tracker.subscribe('r', (message) => {
        if (message.event === 'presence_diff') order.push(n)
      }),
    )
    for (const [n, stop] of stops.entries()) if (n % 4 !== 0) stop()
    const late = recorder()
    tracker.subscribe('r', late.send)
    tracker.track('s1', 'r', 'alice', {})

    expect(order).toEqual([0, 4, 8, 12, 16])
    expect(late.messages.map((m) => m.event)).toEqual(['presence_state', 'presence_diff'])
  })

  it('a change made from inside send reaches every subscriber, each ending at list', () => {
    const { tracker } = setup()
    const clients = Array.from({ length: 4 }, () => new ReferenceClient())
    tracker.subscribe('r', (message) => {
      const joins = message.event === 'presence_diff' ? Object.keys(message.payload.joins) : []
      if (joins.includes('alice')) tracker.track('s2', 'r', 'bob', {})
    })
    for (const client of clients) tracker.subscribe('r', (message) => client.receive(message))
    tracker.track('s1', 'r', 'alice', {})

    for (const client of clients) {
      expect(client.canonical()).toEqual(canonical(tracker.list('r')))
    }
    expect(clients[0]!.keys.size).toBe(2)
  })

  it('messages shared by many subscribers are frozen', () => {
    const { tracker } = setup()
    const seen: Msg[] = []
    tracker.subscribe('r', (message) => seen.push(message))
    tracker.subscribe('r', (message) => seen.push(message))
    tracker.track('s1', 'r', 'alice', {})
    const [, , diffA, diffB] = seen
    expect(diffA).toBe(diffB)
    expect(Object.isFrozen(diffA)).toBe(true)
    if (diffA?.event === 'presence_diff') {
      expect(Object.isFrozen(diffA.payload.joins)).toBe(true)
      expect(Object.isFrozen(diffA.payload.joins.alice!.metas)).toBe(true)
      expect(Object.isFrozen(diffA.payload.joins.alice!.metas[0])).toBe(true)
    }
  })

  it('state and diff payloads have no prototype, so __proto__ is an ordinary key', () => {
    const { tracker } = setup()
    tracker.track('s1', 'r', '__proto__', { a: 1 })
    const seen: Msg[] = []
    tracker.subscribe('r', (message) => seen.push(message))
    tracker.track('s2', 'r', 'constructor', {})
    const state = seen[0]!.payload as Record<string, unknown>
    expect(Object.getPrototypeOf(state)).toBe(null)
    expect(Object.keys(state)).toEqual(['__proto__'])
    const client = new ReferenceClient()
    for (const message of seen) client.receive(JSON.parse(JSON.stringify(message)))
    expect(client.canonical()).toEqual(canonical(tracker.list('r')))
  })
})

describe('countOnly', () => {
  it('sends presence_count at once and then only when a count changes', () => {
    const { tracker } = setup()
    tracker.track('s1', 'r', 'alice', {})
    const { messages, send } = recorder()
    tracker.subscribe('r', send, { countOnly: true })
    tracker.update('s1', 'r', 'alice', { status: 'away' })
    tracker.track('s2', 'r', 'alice', {})
    tracker.track('s2', 'r', 'bob', {})
    tracker.update('s2', 'r', 'bob', { n: 1 })
    tracker.untrackAll('s2')
    tracker.track('s9', 'elsewhere', 'x', {})

    expect(messages).toEqual([
      { event: 'presence_count', payload: { keys: 1, entries: 1 } },
      { event: 'presence_count', payload: { keys: 1, entries: 2 } },
      { event: 'presence_count', payload: { keys: 2, entries: 3 } },
      { event: 'presence_count', payload: { keys: 1, entries: 1 } },
    ])
  })

  it('with a window, sends the count at flush time only if it changed', async () => {
    const { tracker, clock } = setup()
    const { messages, send } = recorder()
    tracker.subscribe('r', send, { countOnly: true, diffWindowMs: 100 })
    tracker.track('s1', 'r', 'alice', {})
    tracker.track('s2', 'r', 'bob', {})
    await clock.advance(100)
    tracker.track('s3', 'r', 'carol', {})
    tracker.untrack('s3', 'r', 'carol')
    await clock.advance(100)

    expect(messages).toEqual([
      { event: 'presence_count', payload: { keys: 0, entries: 0 } },
      { event: 'presence_count', payload: { keys: 2, entries: 2 } },
    ])
  })
})

describe('diffWindowMs', () => {
  it('coalesces changes into one diff at flush time, and none when nothing changed', async () => {
    const { tracker, clock } = setup()
    const a = tracker.track('s1', 'r', 'alice', { v: 1 })
    const { messages, send } = recorder()
    tracker.subscribe('r', send, { diffWindowMs: 50 })
    const a2 = tracker.update('s1', 'r', 'alice', { v: 2 })
    const a3 = tracker.update('s1', 'r', 'alice', { v: 3 })
    tracker.track('s2', 'r', 'bob', {})
    tracker.untrack('s2', 'r', 'bob')
    expect(messages).toHaveLength(1)

    await clock.advance(50)
    expect(messages).toHaveLength(2)
    expect(messages[1]).toEqual({
      event: 'presence_diff',
      payload: {
        joins: { alice: { metas: [{ v: 3, phx_ref: a3 }] } },
        leaves: { alice: { metas: [{ v: 1, phx_ref: a }] } },
      },
    })
    expect(a2).not.toBe(a3)

    tracker.track('s3', 'r', 'carol', {})
    tracker.untrack('s3', 'r', 'carol')
    await clock.advance(500)
    expect(messages).toHaveLength(2)
  })

  it('keeps phx_ref_prev when the replaced ref is in the same diff leaves', async () => {
    const { tracker, clock } = setup()
    const a = tracker.track('s1', 'r', 'alice', { v: 1 })
    const { messages, send } = recorder()
    tracker.subscribe('r', send, { diffWindowMs: 50 })
    const a2 = tracker.update('s1', 'r', 'alice', { v: 2 })
    await clock.advance(50)
    expect(messages[1]).toEqual({
      event: 'presence_diff',
      payload: {
        joins: { alice: { metas: [{ v: 2, phx_ref: a2, phx_ref_prev: a }] } },
        leaves: { alice: { metas: [{ v: 1, phx_ref: a }] } },
      },
    })
  })

  it('unsubscribe inside the window cancels the pending flush', async () => {
    const { tracker, clock } = setup()
    const { messages, send } = recorder()
    const stop = tracker.subscribe('r', send, { diffWindowMs: 50 })
    tracker.track('s1', 'r', 'alice', {})
    stop()
    await clock.advance(100)
    expect(messages).toHaveLength(1)
    expect(clock.pending()).toBe(0)
  })

  it('a window subscriber and a direct one on one topic both end in the same state', async () => {
    const { tracker, clock } = setup()
    const direct = new ReferenceClient()
    const windowed = new ReferenceClient()
    tracker.subscribe('r', (m) => direct.receive(m))
    tracker.subscribe('r', (m) => windowed.receive(m), { diffWindowMs: 30 })
    tracker.track('s1', 'r', 'alice', {})
    tracker.update('s1', 'r', 'alice', { n: 1 })
    await clock.advance(10)
    tracker.track('s2', 'r', 'alice', {})
    await clock.advance(30)
    expect(windowed.canonical()).toEqual(direct.canonical())
    expect(direct.canonical()).toEqual(canonical(tracker.list('r')))
  })
})

describe('coalescing across a hidden and shown replica', () => {
  it('an entry hidden and shown again within a window is neither a join nor a leave', async () => {
    const remote = new ReplicatedSet<Meta>(replicaOf('b', 'inc-b'))
    const local = new ReplicatedSet<Meta>(replicaOf('a', 'inc-a'))
    remote.add('r', 'alice', 's1', {})
    local.merge(remote.takeDelta()!)
    const clock = new ManualClock()
    const log = vi.fn()
    const channels = new Channels<Meta>({ clock, view: (topic) => local.topic(topic), log })
    const { messages, send } = recorder()
    channels.subscribe('r', send, { diffWindowMs: 100 })

    const hidden = local.hide(remote.self.id)
    channels.topicChanged('r', hidden.joined, hidden.left)
    const shown = local.show(remote.self.id)
    channels.topicChanged('r', shown.joined, shown.left)
    await clock.advance(100)

    for (const message of messages) expectWellFormedDiff(message)
    const client = new ReferenceClient()
    for (const message of messages) client.receive(message)
    expect(client.canonical()).toEqual(
      canonical(
        Object.fromEntries(
          [...local.topic('r')!.keys.keys()].map((key) => [
            key,
            {
              metas: local
                .topic('r')!
                .entriesOf(key)
                .map((e) => e.wire),
            },
          ]),
        ),
      ),
    )
    expect(messages).toHaveLength(1)
    expect(log).not.toHaveBeenCalled()
  })
})
