import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  acceptsVersion,
  CODEC_LIMITS,
  type DecodeResult,
  decode,
  type Envelope,
  encode,
  PROTOCOL_VERSION,
  SIGNATURE_BYTES,
} from '../../src/cluster/codec.js'
import { hmacSha256 } from '../../src/cluster/hmac.js'
import { PresenceError } from '../../src/errors.js'
import { runs } from '../fuzz/support.js'

/**
 * Generated inputs across the four fuzz properties below: 100,000 by default, a few
 * seconds; FUZZ_RUNS (a count, or a factor such as 4x) sets another total, shared out in
 * the same proportions.
 */
const FUZZ_TOTAL = runs(100_000)
const fuzzRuns = (share: number) => Math.max(1, Math.round(FUZZ_TOTAL * share))

const base: Envelope = { v: PROTOCOL_VERSION, from: 'web-1', inc: 'k3x9', type: 'delta', body: 1 }

function envelope(body: unknown, extra: Partial<Envelope> = {}): Envelope {
  return { ...base, body, ...extra }
}

function ok(result: DecodeResult): Envelope {
  if (!result.ok) throw new Error(`expected ok, got: ${result.reason}`)
  return result.envelope
}

function reason(result: DecodeResult): string {
  if (result.ok) throw new Error('expected a refusal, got ok')
  return result.reason
}

/** Decodes, and fails the test if decode threw (it must never). */
function safeDecode(bytes: Uint8Array, secret?: string): DecodeResult {
  try {
    return decode(bytes, secret)
  } catch (error) {
    throw new Error(`decode threw on [${bytes.join(', ')}]: ${String(error)}`)
  }
}

/**
 * A hand-made unsigned version-1 message from "f" (incarnation "i", type "t") whose body
 * is `body`: single-byte strings, so that none enters the string table.
 */
function message(...body: number[]): Uint8Array {
  return Uint8Array.from([0xc7, 1, 0, 0x41, 0x66, 0x41, 0x69, 0x41, 0x74, ...body])
}

// A string of arbitrary UTF-16 code units: lone surrogates, BOMs, NULs included.
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
  fc.constantFrom('', '__proto__', 'constructor', 'prototype', 'toString', 'a'.repeat(300)),
)

const number = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(0, -0, 30, 31, 32, 127, 128, -31, -32, 2 ** 53, -(2 ** 53), 1e300),
)

const { value: wireValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    number,
    anyString,
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(anyString, tie('value'), { maxKeys: 6 }),
  ),
}))

const anEnvelope = fc.record(
  {
    v: fc.constantFrom(PROTOCOL_VERSION),
    from: anyString,
    inc: anyString,
    type: anyString,
    body: wireValue,
    to: anyString,
  },
  { requiredKeys: ['v', 'from', 'inc', 'type', 'body'] },
)

describe('codec round trip', () => {
  it('decodes what it encoded, with and without a recipient', () => {
    const body = { entries: [[1, 'room:1', 'alice', { status: 'away' }]], ok: true, n: null }
    expect(ok(decode(encode(envelope(body))))).toEqual(envelope(body))
    const direct = envelope(body, { to: 'web-2' })
    expect(ok(decode(encode(direct)))).toEqual(direct)
    expect('to' in ok(decode(encode(envelope(body))))).toBe(false)
  })

  it('round-trips any envelope exactly (property)', () => {
    fc.assert(
      fc.property(anEnvelope, (sent) => {
        const got = ok(decode(encode(sent)))
        expect(got).toEqual(sent)
      }),
      { numRuns: 2_000 },
    )
  })

  it('keeps numbers exact: -0, NaN, infinities, safe integers, doubles', () => {
    const numbers = [
      0,
      -0,
      Number.NaN,
      Infinity,
      -Infinity,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      0.1,
      5e-324,
    ]
    const got = ok(decode(encode(envelope(numbers)))).body as number[]
    for (const [i, n] of numbers.entries()) expect(Object.is(got[i], n)).toBe(true)
  })

  it('keeps any JavaScript string, lone surrogates and BOMs included', () => {
    const strings = ['\ud800', 'a\udc00b', '\ufeffbom', '😀', '\u0000', 'é'.repeat(100)]
    expect(ok(decode(encode(envelope(strings)))).body).toEqual(strings)
  })

  it('carries bytes as bytes, copied out of the message', () => {
    const bytes = Uint8Array.of(0, 255, 7)
    const encoded = encode(envelope({ blob: bytes }))
    const got = (ok(decode(encoded)).body as { blob: Uint8Array }).blob
    encoded.fill(0)
    expect(got).toBeInstanceOf(Uint8Array)
    expect([...got]).toEqual([0, 255, 7])
  })

  it('treats undefined as JSON does', () => {
    const got = ok(decode(encode(envelope({ gone: undefined, list: [undefined, 1] }))))
    expect(got.body).toEqual({ list: [null, 1] })
    expect(Object.keys(got.body as object)).toEqual(['list'])
    expect(ok(decode(encode(envelope(undefined)))).body).toBeNull()
  })

  it('encodes the same envelope to the same bytes', () => {
    const body = { b: [1, 'x'], a: { c: 'x' } }
    expect(encode(envelope(body))).toEqual(encode(envelope(body)))
  })
})

