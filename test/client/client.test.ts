import { describe, expect, it, vi } from 'vitest'
import {
  type ClientErrorContext,
  DEFAULT_MAX_PENDING_DIFFS,
  PresenceClient,
  PresenceError,
} from '../../src/client/index.js'
import type { PresenceState, WireMeta } from '../../src/types.js'

type M = { status: string }
const meta = (ref: string, status = 'online', prev?: string): WireMeta<M> =>
  prev === undefined ? { status, phx_ref: ref } : { status, phx_ref: ref, phx_ref_prev: prev }
const stateMessage = (payload: PresenceState<M>) => ({ event: 'presence_state', payload })
const diffMessage = (joins: PresenceState<M>, leaves: PresenceState<M> = {}) => ({
  event: 'presence_diff',
  payload: { joins, leaves },
})

/** A client with every event recorded, in order. */
function recorded(client = new PresenceClient<M>()) {
  const events: unknown[][] = []
  client.on('join', (key, m, presence) =>
    events.push(['join', key, m.phx_ref, presence.metas.length]),
  )
  client.on('leave', (key, m, presence) =>
    events.push(['leave', key, m.phx_ref, presence?.metas.length]),
  )
  client.on('update', (key, m, previous) =>
    events.push(['update', key, previous.phx_ref, m.phx_ref]),
  )
  client.on('sync', () => events.push(['sync']))
  client.on('count', (count) => events.push(['count', count]))
  const errors: [Error, ClientErrorContext][] = []
  client.on('error', (error, context) => errors.push([error, context]))
  return { client, events, errors }
}

describe('PresenceClient: states and diffs', () => {
  it('turns a first state into joins, then a sync', () => {
    const { client, events } = recorded()
    client.receive(
      stateMessage({ alice: { metas: [meta('1'), meta('2')] }, bob: { metas: [meta('3')] } }),
    )
    expect(events).toEqual([
      ['join', 'alice', '1', 2],
      ['join', 'alice', '2', 2],
      ['join', 'bob', '3', 1],
      ['sync'],
    ])
    expect(client.list((key, { metas }) => `${key}:${metas.length}`)).toEqual(['alice:2', 'bob:1'])
    expect(client.inPendingSyncState()).toBe(false)
  })

  it('turns a diff that replaces a meta (phx_ref_prev) into one update', () => {
    const { client, events } = recorded()
    client.receive(stateMessage({ alice: { metas: [meta('1')] } }))
    events.length = 0
    client.receive(
      diffMessage(
        { alice: { metas: [meta('2', 'away', '1')] } },
        { alice: { metas: [meta('1')] } },
      ),
    )
    expect(events).toEqual([['update', 'alice', '1', '2'], ['sync']])
    expect(client.state.alice!.metas).toEqual([meta('2', 'away', '1')])
  })

  it('tells a leave with the remaining presence, or undefined when the key is gone', () => {
    const { client, events } = recorded()
    client.receive(
      stateMessage({ a: { metas: [meta('1'), meta('2')] }, b: { metas: [meta('3')] } }),
    )
    events.length = 0
    client.receive(diffMessage({}, { a: { metas: [meta('1')] }, b: { metas: [meta('3')] } }))
    expect(events).toEqual([['leave', 'a', '1', 1], ['leave', 'b', '3', undefined], ['sync']])
    expect(Object.keys(client.state)).toEqual(['a'])
  })

  it('holds diffs that come before the first state and applies them after it', () => {
    const { client, events } = recorded()
    client.receive(diffMessage({ bob: { metas: [meta('2')] } }))
    expect(client.inPendingSyncState()).toBe(true)
    expect(events).toEqual([])
    expect(client.list()).toEqual([])

    client.receive(stateMessage({ alice: { metas: [meta('1')] } }))
    expect(events).toEqual([['join', 'alice', '1', 1], ['join', 'bob', '2', 1], ['sync']])
    expect(Object.keys(client.state)).toEqual(['alice', 'bob'])
    expect(client.inPendingSyncState()).toBe(false)
  })

  it('drops the oldest held diff past maxPendingDiffs and says so', () => {
    const { client, errors } = recorded(new PresenceClient<M>({ maxPendingDiffs: 1 }))
    const first = diffMessage({ a: { metas: [meta('1')] } })
    client.receive(first)
    client.receive(diffMessage({ b: { metas: [meta('2')] } }))
    client.receive(stateMessage({}))
    expect(Object.keys(client.state)).toEqual(['b'])
    expect(errors).toHaveLength(1)
    expect(errors[0]![0].message).toContain('more than 1 presence_diff messages')
    expect(errors[0]![1].received).toBe(first.payload)
  })

  it('holds up to 1,000 diffs by default', () => {
    expect(DEFAULT_MAX_PENDING_DIFFS).toBe(1000)
    const { client, errors } = recorded()
    for (let i = 0; i < 1000; i++)
      client.receive(diffMessage({ [`k${i}`]: { metas: [meta(`${i}`)] } }))
    client.receive(stateMessage({}))
    expect(errors).toEqual([])
    expect(client.list()).toHaveLength(1000)
  })

  it('refuses a maxPendingDiffs that is not a count', () => {
    expect(() => new PresenceClient({ maxPendingDiffs: -1 })).toThrow(PresenceError)
    expect(() => new PresenceClient({ maxPendingDiffs: 1.5 })).toThrow(/non-negative integer/)
  })

  it('keeps the same state object across diffs', () => {
    const { client } = recorded()
    client.receive(stateMessage({ a: { metas: [meta('1')] } }))
    const view = client.state
    client.receive(diffMessage({ b: { metas: [meta('2')] } }))
    expect(client.state).toBe(view)
    expect(Object.keys(view)).toEqual(['a', 'b'])
  })
})

