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
import { equalConstantTime, hmac, prepareKey, type Secret } from './hmac.js'

export type { Secret } from './hmac.js'

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