describe('codec safety of decoded objects', () => {
  it('decodes objects without a prototype, so __proto__ is only data', () => {
    // JSON.parse makes "__proto__" an own property: the classic pollution vector.
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c"}')
    const body = ok(decode(encode(envelope({ inner: hostile })))).body as Record<string, unknown>
    const inner = body.inner as Record<string, unknown>

    expect(Object.getPrototypeOf(body)).toBeNull()
    expect(Object.getPrototypeOf(inner)).toBeNull()
    expect(Object.keys(inner)).toEqual(['__proto__', 'constructor'])
    expect(Object.getOwnPropertyDescriptor(inner, '__proto__')?.value).toEqual({ polluted: true })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('refuses an object with a duplicate key', () => {
    // { "ab": 1, <reference to "ab">: 2 }
    const forged = message(0xa2, 0x42, 0x61, 0x62, 0x01, 0x60, 0x02)
    expect(reason(decode(forged))).toBe('duplicate key "ab"')
  })
})

describe('codec compactness', () => {
  const inc = 'k3x9f2a1'
  const entries = Array.from({ length: 100 }, (_, i) => [
    i + 1,
    'room:lobby',
    `user-${i % 37}`,
    `socket-${i}`,
    { status: 'online', name: `User ${i}`, joined: 1_700_000_000_000 + i },
    0,
  ])
  const delta = envelope({ node: 'web-1', incarnation: inc, from: 10, to: 110, entries })

  it('writes a 100-entry delta in under 40% of its JSON size', () => {
    const json = new TextEncoder().encode(JSON.stringify(delta)).length
    expect(encode(delta).length / json).toBeLessThan(0.4)
  })

  it('writes a small heartbeat in about half its JSON size', () => {
    const beat = envelope({ clock: 12_345, context: [['web-2', 'abc', 77]] }, { type: 'hb' })
    const json = JSON.stringify(beat).length
    expect(encode(beat).length).toBeLessThan(json * 0.55)
  })

  it('costs one byte to repeat a string seen before', () => {
    const once = encode(envelope(['room:lobby'])).length
    const twice = encode(envelope(['room:lobby', 'room:lobby'])).length
    expect(twice - once).toBe(1)
  })
})

describe('codec versions', () => {
  it('speaks version 1', () => {
    expect(PROTOCOL_VERSION).toBe(1)
  })

  it('accepts its own version and the one before, never one that did not exist', () => {
    expect(acceptsVersion(1)).toBe(true)
    expect(acceptsVersion(0)).toBe(false)
    expect(acceptsVersion(2)).toBe(false)
    expect(acceptsVersion(1.5)).toBe(false)
    expect(acceptsVersion(Number.NaN)).toBe(false)
    expect([3, 4, 5, 6].map((v) => acceptsVersion(v, 5))).toEqual([false, true, true, false])
  })

  it('refuses a message of a version it does not accept, naming it', () => {
    for (const v of [0, 2, 300]) {
      expect(reason(decode(encode(envelope(1, { v }))))).toBe(
        `unsupported protocol version ${v} (this node speaks ${PROTOCOL_VERSION})`,
      )
    }
  })
})

describe('codec signatures', () => {
  const secret = 'correct horse battery staple'

  it('appends a 32-byte signature and verifies it', () => {
    const plain = encode(envelope({ a: 1 }))
    const signed = encode(envelope({ a: 1 }), secret)
    expect(signed.length).toBe(plain.length + SIGNATURE_BYTES)
    expect(ok(decode(signed, secret))).toEqual(envelope({ a: 1 }))
  })

  it('refuses an unsigned message when it has a secret', () => {
    expect(reason(decode(encode(envelope(1)), secret))).toMatch(/unsigned message/)
  })

  it('refuses a signed message when it has no secret', () => {
    expect(reason(decode(encode(envelope(1), secret)))).toMatch(/has no secret/)
  })

  it('refuses a message signed with another secret', () => {
    expect(reason(decode(encode(envelope(1), 'other'), secret))).toMatch(/bad signature/)
  })

  it('refuses a signed message with its signature cut short', () => {
    const signed = encode(envelope(1), secret)
    expect(reason(decode(signed.subarray(0, signed.length - 1), secret))).toMatch(/signature/)
    expect(reason(decode(signed.subarray(0, 5), secret))).not.toBe('')
  })

  it('takes a string secret as its UTF-8 bytes', () => {
    const signed = encode(envelope(1), 'clé')
    expect(ok(decode(signed, new TextEncoder().encode('clé') as unknown as string)).body).toBe(1)
  })

  it('refuses an empty secret: encode throws, decode refuses', () => {
    expect(() => encode(envelope(1), '')).toThrow(PresenceError)
    expect(reason(decode(encode(envelope(1), secret), ''))).toMatch(/secret is empty/)
  })

  it('computes HMAC-SHA256 as RFC 4231 says', () => {
    const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
    const key1 = new Uint8Array(20).fill(0x0b)
    expect(hex(hmacSha256(key1, new TextEncoder().encode('Hi There')))).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    )
    const key2 = new TextEncoder().encode('Jefe')
    expect(hex(hmacSha256(key2, new TextEncoder().encode('what do ya want for nothing?')))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
    const key6 = new Uint8Array(131).fill(0xaa)
    const text6 = 'Test Using Larger Than Block-Size Key - Hash Key First'
    expect(hex(hmacSha256(key6, new TextEncoder().encode(text6)))).toBe(
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    )
  })

  it('agrees with node:crypto on any key and message (property)', () => {
    const lengths = fc.constantFrom(0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000)
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      lengths.map((n) => new Uint8Array(n).fill(n)),
    )
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 150 }), message, (key, data) => {
        const expected = createHmac('sha256', key).update(data).digest()
        expect(Buffer.from(hmacSha256(key, data)).equals(expected)).toBe(true)
      }),
      { numRuns: 500 },
    )
  })
})

