import { describe, expect, it } from 'vitest'
import type { PresenceErrorCode } from '../../src/errors.js'
import type { Tracker } from '../../src/tracker.js'
import { expectCleanPrototype, expectError, setup, snapshot, type TestMeta } from './helpers.js'

type Call = (tracker: Tracker<TestMeta>) => unknown

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

const cyclic = (): object => {
  const meta: Record<string, unknown> = { a: 1 }
  meta.self = { back: meta }
  return meta
}

const deep = (levels: number): object => {
  let meta: object = { leaf: true }
  for (let i = 0; i < levels; i++) meta = { down: meta }
  return meta
}

const ID = 'a non-empty string of at most 256 characters'
const long = 'x'.repeat(257)

/** Every call that must be refused, with the code and what its message must say. */
const INVALID: Array<[string, Call, PresenceErrorCode, RegExp]> = [
  [
    'numeric topic',
    (t) => t.track('s', 42 as never, 'k', {}),
    'invalid_argument',
    new RegExp(`Expected topic to be ${ID}, got number 42`),
  ],
  [
    'empty topic',
    (t) => t.track('s', '', 'k', {}),
    'invalid_argument',
    new RegExp(`Expected topic to be ${ID}, got ""`),
  ],
  [
    'too long topic',
    (t) => t.track('s', long, 'k', {}),
    'invalid_argument',
    /Expected topic to be .*, got "x{57}\.\.\." \(257 chars\)/,
  ],
  [
    'undefined key',
    (t) => t.track('s', 'r', undefined as never, {}),
    'invalid_argument',
    new RegExp(`Expected key to be ${ID}, got undefined`),
  ],
  [
    'empty key',
    (t) => t.track('s', 'r', '', {}),
    'invalid_argument',
    /Expected key to be .*, got ""/,
  ],
  [
    'too long key',
    (t) => t.track('s', 'r', long, {}),
    'invalid_argument',
    /Expected key to be .*\(257 chars\)/,
  ],
  [
    'null owner',
    (t) => t.track(null as never, 'r', 'k', {}),
    'invalid_argument',
    new RegExp(`Expected owner to be ${ID}, got null`),
  ],
  [
    'empty owner',
    (t) => t.track('', 'r', 'k', {}),
    'invalid_argument',
    /Expected owner to be .*, got ""/,
  ],
  [
    'too long owner',
    (t) => t.track(long, 'r', 'k', {}),
    'invalid_argument',
    /Expected owner to be .*\(257 chars\)/,
  ],
  [
    'reserved owner prefix',
    (t) => t.track('\u0000name:game', 'r', 'k', {}),
    'invalid_argument',
    /does not start with "\\u0000name:", which is reserved/,
  ],
  [
    'reserved owner prefix on update',
    (t) => t.update('\u0000name:x', 'r', 'k', {}),
    'invalid_argument',
    /reserved for standalone names/,
  ],
  [
    '{ name } with names off',
    (t) => t.track({ name: 'game' }, 'r', 'k', {}),
    'names_disabled',
    /Expected the named-owner registry to be on.*names: true/,
  ],
  [
    'array meta',
    (t) => t.track('s', 'r', 'k', [] as never),
    'invalid_meta',
    /Expected meta to be a plain object, got an array/,
  ],
  [
    'string meta',
    (t) => t.track('s', 'r', 'k', 'hi' as never),
    'invalid_meta',
    /Expected meta to be a plain object, got "hi"/,
  ],
  [
    'null meta',
    (t) => t.track('s', 'r', 'k', null as never),
    'invalid_meta',
    /Expected meta to be a plain object, got null/,
  ],
  [
    'class instance meta',
    (t) => t.track('s', 'r', 'k', new Point(1, 2) as never),
    'invalid_meta',
    /Expected plain objects and arrays in meta, got an instance of Point/,
  ],
  [
    'nested Date',
    (t) => t.track('s', 'r', 'k', { at: new Date(0) } as never),
    'invalid_meta',
    /got an instance of Date/,
  ],
  [
    'nested Map',
    (t) => t.track('s', 'r', 'k', { m: new Map() } as never),
    'invalid_meta',
    /got an instance of Map/,
  ],
  [
    'cycle',
    (t) => t.track('s', 'r', 'k', cyclic() as never),
    'invalid_meta',
    /Expected a meta without cycles/,
  ],
  [
    'function',
    (t) => t.track('s', 'r', 'k', { fn: () => 1 } as never),
    'invalid_meta',
    /Expected only JSON values in meta, got a function/,
  ],
  [
    'bigint',
    (t) => t.track('s', 'r', 'k', { n: 1n } as never),
    'invalid_meta',
    /Expected only JSON values in meta, got bigint 1/,
  ],
  [
    'symbol',
    (t) => t.track('s', 'r', 'k', { s: Symbol('x') } as never),
    'invalid_meta',
    /Expected only JSON values in meta/,
  ],
  [
    'NaN',
    (t) => t.track('s', 'r', 'k', { n: Number.NaN }),
    'invalid_meta',
    /Expected finite numbers in meta, got NaN/,
  ],
  [
    'Infinity',
    (t) => t.track('s', 'r', 'k', { n: [Number.POSITIVE_INFINITY] }),
    'invalid_meta',
    /Expected finite numbers in meta, got Infinity/,
  ],
  [
    'too big',
    (t) => t.track('s', 'r', 'k', { blob: 'x'.repeat(9000) }),
    'invalid_meta',
    /Expected a meta of at most 8192 bytes of JSON, got 9011.*maxMetaBytes/,
  ],
  [
    'too big in UTF-8',
    (t) => t.track('s', 'r', 'k', { blob: 'é'.repeat(4091) }),
    'invalid_meta',
    /at most 8192 bytes of JSON, got 8193\./,
  ],
  [
    'too deep',
    (t) => t.track('s', 'r', 'k', deep(40) as never),
    'invalid_meta',
    /Expected meta nested at most 32 deep/,
  ],
  [
    'phx_ref',
    (t) => t.track('s', 'r', 'k', { phx_ref: 'x' }),
    'invalid_meta',
    /Expected a meta without phx_ref or phx_ref_prev: rollcall adds them itself/,
  ],
  [
    'phx_ref_prev',
    (t) => t.track('s', 'r', 'k', { phx_ref_prev: 'x' }),
    'invalid_meta',
    /without phx_ref or phx_ref_prev/,
  ],
  [
    'update to an invalid meta',
    (t) => t.update('owner', 'room', 'key', { n: Number.NaN }),
    'invalid_meta',
    /finite numbers/,
  ],
  [
    'update fn returning non-object',
    (t) => t.update('owner', 'room', 'key', () => 5 as never),
    'invalid_meta',
    /Expected meta to be a plain object, got number 5/,
  ],
  [
    'update fn returning a wire meta',
    (t) => t.update('owner', 'room', 'key', () => t.list('room').key!.metas[0]!),
    'invalid_meta',
    /without phx_ref/,
  ],
  [
    'update with a bad topic',
    (t) => t.update('owner', '', 'key', {}),
    'invalid_argument',
    /Expected topic/,
  ],
  [
    'untrack with a bad key',
    (t) => t.untrack('owner', 'room', 7 as never),
    'invalid_argument',
    /Expected key to be .*, got number 7/,
  ],
  [
    'untrackAll with a bad owner',
    (t) => t.untrackAll({} as never),
    'names_disabled',
    /registry to be on/,
  ],
  [
    'untrackAll with a numeric owner',
    (t) => t.untrackAll(3 as never),
    'invalid_argument',
    /Expected owner to be .*, got number 3/,
  ],
  [
    'list with a bad topic',
    (t) => t.list(['r'] as never),
    'invalid_argument',
    /Expected topic to be .*, got an array/,
  ],
  ['get with a bad key', (t) => t.get('room', '' as never), 'invalid_argument', /Expected key/],
  [
    'suspend with a bad grace',
    (t) => t.suspend('owner', -1),
    'invalid_argument',
    /Expected graceMs to be a finite number >= 0, got number -1/,
  ],
  [
    'suspend with a bad owner',
    (t) => t.suspend('' as never, 10),
    'invalid_argument',
    /Expected owner/,
  ],
  [
    'subscribe with a non-function',
    (t) => t.subscribe('room', 'nope' as never),
    'invalid_argument',
    /Expected send to be a function/,
  ],
  [
    'subscribe with a negative window',
    (t) => t.subscribe('room', () => {}, { diffWindowMs: -5 }),
    'invalid_argument',
    /Expected diffWindowMs to be a finite number >= 0, got number -5/,
  ],
  [
    'subscribe with a bad fetch',
    (t) => t.subscribe('room', () => {}, { fetch: 1 as never }),
    'invalid_argument',
    /Expected fetch to be a function, got number 1/,
  ],
]

