/**
 * The wire format of cluster messages: a small, versioned binary encoding of an envelope
 * and its JSON-like body, optionally signed with HMAC-SHA256.
 *
 * Layout: a magic byte, the protocol version (a varint), a flags byte, then the values
 * `from`, `inc`, `type`, `to` (when flagged) and `body`, and with a secret a 32-byte
 * signature over everything before it. The magic byte and the version are the only fixed
 * part: what follows may change with the version.
 *
 * Each value starts with a tag byte: the top 3 bits are its type, the low 5 bits a small
 * argument (a length, a count or an integer; 31 means the argument minus 31 follows as a
 * varint). Strings are WTF-8, so every JavaScript string survives, lone surrogates too;
 * a string of 2 or more bytes is remembered, and later copies in the same message are a
 * reference to it, so repeated node ids, topics and keys cost a byte or two.
 *
 * Pure and synchronous, with no Node APIs: it runs in browsers and edge runtimes.
 *
 * @packageDocumentation
 */
import { describe, PresenceError } from '../errors.js'

/** The protocol version this build speaks. */
export const PROTOCOL_VERSION = 1

/** Versions before 1 never existed. */
const OLDEST_VERSION = 1

/**
 * Whether a node speaking version `own` accepts messages of version `v`: its own and the
 * one before, so a cluster can be upgraded one node at a time. Version 0 never existed.
 *
 * @param own - the receiving node's version; this build's by default
 */
export function acceptsVersion(v: number, own: number = PROTOCOL_VERSION): boolean {
  return Number.isInteger(v) && v >= OLDEST_VERSION && (v === own || v === own - 1)
}

/**
 * One cluster message. `body` is any JSON-like value: null, booleans, numbers (NaN and
 * infinities included), strings, `Uint8Array`s, arrays and plain objects, nested. As in
 * JSON, an object property that is `undefined` is left out and an `undefined` array item
 * becomes `null`.
 */
export interface Envelope<B = unknown> {
  /** The protocol version the message was written in. */
  v: number
  /** The sender's node id. */
  from: string
  /** The sender's incarnation, random on every start. */
  inc: string
  /** What kind of message this is; the cluster routes on it. */
  type: string
  /** The message itself. */
  body: B
  /** The node the message is for, when it is for one node only. */
  to?: string
}

/** What {@link decode} returns: the envelope, or why the bytes were refused. */
export type DecodeResult =
  | {
      /** The bytes were a valid message. */
      ok: true
      /** The decoded message. */
      envelope: Envelope
    }
  | {
      /** The bytes were refused. */
      ok: false
      /** Why, for a log line. */
      reason: string
    }

/** A shared secret for signing: a string (taken as UTF-8) or raw bytes. */
export type Secret = string | Uint8Array

/** Bounds {@link decode} enforces, so a hostile message cannot exhaust a node. */
export interface CodecLimits {
  /**
   * The largest message accepted, in bytes.
   * @default 16_777_216 (16 MiB)
   */
  maxBytes?: number
  /**
   * The deepest nesting of arrays and objects in a body (also enforced by `encode`).
   * @default 64
   */
  maxDepth?: number
}

/** The defaults of {@link CodecLimits}. */
export const CODEC_LIMITS = {
  /** @see CodecLimits.maxBytes */
  maxBytes: 16 * 1024 * 1024,
  /** @see CodecLimits.maxDepth */
  maxDepth: 64,
} as const

/** The length of the HMAC-SHA256 signature that ends a signed message. */
export const SIGNATURE_BYTES = 32

const MAGIC = 0xc7
const FLAG_TO = 1
const FLAG_SIGNED = 2

const T_UINT = 0
const T_NEGINT = 1
const T_STRING = 2
const T_REF = 3
const T_ARRAY = 4
const T_OBJECT = 5
const T_BYTES = 6
const T_SIMPLE = 7

const S_NULL = 0
const S_FALSE = 1
const S_TRUE = 2
const S_FLOAT = 3

const INLINE_MAX = 30
const MIN_INTERNED_BYTES = 2