describe('PresenceClient: reconnects', () => {
  const before = { a: { metas: [meta('1')] }, b: { metas: [meta('2')] }, c: { metas: [meta('3')] } }
  const after = {
    a: { metas: [meta('1')] },
    b: { metas: [meta('4', 'away', '2')] },
    d: { metas: [meta('5')] },
  }

  it('reconciles a second state into joins, updates and leaves of what changed', () => {
    const { client, events } = recorded()
    client.receive(stateMessage(before))
    events.length = 0
    client.reset()
    expect(client.inPendingSyncState()).toBe(true)
    client.receive(stateMessage(after))
    expect(events).toEqual([
      ['update', 'b', '2', '4'],
      ['join', 'd', '5', 1],
      ['leave', 'c', '3', undefined],
      ['sync'],
    ])
    expect(client.state).toEqual(after)
  })

  it('reconciles a second state without a reset too', () => {
    const { client, events } = recorded()
    client.receive(stateMessage(before))
    events.length = 0
    client.receive(stateMessage(after))
    expect(events.map(([kind]) => kind)).toEqual(['update', 'join', 'leave', 'sync'])
  })

  it('holds diffs after a reset and drops those held from the old connection', () => {
    const { client, events } = recorded()
    client.receive(diffMessage({ stale: { metas: [meta('0')] } }))
    client.reset()
    client.receive(diffMessage({ e: { metas: [meta('6')] } }))
    expect(events).toEqual([])
    client.receive(stateMessage(before))
    expect(Object.keys(client.state)).toEqual(['a', 'b', 'c', 'e'])
  })
})

describe('PresenceClient: presence_count', () => {
  it('keeps and tells the count, leaving the state alone', () => {
    const { client, events } = recorded()
    expect(client.count).toBeUndefined()
    client.receive({ event: 'presence_count', payload: { keys: 3, entries: 5 } })
    expect(client.count).toEqual({ keys: 3, entries: 5 })
    expect(events).toEqual([['count', { keys: 3, entries: 5 }]])
    expect(client.list()).toEqual([])
  })
})