describe('invalid input', () => {
  it.each(INVALID)(
    '%s is refused with its code and message; nothing changes',
    (_, call, code, message) => {
      const { tracker, events } = setup()
      tracker.track('owner', 'room', 'key', { status: 'online' })
      const before = snapshot(tracker)
      events.length = 0

      expectError(() => call(tracker), code, message)

      expect(snapshot(tracker)).toEqual(before)
      expect(events).toEqual([])
    },
  )

  it('a too-big meta is measured in UTF-8 bytes, not characters', () => {
    const { tracker } = setup({ maxMetaBytes: 100 })
    // 40 characters, 120 bytes of UTF-8.
    expectError(
      () => tracker.track('s', 'r', 'k', { t: '€'.repeat(40) }),
      'invalid_meta',
      /at most 100 bytes of JSON, got 128/,
    )
    expect(tracker.track('s', 'r', 'k', { t: 'e'.repeat(40) })).toBeTypeOf('string')
  })

  it('error fields name the offending topic, key and owner', () => {
    const { tracker } = setup()
    const error = expectError(
      () => tracker.track('s1', 'r', 'k', { n: Number.NaN }),
      'invalid_meta',
    )
    expect([error.topic, error.key, error.owner]).toEqual(['r', 'k', 's1'])
  })

  it('options are checked when the tracker is made', () => {
    expectError(
      () => setup({ ownerTtl: 0 }),
      'invalid_argument',
      /ownerTtl .* above 0, got number 0/,
    )
    expectError(
      () => setup({ limits: { updatesPerSecond: -1 } }),
      'invalid_argument',
      /limits\.updatesPerSecond to be a number above 0, got number -1/,
    )
  })

  it('drops undefined properties, as JSON does', () => {
    const { tracker } = setup()
    tracker.track('s', 'r', 'k', { a: 1, b: undefined } as never)
    expect(Object.keys(tracker.get('r', 'k')[0]!.meta)).toEqual(['a'])
  })
})