/**
 * Encodes an envelope, signed when a secret is given. Throws a `PresenceError` of code
 * `invalid_argument` for what it cannot encode: a body holding functions, symbols,
 * bigints, class instances, cycles or nesting beyond `maxDepth`, or an empty secret.
 *
 * @example
 * ```ts
 * const bytes = encode({ v: PROTOCOL_VERSION, from: 'a', inc: 'k3x', type: 'hb', body: [7] })
 * const result = decode(bytes)
 * if (result.ok) route(result.envelope)
 * ```
 */
export function encode(envelope: Envelope, secret?: Secret, limits?: CodecLimits): Uint8Array {
  checkEnvelope(envelope)
  const w = new Writer(limits?.maxDepth ?? CODEC_LIMITS.maxDepth)
  const hasTo = envelope.to !== undefined

  w.byte(MAGIC)
  w.varint(envelope.v)
  w.byte((hasTo ? FLAG_TO : 0) | (secret !== undefined ? FLAG_SIGNED : 0))
  w.string(envelope.from)
  w.string(envelope.inc)
  w.string(envelope.type)
  if (hasTo) w.string(envelope.to as string)
  w.value(envelope.body, 0)

  if (secret !== undefined) w.raw(hmac(prepareKey(secret), w.view()))
  return w.view().slice()
}

/**
 * Decodes and checks a message. Never throws, whatever the bytes: a malformed, truncated,
 * oversized or too deeply nested message, a version {@link acceptsVersion} refuses, or,
 * with a secret, an unsigned or forged one, comes back as `{ ok: false, reason }`. A
 * signed message is also refused when no secret is given, so a cluster whose nodes
 * disagree about the secret fails loudly on both sides.
 *
 * Objects in the body have no prototype, so any key (`__proto__` too) is plain data.
 */
export function decode(bytes: Uint8Array, secret?: Secret, limits?: CodecLimits): DecodeResult {
  try {
    return { ok: true, envelope: decodeChecked(bytes, secret, limits) }
  } catch (error) {
    return { ok: false, reason: reasonOf(error) }
  }
}

/** Thrown inside the decoder only; {@link decode} turns it into a reason. */
class Malformed extends Error {}

function reasonOf(error: unknown): string {
  if (error instanceof Malformed) return error.message
  if (error instanceof PresenceError) return error.message
  // A stack overflow or anything else unforeseen: still a refusal, never a throw.
  return `malformed message (${error instanceof Error ? error.name : 'unknown error'})`
}

function decodeChecked(bytes: Uint8Array, secret?: Secret, limits?: CodecLimits): Envelope {
  if (!(bytes instanceof Uint8Array)) throw new Malformed(`not bytes: ${describe(bytes)}`)
  const maxBytes = limits?.maxBytes ?? CODEC_LIMITS.maxBytes
  if (bytes.length > maxBytes) {
    throw new Malformed(`message of ${bytes.length} bytes is over the limit of ${maxBytes}`)
  }
  const r = new Reader(bytes, limits?.maxDepth ?? CODEC_LIMITS.maxDepth)
  if (r.byte() !== MAGIC) throw new Malformed('not a rollcall message (bad magic byte)')

  const v = r.varint()
  if (!acceptsVersion(v)) {
    throw new Malformed(`unsupported protocol version ${v} (this node speaks ${PROTOCOL_VERSION})`)
  }
  const flags = r.byte()
  if (flags & ~(FLAG_TO | FLAG_SIGNED)) throw new Malformed(`unknown flags ${flags}`)

  checkSignature(r, bytes, (flags & FLAG_SIGNED) !== 0, secret)
  return readEnvelope(r, v, (flags & FLAG_TO) !== 0)
}

function readEnvelope(r: Reader, v: number, hasTo: boolean): Envelope {
  const from = r.string('from')
  const inc = r.string('inc')
  const type = r.string('type')
  const to = hasTo ? r.string('to') : undefined
  const body = r.value(0)
  if (r.pos !== r.end) throw new Malformed(`${r.end - r.pos} bytes after the body`)

  const envelope: Envelope = { v, from, inc, type, body }
  if (to !== undefined) envelope.to = to
  return envelope
}