describe('PresenceClient: malformed messages', () => {
  const inherited = Object.create({ event: 'presence_state', payload: {} })
  const inheritedMetas = { event: 'presence_state', payload: { a: Object.create({ metas: [] }) } }
  const cases: [string, unknown, RegExp][] = [
    ['null', null, /expected a message \{ event, payload \}, got null/],
    ['a string', 'presence_state', /got "presence_state"/],
    ['an array', [], /got an array/],
    ['no event', {}, /expected event .*got nothing/],
    ['an unknown event', { event: 'phx_reply', payload: {} }, /got "phx_reply"/],
    ['an inherited event', inherited, /expected event/],
    ['a state without payload', { event: 'presence_state' }, /payload should be an object/],
    ['a state that is an array', { event: 'presence_state', payload: [] }, /got an array/],
    ['a presence that is null', stateMessage({ a: null as never }), /payload\["a"\] should be/],
    [
      'a presence without metas',
      stateMessage({ a: {} as never }),
      /payload\["a"\]\.metas should be an array/,
    ],
    ['inherited metas', inheritedMetas, /\.metas should be an array, got nothing/],
    ['metas not an array', stateMessage({ a: { metas: {} as never } }), /got an object/],
    [
      'a meta that is null',
      stateMessage({ a: { metas: [null as never] } }),
      /metas\[0\] should be an object/,
    ],
    [
      'a meta without phx_ref',
      stateMessage({ a: { metas: [{} as never] } }),
      /metas\[0\]\.phx_ref should be a string/,
    ],
    [
      'a numeric phx_ref',
      stateMessage({ a: { metas: [{ phx_ref: 1 } as never] } }),
      /got number 1/,
    ],
    [
      'a numeric phx_ref_prev',
      stateMessage({ a: { metas: [{ phx_ref: '1', phx_ref_prev: 2 } as never] } }),
      /phx_ref_prev should be a string/,
    ],
    ['a diff without payload', { event: 'presence_diff' }, /payload should be \{ joins, leaves \}/],
    [
      'a diff without leaves',
      { event: 'presence_diff', payload: { joins: {} } },
      /payload\.leaves should be/,
    ],
    [
      'a diff with a bad join',
      diffMessage({ a: { metas: [meta('1'), { status: 'x' } as never] } }),
      /payload\.joins\["a"\]\.metas\[1\]\.phx_ref/,
    ],
    [
      'a negative count',
      { event: 'presence_count', payload: { keys: -1, entries: 0 } },
      /non-negative/,
    ],
    [
      'a fractional count',
      { event: 'presence_count', payload: { keys: 1, entries: 0.5 } },
      /non-negative/,
    ],
  ]

  it.each(cases)('drops %s and says why, without throwing', (_, message, reason) => {
    const { client, events, errors } = recorded()
    client.receive(stateMessage({ a: { metas: [meta('1')] } }))
    const state = client.state
    const snapshot = JSON.stringify(state)
    events.length = 0

    expect(() => client.receive(message)).not.toThrow()
    expect(errors).toHaveLength(1)
    const [error, context] = errors[0]!
    expect(error).toBeInstanceOf(PresenceError)
    expect((error as PresenceError).code).toBe('invalid_argument')
    expect(error.message).toMatch(reason)
    expect(context.received).toBe(message)
    expect(events).toEqual([])
    expect(client.state).toBe(state)
    expect(JSON.stringify(client.state)).toBe(snapshot)
  })

  it('survives a message whose getters throw', () => {
    const { client, errors } = recorded()
    const hostile = {
      event: 'presence_state',
      get payload(): never {
        throw new Error('boom')
      },
    }
    expect(() => client.receive(hostile)).not.toThrow()
    expect(errors[0]![0].message).toMatch(/receive\(\) failed on an object: boom/)
  })

  it('does not throw without an error listener', () => {
    const client = new PresenceClient()
    expect(() => client.receive(undefined)).not.toThrow()
    expect(client.list()).toEqual([])
  })
})