describe('keys that collide with Object.prototype', () => {
  const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty']

  it.each(NAMES)('%s works as a topic, a key and an owner', (name) => {
    const { tracker, events } = setup()
    const ref = tracker.track(name, name, name, { status: 'online' })
    tracker.track('other', name, 'bob', {})

    expect(tracker.topics().sort()).toEqual([name].sort())
    const state = tracker.list(name)
    expect(Object.keys(state).sort()).toEqual(['bob', name].sort())
    expect(Object.hasOwn(state, name)).toBe(true)
    expect(state[name]!.metas).toEqual([{ status: 'online', phx_ref: ref }])
    expect(tracker.get(name, name)).toEqual([
      { node: tracker.nodeId, owner: name, meta: { status: 'online' }, ref },
    ])
    expect([tracker.count(name), tracker.countKeys(name)]).toEqual([2, 2])

    tracker.update(name, name, name, { status: 'away' })
    tracker.untrackAll(name)
    expect(Object.keys(tracker.list(name))).toEqual(['bob'])
    expect(events.filter((e) => e.event === 'leave')).toHaveLength(1)
    expectCleanPrototype()
  })

  it('__proto__ and constructor as meta keys are ordinary properties', () => {
    const { tracker } = setup()
    const meta = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x", "n": 1}')
    tracker.track('s', 'r', 'k', meta)
    const stored = tracker.get('r', 'k')[0]!.meta as Record<string, unknown>
    const wire = tracker.list('r').k!.metas[0]! as Record<string, unknown>

    for (const value of [stored, wire]) {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
      expect(Object.keys(value)).toContain('__proto__')
      expect(Object.getOwnPropertyDescriptor(value, '__proto__')!.value).toEqual({
        polluted: true,
      })
      expect(value.constructor).toBe('x')
      expect(value.polluted).toBeUndefined()
    }
    const text = `{"__proto__": {"polluted": true}, "constructor": "x", "n": 1, "phx_ref": "?"}`
    expect(JSON.parse(JSON.stringify(wire))).toEqual(
      JSON.parse(text.replace('?', String(wire.phx_ref))),
    )
    expectCleanPrototype()
  })

  it('list returns an object without a prototype', () => {
    const { tracker } = setup()
    tracker.track('s', 'r', 'k', {})
    expect(Object.getPrototypeOf(tracker.list('r'))).toBe(null)
    expect(Object.getPrototypeOf(tracker.list('empty'))).toBe(null)
  })
})