/** Verifies and strips the signature, or refuses the message. */
function checkSignature(r: Reader, bytes: Uint8Array, signed: boolean, secret?: Secret): void {
  if (secret === undefined) {
    if (signed) throw new Malformed('signed message, but this node has no secret')
    return
  }
  if (!signed) throw new Malformed('unsigned message, but this node requires a signature')
  if (r.end - r.pos < SIGNATURE_BYTES) throw new Malformed('truncated signature')

  r.end -= SIGNATURE_BYTES
  const expected = hmac(prepareKey(secret), bytes.subarray(0, r.end))
  if (!equalConstantTime(expected, bytes.subarray(r.end))) {
    throw new Malformed('bad signature (forged, corrupted, or signed with another secret)')
  }
}

function checkEnvelope(envelope: Envelope): void {
  const { v, from, inc, type, to } = envelope
  if (!(Number.isSafeInteger(v) && v >= 0)) badEnvelope('v', 'a whole number >= 0', v)
  if (typeof from !== 'string') badEnvelope('from', 'a string', from)
  if (typeof inc !== 'string') badEnvelope('inc', 'a string', inc)
  if (typeof type !== 'string') badEnvelope('type', 'a string', type)
  if (to !== undefined && typeof to !== 'string') badEnvelope('to', 'a string', to)
}

function badEnvelope(field: string, expected: string, got: unknown): never {
  throw new PresenceError(
    'invalid_argument',
    `Cannot encode a cluster message: ${field} must be ${expected}, got ${describe(got)}`,
  )
}

function cannotEncode(what: string): never {
  throw new PresenceError('invalid_argument', `Cannot encode a cluster message: ${what}`)
}

// ---------------------------------------------------------------------------------------
// Writing

class Writer {
  #buf = new Uint8Array(256)
  #data = new DataView(this.#buf.buffer)
  #pos = 0
  readonly #interned = new Map<string, number>()
  readonly #maxDepth: number

  constructor(maxDepth: number) {
    this.#maxDepth = maxDepth
  }

  view(): Uint8Array {
    return this.#buf.subarray(0, this.#pos)
  }

  byte(b: number): void {
    this.#reserve(1)
    this.#buf[this.#pos++] = b
  }

  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length)
    this.#buf.set(bytes, this.#pos)
    this.#pos += bytes.length
  }

  /** LEB128, by arithmetic so values up to 2^53 survive. */
  varint(n: number): void {
    this.#reserve(8)
    while (n >= 0x80) {
      this.#buf[this.#pos++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    this.#buf[this.#pos++] = n
  }

  head(type: number, arg: number): void {
    if (arg <= INLINE_MAX) {
      this.byte((type << 5) | arg)
    } else {
      this.byte((type << 5) | 31)
      this.varint(arg - 31)
    }
  }

  value(value: unknown, depth: number): void {
    if (typeof value === 'string') this.string(value)
    else if (typeof value === 'number') this.number(value)
    else if (typeof value === 'boolean') this.head(T_SIMPLE, value ? S_TRUE : S_FALSE)
    else if (value === undefined || value === null) this.head(T_SIMPLE, S_NULL)
    else if (typeof value === 'object') this.object(value, depth)
    else cannotEncode(`${describe(value)} is not JSON-like data`)
  }

  string(s: string): void {
    const ref = this.#interned.get(s)
    if (ref !== undefined) {
      this.head(T_REF, ref)
      return
    }
    const length = wtf8Length(s)
    if (length >= MIN_INTERNED_BYTES) this.#interned.set(s, this.#interned.size)
    this.head(T_STRING, length)
    this.#reserve(length)
    this.#pos = writeWtf8(s, this.#buf, this.#pos, length)
  }

  number(n: number): void {
    if (Number.isSafeInteger(n) && !Object.is(n, -0)) {
      this.head(n >= 0 ? T_UINT : T_NEGINT, n >= 0 ? n : -n - 1)
      return
    }
    this.head(T_SIMPLE, S_FLOAT)
    this.#reserve(8)
    this.#data.setFloat64(this.#pos, n)
    this.#pos += 8
  }

  object(value: object, depth: number): void {
    if (value instanceof Uint8Array) {
      this.head(T_BYTES, value.length)
      this.raw(value)
      return
    }
    if (depth >= this.#maxDepth) {
      cannotEncode(`nested deeper than ${this.#maxDepth} levels (or cyclic)`)
    }
    if (Array.isArray(value)) {
      this.array(value, depth + 1)
      return
    }
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) {
      cannotEncode(`${describe(value)} is not a plain object`)
    }
    this.record(value as Record<string, unknown>, depth + 1)
  }

  array(items: readonly unknown[], depth: number): void {
    this.head(T_ARRAY, items.length)
    for (const item of items) this.value(item, depth)
  }

  record(record: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(record).filter((key) => record[key] !== undefined)
    this.head(T_OBJECT, keys.length)
    for (const key of keys) {
      this.string(key)
      this.value(record[key], depth)
    }
  }

  #reserve(n: number): void {
    if (this.#pos + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#pos + n) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.#buf.subarray(0, this.#pos))
    this.#buf = grown
    this.#data = new DataView(grown.buffer)
  }
}