describe('PresenceClient: listeners', () => {
  it('reports a listener that throws and goes on with the others', () => {
    const { client, events, errors } = recorded()
    const boom = new Error('listener bug')
    client.on('join', () => {
      throw boom
    })
    const after = vi.fn()
    client.on('join', after)
    client.receive(stateMessage({ a: { metas: [meta('1')] } }))

    expect(errors).toEqual([[boom, { listener: 'join' }]])
    expect(after).toHaveBeenCalledOnce()
    expect(events.at(-1)).toEqual(['sync'])
    expect(Object.keys(client.state)).toEqual(['a'])
  })

  it('wraps a thrown non-Error, keeping it as the cause', () => {
    const { client, errors } = recorded()
    client.on('sync', () => {
      throw 'nope'
    })
    client.receive(stateMessage({}))
    expect(errors[0]![0].message).toBe('a "sync" listener threw "nope"')
    expect(errors[0]![0].cause).toBe('nope')
    expect(errors[0]![1]).toEqual({ listener: 'sync' })
  })

  it('swallows an error listener that throws', () => {
    const client = new PresenceClient()
    const second = vi.fn()
    client.on('error', () => {
      throw new Error('error listener bug')
    })
    client.on('error', second)
    expect(() => client.receive(42)).not.toThrow()
    expect(second).toHaveBeenCalledOnce()
  })

  it('removes a listener through the returned function or off()', () => {
    const client = new PresenceClient()
    const sync = vi.fn()
    const unsubscribe = client.on('sync', sync)
    client.on('sync', sync)
    client.receive(stateMessage({}))
    expect(sync).toHaveBeenCalledOnce()

    unsubscribe()
    client.receive(stateMessage({}))
    expect(sync).toHaveBeenCalledOnce()

    const count = vi.fn()
    client.on('count', count)
    client.off('count', count)
    client.receive({ event: 'presence_count', payload: { keys: 0, entries: 0 } })
    expect(count).not.toHaveBeenCalled()
  })

  it('does not call a listener added while an event is being delivered', () => {
    const client = new PresenceClient()
    const late = vi.fn()
    client.on('sync', () => {
      client.on('sync', late)
    })
    client.receive(stateMessage({}))
    expect(late).not.toHaveBeenCalled()
  })
})

describe('PresenceClient: keys named like Object.prototype members', () => {
  it('tracks __proto__, constructor and hasOwnProperty as users', () => {
    const protoNames = Object.getOwnPropertyNames(Object.prototype)
    const { client, events } = recorded()
    client.receive(
      JSON.parse(`{"event": "presence_state", "payload": {
        "__proto__": {"metas": [{"status": "a", "phx_ref": "1"}]},
        "constructor": {"metas": [{"status": "b", "phx_ref": "2"}]},
        "hasOwnProperty": {"metas": [{"status": "c", "phx_ref": "3"}]}}}`),
    )
    client.receive(
      JSON.parse(`{"event": "presence_diff", "payload": {"joins": {},
        "leaves": {"__proto__": {"metas": [{"phx_ref": "1"}]}}}}`),
    )

    expect(events).toEqual([
      ['join', '__proto__', '1', 1],
      ['join', 'constructor', '2', 1],
      ['join', 'hasOwnProperty', '3', 1],
      ['sync'],
      ['leave', '__proto__', '1', undefined],
      ['sync'],
    ])
    expect(Object.keys(client.state)).toEqual(['constructor', 'hasOwnProperty'])
    const key = 'constructor'
    expect(client.state[key]).toEqual({ metas: [meta('2', 'b')] })
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(protoNames)
    expect(typeof Object.prototype.hasOwnProperty).toBe('function')
  })
})
