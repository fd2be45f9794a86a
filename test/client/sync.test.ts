import { Presence } from 'phoenix'
import { describe, expect, it, vi } from 'vitest'
import { list, syncDiff, syncState } from '../../src/client/index.js'
import type { KeyPresence, PresenceState, WireMeta } from '../../src/types.js'

type M = { status: string }
const meta = (ref: string, status = 'online', prev?: string): WireMeta<M> =>
  prev === undefined ? { status, phx_ref: ref } : { status, phx_ref: ref, phx_ref_prev: prev }
const presence = (...metas: WireMeta<M>[]): KeyPresence<M> => ({ metas })

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
    Object.freeze(value)
  }
  return value
}

describe('syncState', () => {
  it('joins every key of a first state, with no current presence', () => {
    const onJoin = vi.fn()
    const state = syncState<M>({}, { alice: presence(meta('1')) }, onJoin)
    expect(state).toEqual({ alice: presence(meta('1')) })
    expect(Object.getPrototypeOf(state)).toBe(null)
    expect(onJoin).toHaveBeenCalledExactlyOnceWith('alice', undefined, presence(meta('1')))
  })

  it('reports new refs as joins and missing refs as leaves, by phx_ref', () => {
    const before: PresenceState<M> = {
      alice: presence(meta('1'), meta('2')),
      bob: presence(meta('3')),
    }
    const after: PresenceState<M> = { alice: presence(meta('2'), meta('4', 'away', '1')) }
    const onJoin = vi.fn()
    const onLeave = vi.fn()
    const state = syncState(before, after, onJoin, onLeave)

    expect(state).toEqual({ alice: presence(meta('2'), meta('4', 'away', '1')) })
    expect(onJoin.mock.calls).toEqual([
      ['alice', presence(meta('1'), meta('2')), presence(meta('4', 'away', '1'))],
    ])
    expect(onLeave.mock.calls).toEqual([
      ['bob', presence(), presence(meta('3'))],
      ['alice', presence(meta('2'), meta('4', 'away', '1')), presence(meta('1'))],
    ])
  })

  it('never mutates its inputs', () => {
    const before = deepFreeze<PresenceState<M>>({ a: presence(meta('1')), b: presence(meta('2')) })
    const after = deepFreeze<PresenceState<M>>({ a: presence(meta('3')), c: presence(meta('4')) })
    const copies = JSON.stringify([before, after])
    const state = syncState(
      before,
      after,
      () => {},
      () => {},
    )
    expect(JSON.stringify([before, after])).toBe(copies)
    expect(state).toEqual(after)
    expect(state).not.toBe(before)
  })

  it('keeps the current meta object for a ref that is in both states', () => {
    const kept = meta('1')
    const state = syncState<M>({ a: presence(kept) }, { a: presence(meta('1')) })
    expect(state.a!.metas[0]).toBe(kept)
  })
})