/** The WTF-8 length of `s`: UTF-8, except that a lone surrogate takes 3 bytes. */
function wtf8Length(s: string): number {
  let length = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    length += c < 0x800 ? 1 : 2
    if (isPair(s, i)) i++
  }
  return length
}

function isPair(s: string, i: number): boolean {
  const c = s.charCodeAt(i)
  if (c < 0xd800 || c > 0xdbff) return false
  const next = s.charCodeAt(i + 1)
  return next >= 0xdc00 && next <= 0xdfff
}

/** Writes `s` as WTF-8 at `pos`; returns the position after it. */
function writeWtf8(s: string, buf: Uint8Array, pos: number, length: number): number {
  if (length === s.length) {
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i)
    return pos
  }
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      buf[pos++] = c
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6)
      buf[pos++] = 0x80 | (c & 0x3f)
    } else if (isPair(s, i)) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00)
      buf[pos++] = 0xf0 | (c >> 18)
      buf[pos++] = 0x80 | ((c >> 12) & 0x3f)
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f)
      buf[pos++] = 0x80 | (c & 0x3f)
    } else {
      buf[pos++] = 0xe0 | (c >> 12)
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f)
      buf[pos++] = 0x80 | (c & 0x3f)
    }
  }
  return pos
}

// ---------------------------------------------------------------------------------------
// Reading

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

class Reader {
  pos = 0
  end: number
  /** The argument of the last tag read. */
  arg = 0
  readonly #bytes: Uint8Array
  readonly #data: DataView
  readonly #interned: string[] = []
  readonly #maxDepth: number

  constructor(bytes: Uint8Array, maxDepth: number) {
    this.#bytes = bytes
    this.#data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.end = bytes.length
    this.#maxDepth = maxDepth
  }

  byte(): number {
    if (this.pos >= this.end) throw new Malformed('truncated message')
    return this.#bytes[this.pos++]!
  }

  varint(): number {
    let n = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.byte()
      n += (b & 0x7f) * scale
      if (b < 0x80) return checkSafe(n)
      scale *= 0x80
    }
    throw new Malformed('varint longer than 8 bytes')
  }

  /** Reads a tag byte: returns its type and leaves its argument in `arg`. */
  head(): number {
    const tag = this.byte()
    const small = tag & 31
    this.arg = small <= INLINE_MAX ? small : checkSafe(31 + this.varint())
    return tag >> 5
  }

  string(field: string): string {
    const type = this.head()
    if (type === T_STRING) return this.#literal(this.arg)
    if (type === T_REF) return this.#ref(this.arg)
    throw new Malformed(`${field} is not a string`)
  }

  value(depth: number): unknown {
    const type = this.head()
    return READERS[type]!(this, this.arg, depth)
  }

  readString(arg: number): string {
    return this.#literal(arg)
  }

  readRef(arg: number): string {
    return this.#ref(arg)
  }

  readBytes(length: number): Uint8Array {
    this.#need(length)
    const bytes = this.#bytes.slice(this.pos, this.pos + length)
    this.pos += length
    return bytes
  }

  readFloat(): number {
    this.#need(8)
    const n = this.#data.getFloat64(this.pos)
    this.pos += 8
    return n
  }

  readArray(count: number, depth: number): unknown[] {
    this.#enter(count, 1, depth)
    const items = new Array<unknown>(count)
    for (let i = 0; i < count; i++) items[i] = this.value(depth + 1)
    return items
  }

  readObject(count: number, depth: number): Record<string, unknown> {
    this.#enter(count, 2, depth)
    const record: Record<string, unknown> = Object.create(null)
    for (let i = 0; i < count; i++) {
      const key = this.string('an object key')
      if (Object.hasOwn(record, key)) throw new Malformed(`duplicate key ${describe(key)}`)
      record[key] = this.value(depth + 1)
    }
    return record
  }

  /** Refuses counts the remaining bytes cannot hold, before allocating for them. */
  #enter(count: number, minBytesEach: number, depth: number): void {
    if (depth >= this.#maxDepth) throw new Malformed(`nested deeper than ${this.#maxDepth}`)
    if (count * minBytesEach > this.end - this.pos) throw new Malformed('truncated message')
  }

  #need(length: number): void {
    if (length > this.end - this.pos) throw new Malformed('truncated message')
  }

  #literal(length: number): string {
    this.#need(length)
    const s = decodeWtf8(this.#bytes, this.pos, this.pos + length)
    this.pos += length
    if (length >= MIN_INTERNED_BYTES) this.#interned.push(s)
    return s
  }

  #ref(index: number): string {
    const s = this.#interned[index]
    if (s === undefined) throw new Malformed(`string reference ${index} out of range`)
    return s
  }
}