describe('codec refusals on encode', () => {
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic

  it.each([
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a bigint', 10n],
    ['a Map', new Map()],
    ['a Date', new Date(0)],
    ['a class instance', new (class Thing {})()],
    ['a cycle', cyclic],
  ])('refuses %s in the body with code invalid_argument', (_, value) => {
    expect(() => encode(envelope({ nested: [value] }))).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    )
  })

  it.each([
    ['v', { v: -1 }],
    ['v', { v: 1.5 }],
    ['from', { from: 3 }],
    ['inc', { inc: null }],
    ['type', { type: undefined }],
    ['to', { to: 7 }],
  ])('refuses a bad %s', (field, patch) => {
    const bad = { ...base, ...patch } as unknown as Envelope
    expect(() => encode(bad)).toThrow(new RegExp(`${field} must be`))
  })

  it('refuses nesting deeper than maxDepth on both sides, and accepts it at maxDepth', () => {
    const nest = (depth: number): unknown => (depth === 0 ? 1 : [nest(depth - 1)])
    const deepest = nest(CODEC_LIMITS.maxDepth)
    expect(ok(decode(encode(envelope(deepest)))).body).toEqual(deepest)
    expect(() => encode(envelope(nest(CODEC_LIMITS.maxDepth + 1)))).toThrow(/deeper than 64/)

    const tooDeep = encode(envelope(nest(CODEC_LIMITS.maxDepth + 1)), undefined, { maxDepth: 100 })
    expect(reason(decode(tooDeep))).toMatch(/nested deeper than 64/)
    expect(ok(decode(tooDeep, undefined, { maxDepth: 100 })).body).toEqual(nest(65))
  })
})

describe('codec refusals on decode', () => {
  const valid = encode(envelope({ list: [1, 2, 3], text: 'hello' }, { to: 'web-2' }))

  it('refuses anything that is not bytes, without throwing', () => {
    for (const input of [null, undefined, 'text', 42, {}, [1, 2], new ArrayBuffer(4)]) {
      expect(reason(safeDecode(input as Uint8Array))).toMatch(/not bytes/)
    }
  })

  it('refuses empty input, a foreign magic byte, unknown flags and trailing bytes', () => {
    expect(reason(decode(new Uint8Array(0)))).toBe('truncated message')
    expect(reason(decode(Uint8Array.from([0x7b, ...valid.subarray(1)])))).toMatch(/magic/)
    const flagged = valid.slice()
    flagged[2] = 0x80
    expect(reason(decode(flagged))).toBe('unknown flags 128')
    expect(reason(decode(Uint8Array.from([...valid, 0])))).toBe('1 bytes after the body')
  })

  it('refuses every truncation of a valid message', () => {
    for (let end = 0; end < valid.length; end++) {
      expect(safeDecode(valid.subarray(0, end)).ok).toBe(false)
    }
  })

  it('refuses a message over maxBytes', () => {
    expect(reason(decode(valid, undefined, { maxBytes: 10 }))).toMatch(/over the limit of 10/)
  })

  it('refuses counts the remaining bytes cannot hold, before allocating', () => {
    // An array, then an object, claiming 31 + 2^40 items, in a 16-byte message.
    const huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x20]
    expect(reason(safeDecode(message(0x9f, ...huge)))).toBe('truncated message')
    expect(reason(safeDecode(message(0xbf, ...huge)))).toBe('truncated message')
  })

  it('refuses invalid UTF-8: overlong, stray continuation, past U+10FFFF', () => {
    for (const bad of [[0xc0, 0x80], [0x80], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0x80]]) {
      const forged = Uint8Array.from([0xc7, 1, 0, 0x40 | bad.length, ...bad])
      expect(reason(decode(forged))).toBe('invalid UTF-8 in a string')
    }
  })

  it('refuses a string reference past the strings seen so far', () => {
    expect(reason(decode(Uint8Array.from([0xc7, 1, 0, 0x60 | 5])))).toMatch(/reference 5/)
  })

  it('refuses integers past 2^53 and varints longer than 8 bytes', () => {
    const body = (...tail: number[]) => Uint8Array.from([0xc7, 1, 0, 0x40, 0x40, 0x40, ...tail])
    const big = body(0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)
    expect(reason(decode(big))).toBe('integer out of range')
    const long = body(0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)
    expect(reason(decode(long))).toBe('varint longer than 8 bytes')
  })
})

