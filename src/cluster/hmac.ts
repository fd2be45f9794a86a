/**
 * HMAC-SHA256 (FIPS 180-4, RFC 2104), synchronous and without Node APIs. Web Crypto's
 * HMAC is asynchronous and node:crypto is not in browsers or edge runtimes; the cluster
 * signs and checks every message on its synchronous receive path, so it carries its own.
 * Checked against the RFC 4231 vectors and node:crypto in test/cluster/codec.test.ts.
 */
import { describe, PresenceError } from '../errors.js'

/** A shared secret for signing: a string (taken as UTF-8) or raw bytes. */
export type Secret = string | Uint8Array

function cannotSign(what: string): never {
  throw new PresenceError('invalid_argument', `Cannot sign cluster messages: ${what}.`)
}

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
/** @internal A prepared key: the inner and outer padded states. */
export interface HmacKey {
  inner: Int32Array
  outer: Int32Array
}

const textEncoder = new TextEncoder()
let cachedSecret: Secret | undefined
let cachedKey: HmacKey | undefined

/** Prepares a secret for signing; the last one is cached, as a cluster has one secret. */
export function prepareKey(secret: Secret): HmacKey {
  if (secret === cachedSecret && cachedKey) return cachedKey
  if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
    cannotSign(`the secret must be a string or a Uint8Array, got ${describe(secret)}`)
  }
  let key = typeof secret === 'string' ? textEncoder.encode(secret) : secret
  if (key.length === 0) cannotSign('the secret is empty')
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

/** @internal Signs `message`. */
export function hmac(key: HmacKey, message: Uint8Array): Uint8Array {
  const inner = new Sha256(key.inner, 64).update(message).digest()
  return new Sha256(key.outer, 64).update(inner).digest()
}

/** Compares two byte strings in time that depends only on their lengths. */
export function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** @internal HMAC-SHA256 of `message`, exposed for tests against a reference. */
export function hmacSha256(secret: Secret, message: Uint8Array): Uint8Array {
  return hmac(prepareKey(secret), message)
}