type ValueReader = (r: Reader, arg: number, depth: number) => unknown

/** One reader per value type, indexed by the tag's top 3 bits. */
const READERS: readonly ValueReader[] = [
  (_, arg) => arg,
  (_, arg) => -arg - 1,
  (r, arg) => r.readString(arg),
  (r, arg) => r.readRef(arg),
  (r, arg, depth) => r.readArray(arg, depth),
  (r, arg, depth) => r.readObject(arg, depth),
  (r, arg) => r.readBytes(arg),
  readSimple,
]

function readSimple(r: Reader, arg: number): unknown {
  if (arg === S_NULL) return null
  if (arg === S_FALSE) return false
  if (arg === S_TRUE) return true
  if (arg === S_FLOAT) return r.readFloat()
  throw new Malformed(`unknown simple value ${arg}`)
}

function checkSafe(n: number): number {
  if (n > Number.MAX_SAFE_INTEGER) throw new Malformed('integer out of range')
  return n
}

function decodeWtf8(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let s = ''
    for (let i = start; i < end; i++) {
      const b = bytes[i]!
      if (b >= 0x80) return decodeUtf8(bytes, start, end)
      s += String.fromCharCode(b)
    }
    return s
  }
  return decodeUtf8(bytes, start, end)
}

function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  try {
    return utf8.decode(bytes.subarray(start, end))
  } catch {
    // Lone surrogates are valid WTF-8 but not UTF-8; anything else is malformed.
    return decodeWtf8Slowly(bytes, start, end)
  }
}

function decodeWtf8Slowly(bytes: Uint8Array, start: number, end: number): string {
  const units: number[] = []
  let out = ''
  for (let i = start; i < end; ) {
    const [point, size] = codePointAt(bytes, i, end)
    i += size
    if (point < 0x10000) units.push(point)
    else units.push(0xd800 + ((point - 0x10000) >> 10), 0xdc00 + ((point - 0x10000) & 0x3ff))
    if (units.length >= 4096) out += String.fromCharCode(...units.splice(0))
  }
  return out + String.fromCharCode(...units)
}

/** How many bytes a UTF-8 sequence starting with `b` takes, or 0 if none can. */
function sequenceLength(b: number): number {
  if (b >= 0xc2 && b <= 0xdf) return 2
  if (b >= 0xe0 && b <= 0xef) return 3
  return b >= 0xf0 && b <= 0xf4 ? 4 : 0
}

/** The code point at `i` and its length in bytes, refusing overlong and invalid forms. */
function codePointAt(bytes: Uint8Array, i: number, end: number): [number, number] {
  const b = bytes[i]!
  if (b < 0x80) return [b, 1]
  const size = sequenceLength(b)
  if (size === 0 || i + size > end) throw new Malformed('invalid UTF-8 in a string')

  let point = b & (0xff >> (size + 1))
  for (let k = 1; k < size; k++) {
    const c = bytes[i + k]!
    if ((c & 0xc0) !== 0x80) throw new Malformed('invalid UTF-8 in a string')
    point = (point << 6) | (c & 0x3f)
  }
  const min = size === 2 ? 0x80 : size === 3 ? 0x800 : 0x10000
  if (point < min || point > 0x10ffff) throw new Malformed('invalid UTF-8 in a string')
  return [point, size]
}