describe('syncDiff', () => {
  it('appends joined metas after the current ones and calls onJoin with both', () => {
    const state: PresenceState<M> = syncState({}, { a: presence(meta('1')) })
    const onJoin = vi.fn()
    const result = syncDiff(state, { joins: { a: presence(meta('2')) }, leaves: {} }, onJoin)
    expect(result.a).toEqual(presence(meta('1'), meta('2')))
    expect(onJoin).toHaveBeenCalledExactlyOnceWith('a', presence(meta('1')), presence(meta('2')))
  })

  it('applies an update (leave + join with phx_ref_prev) as Phoenix does: moved to the end', () => {
    let state: PresenceState<M> = syncState({}, { a: presence(meta('1'), meta('2')) })
    state = syncDiff(state, {
      joins: { a: presence(meta('3', 'away', '1')) },
      leaves: { a: presence(meta('1')) },
    })
    expect(state.a).toEqual(presence(meta('2'), meta('3', 'away', '1')))
  })

  it('replaces a meta joined again under the same ref', () => {
    const state = syncState<M>({}, { a: presence(meta('1'), meta('2')) })
    const result = syncDiff(state, { joins: { a: presence(meta('1', 'busy')) }, leaves: {} })
    expect(result.a).toEqual(presence(meta('2'), meta('1', 'busy')))
  })

  it('drops a key whose last meta left, telling onLeave with empty metas', () => {
    const state = syncState<M>({}, { a: presence(meta('1')) })
    const onLeave = vi.fn()
    const result = syncDiff(
      state,
      { joins: {}, leaves: { a: presence(meta('1')) } },
      undefined,
      onLeave,
    )
    expect(Object.keys(result)).toEqual([])
    expect(onLeave).toHaveBeenCalledExactlyOnceWith('a', presence(), presence(meta('1')))
  })

  it('ignores the leave of an absent key', () => {
    const onLeave = vi.fn()
    const result = syncDiff<M>(
      {},
      { joins: {}, leaves: { a: presence(meta('1')) } },
      undefined,
      onLeave,
    )
    expect(result).toEqual({})
    expect(onLeave).not.toHaveBeenCalled()
  })

  it('changes a null-prototype state in place and copies any other', () => {
    const own = syncState<M>({}, { a: presence(meta('1')) })
    const diff = { joins: { b: presence(meta('2')) }, leaves: {} }
    expect(syncDiff(own, diff)).toBe(own)

    const plain: PresenceState<M> = { a: presence(meta('1')) }
    const result = syncDiff(plain, diff)
    expect(result).not.toBe(plain)
    expect(Object.keys(plain)).toEqual(['a'])
    expect(Object.getPrototypeOf(result)).toBe(null)
  })

  it('mutates neither the diff nor a presence object of the state', () => {
    const state = syncState<M>({}, { a: presence(meta('1'), meta('2')) })
    const held = state.a!
    const diff = deepFreeze({
      joins: { a: presence(meta('3')) },
      leaves: { a: presence(meta('1')) },
    })
    syncDiff(state, diff)
    expect(held).toEqual(presence(meta('1'), meta('2')))
    expect(state.a).toEqual(presence(meta('2'), meta('3')))
  })

  it('keeps other presence fields, as Phoenix does', () => {
    const joined = { metas: [meta('1')], user: { name: 'Alice' } }
    const state = syncDiff<M>({}, { joins: { a: joined }, leaves: {} })
    expect(state.a).toEqual(joined)
  })

  it('matches phoenix on a key with many metas (matched through a Set)', () => {
    const metas = Array.from({ length: 60 }, (_, i) => meta(`r${i}`))
    const leaving = metas.filter((_, i) => i % 3 === 0)
    const joining = Array.from({ length: 10 }, (_, i) => meta(`n${i}`))
    const diff = { joins: { a: presence(...joining) }, leaves: { a: presence(...leaving) } }
    const ours = syncDiff(syncState<M>({}, { a: presence(...metas) }), diff)
    const theirs = Presence.syncDiff(Presence.syncState<M>({}, { a: presence(...metas) }), diff)
    expect(ours.a!.metas).toHaveLength(50)
    expect(ours).toEqual(theirs)
  })
})

describe('list', () => {
  const state = syncState<M>({}, { b: presence(meta('1')), a: presence(meta('2'), meta('3')) })

  it('returns the presences in key order', () => {
    expect(list(state)).toEqual([presence(meta('1')), presence(meta('2'), meta('3'))])
  })

  it('passes each key and presence through a chooser', () => {
    const chosen = list(state, (key, { metas }) => `${key}:${metas.length}`)
    expect(chosen).toEqual(['b:1', 'a:2'])
  })
})

describe('keys named like Object.prototype members', () => {
  const names = ['__proto__', 'constructor', 'hasOwnProperty', 'toString']

  it('are ordinary keys and never reach Object.prototype', () => {
    const protoNames = Object.getOwnPropertyNames(Object.prototype)
    const entries = names.map(
      (name, i) => `"${name}": {"metas": [{"status": "x", "phx_ref": "${i}"}]}`,
    )
    const payload = JSON.parse(`{${entries.join(',')}}`) as PresenceState<M>
    let state = syncState({}, payload)
    state = syncDiff(
      state,
      JSON.parse('{"joins": {"__proto__": {"metas": [{"phx_ref": "9"}]}}, "leaves": {}}'),
    )

    expect(Object.keys(state)).toEqual(names)
    expect(Object.hasOwn(state, '__proto__')).toBe(true)
    const at = (key: string) => state[key]!.metas
    expect(at('__proto__').map((m) => m.phx_ref)).toEqual(['0', '9'])
    expect(at('constructor')).toEqual([meta('1', 'x')])
    expect(list(state, (key) => key)).toEqual(names)
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(protoNames)
    expect(({} as Record<string, unknown>).metas).toBeUndefined()
  })

  it('leave like any other key', () => {
    const payload = JSON.parse('{"__proto__": {"metas": [{"phx_ref": "1"}]}}')
    const leaves = JSON.parse('{"__proto__": {"metas": [{"phx_ref": "1"}]}}')
    const state = syncDiff(syncState({}, payload), { joins: {}, leaves })
    expect(Object.keys(state)).toEqual([])
    expect(Object.getPrototypeOf(state)).toBe(null)
  })
})