/** Smaller envelopes than the round-trip property's, so fuzz runs stay cheap to make. */
const { small: smallValue } = fc.letrec<{ small: unknown }>((tie) => ({
  small: fc.oneof(
    { depthSize: 'xsmall' },
    fc.constant(null),
    fc.boolean(),
    number,
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.uint8Array({ maxLength: 8 }),
    fc.array(tie('small'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('small'), { maxKeys: 4 }),
  ),
}))

const smallEnvelope = fc.record(
  {
    v: fc.constant(PROTOCOL_VERSION),
    from: fc.constantFrom('web-1', 'a', ''),
    inc: fc.string({ maxLength: 8 }),
    type: fc.constantFrom('delta', 'hb', 'ask'),
    body: smallValue,
    to: fc.constantFrom('web-2', 'é'),
  },
  { requiredKeys: ['v', 'from', 'inc', 'type', 'body'] },
)

/** A valid message, signed or not, with one of several kinds of damage done to it. */
const mutation = fc.record({
  sent: smallEnvelope,
  signed: fc.boolean(),
  kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate', 'splice'),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  bit: fc.integer({ min: 0, max: 7 }),
  chunk: fc.uint8Array({ minLength: 1, maxLength: 16 }),
})

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = m.at % (bytes.length + 1)
  const before = [...bytes.subarray(0, at)]
  const after = [...bytes.subarray(at)]
  const rest = after.slice(1)
  switch (m.kind) {
    case 'flip':
      return Uint8Array.from([...before, (after[0] ?? 0) ^ (1 << m.bit), ...rest])
    case 'set':
      return Uint8Array.from([...before, m.byte, ...rest])
    case 'insert':
      return Uint8Array.from([...before, m.byte, ...after])
    case 'delete':
      return Uint8Array.from([...before, ...rest])
    case 'truncate':
      return Uint8Array.from(before)
    default:
      return Uint8Array.from([...before, ...m.chunk, ...after.slice(m.chunk.length)])
  }
}

describe('codec fuzz: decode never throws', () => {
  const secret = 'fuzz-secret'

  it('on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        safeDecode(bytes)
        safeDecode(bytes, secret)
      }),
      { numRuns: fuzzRuns(0.35) },
    )
  })

  it('on random bytes after a valid header, and a decoded result re-encodes', () => {
    const header = fc.constantFrom([0xc7, 1, 0], [0xc7, 1, 1])
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 48 }), (head, tail) => {
        const result = safeDecode(Uint8Array.from([...head, ...tail]))
        if (result.ok) expect(ok(decode(encode(result.envelope)))).toEqual(result.envelope)
      }),
      { numRuns: fuzzRuns(0.35) },
    )
  })

  it('on damaged valid messages', () => {
    fc.assert(
      fc.property(mutation, (m) => {
        const bytes = encode(m.sent, m.signed ? secret : undefined)
        const result = safeDecode(mutate(bytes, m), m.signed ? secret : undefined)
        if (result.ok) expect(() => encode(result.envelope)).not.toThrow()
      }),
      { numRuns: fuzzRuns(0.15) },
    )
  })

  it('and refuses every damaged signed message', () => {
    fc.assert(
      fc.property(mutation, (m) => {
        const bytes = encode(m.sent, secret)
        const damaged = mutate(bytes, m)
        fc.pre(Buffer.compare(damaged, bytes) !== 0)
        expect(safeDecode(damaged, secret).ok).toBe(false)
      }),
      { numRuns: fuzzRuns(0.15) },
    )
  })
})