// ---------------------------------------------------------------------------------------
// HMAC-SHA256, synchronous and dependency-free (FIPS 180-4, RFC 2104)

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])

const IV = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]

const W = new Int32Array(64)

/** A SHA-256 computation in progress. */
class Sha256 {
  readonly #h: Int32Array
  readonly #block = new Uint8Array(64)
  #used = 0
  #length: number

  constructor(state: ArrayLike<number> = IV, length = 0) {
    this.#h = new Int32Array(8)
    this.#h.set(state)
    this.#length = length
  }

  get state(): Int32Array {
    return this.#h
  }

  update(data: Uint8Array): this {
    let i = 0
    this.#length += data.length
    if (this.#used > 0) i = this.#fill(data, 0)
    for (; i + 64 <= data.length; i += 64) compress(this.#h, data, i)
    if (i < data.length) this.#fill(data, i)
    return this
  }

  digest(): Uint8Array {
    const bits = this.#length * 8
    const tail = new Uint8Array((this.#used < 56 ? 64 : 128) - this.#used)
    tail[0] = 0x80
    const view = new DataView(tail.buffer)
    view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000))
    view.setUint32(tail.length - 4, bits >>> 0)
    this.update(tail)

    const out = new Uint8Array(32)
    for (let i = 0; i < 32; i++) out[i] = this.#h[i >> 2]! >>> (24 - 8 * (i & 3))
    return out
  }

  /** Buffers bytes from `i` until a block is full; returns where it stopped. */
  #fill(data: Uint8Array, i: number): number {
    const take = Math.min(64 - this.#used, data.length - i)
    this.#block.set(data.subarray(i, i + take), this.#used)
    this.#used += take
    if (this.#used === 64) {
      compress(this.#h, this.#block, 0)
      this.#used = 0
    }
    return i + take
  }
}

function compress(h: Int32Array, data: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4
    W[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!
    const y = W[i - 2]!
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0
  }
  rounds(h)
}

function rounds(h: Int32Array): void {
  let a = h[0]!
  let b = h[1]!
  let c = h[2]!
  let d = h[3]!
  let e = h[4]!
  let f = h[5]!
  let g = h[6]!
  let hh = h[7]!
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (hh + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
    hh = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  h[0] = (h[0]! + a) | 0
  h[1] = (h[1]! + b) | 0
  h[2] = (h[2]! + c) | 0
  h[3] = (h[3]! + d) | 0
  h[4] = (h[4]! + e) | 0
  h[5] = (h[5]! + f) | 0
  h[6] = (h[6]! + g) | 0
  h[7] = (h[7]! + hh) | 0
}

/** A secret turned into the SHA-256 states after its inner and outer pad blocks. */
interface HmacKey {
  inner: Int32Array
  outer: Int32Array
}

const textEncoder = new TextEncoder()
let cachedSecret: Secret | undefined
let cachedKey: HmacKey | undefined

/** Prepares a secret for signing; the last one is cached, as a cluster has one secret. */
function prepareKey(secret: Secret): HmacKey {
  if (secret === cachedSecret && cachedKey) return cachedKey
  if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
    cannotEncode(`the secret must be a string or a Uint8Array, got ${describe(secret)}`)
  }
  let key = typeof secret === 'string' ? textEncoder.encode(secret) : secret
  if (key.length === 0) cannotEncode('the secret is empty')
  if (key.length > 64) key = new Sha256().update(key).digest()

  const pad = (byte: number) => {
    const block = new Uint8Array(64).fill(byte)
    for (let i = 0; i < key.length; i++) block[i]! ^= key[i]!
    return new Sha256().update(block).state
  }
  cachedKey = { inner: pad(0x36), outer: pad(0x5c) }
  cachedSecret = typeof secret === 'string' ? secret : undefined
  return cachedKey
}

function hmac(key: HmacKey, message: Uint8Array): Uint8Array {
  const inner = new Sha256(key.inner, 64).update(message).digest()
  return new Sha256(key.outer, 64).update(inner).digest()
}

/** Compares two byte strings in time that depends only on their lengths. */
function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** @internal HMAC-SHA256 of `message`, exposed for tests against a reference. */
export function hmacSha256(secret: Secret, message: Uint8Array): Uint8Array {
  return hmac(prepareKey(secret), message)
}
