import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Transport } from '../../src/cluster/transport.js'
import { PresenceError } from '../../src/errors.js'

/** Two transports on one bus, and how to dispose of everything the pair holds. */
export interface TransportPair {
  a: Transport
  b: Transport
  cleanup: () => Promise<void>
}

/** Records what a handler received. */
interface Inbox {
  readonly messages: Uint8Array[]
  readonly handler: (data: Uint8Array) => void
}

function inbox(): Inbox {
  const messages: Uint8Array[] = []
  return { messages, handler: (data) => messages.push(data) }
}

async function listen(transport: Transport, channel: string): Promise<Inbox> {
  const box = inbox()
  await transport.subscribe(channel, box.handler)
  return box
}

/**
 * Polls until `done` holds. Delivery over a real broker takes real time, so this is the
 * one place the suite waits on the wall clock; it asserts nothing about how long.
 */
async function waitFor(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.compare(a, b) === 0
}

/** Deterministic pseudo-random bytes, so a failure replays. */
function noise(length: number, seed = 7): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/**
 * The behaviour every {@link Transport} must show, run once per implementation. `makePair`
 * returns two fresh transports on one bus, isolated from every other pair.
 */
export function describeTransport(name: string, makePair: () => Promise<TransportPair>): void {
  describe(`Transport conformance: ${name}`, () => {
    let pair: TransportPair

    beforeEach(async () => {
      pair = await makePair()
    })

    afterEach(async () => {
      await pair.cleanup()
    })

    describeDelivery(() => pair)
    describePayloads(() => pair)
    describeSubscriptions(() => pair)
    describeClose(() => pair)
  })
}

function describeDelivery(get: () => TransportPair): void {
  it('delivers a message to a subscriber of its channel', async () => {
    const { a, b } = get()
    const box = await listen(b, 'x')

    await a.publish('x', bytes(1, 2, 3))

    await waitFor(() => box.messages.length === 1, 'the message')
    expect(box.messages[0]).toBeInstanceOf(Uint8Array)
    expect([...box.messages[0]!]).toEqual([1, 2, 3])
  })

  it('delivers a node its own publishes', async () => {
    const { a } = get()
    const box = await listen(a, 'x')

    await a.publish('x', bytes(9))

    await waitFor(() => box.messages.length === 1, 'the echo')
    expect([...box.messages[0]!]).toEqual([9])
  })

  it('does not deliver messages of other channels', async () => {
    const { a, b } = get()
    const box = await listen(b, 'x')

    await a.publish('y', bytes(1))
    await a.publish('x:suffix', bytes(2))
    await a.publish('x', bytes(3))
    await a.publish('x', bytes(4))

    await waitFor(() => box.messages.length === 2, 'both messages of x')
    expect(box.messages.map((m) => [...m])).toEqual([[3], [4]])
  })

  it('keeps the order of one sender on one channel', async () => {
    const { a, b } = get()
    const box = await listen(b, 'x')
    const count = 500

    await Promise.all(
      Array.from({ length: count }, (_, i) => a.publish('x', bytes(i >> 8, i & 0xff))),
    )

    await waitFor(() => box.messages.length === count, `${count} messages`)
    const order = box.messages.map((m) => (m[0]! << 8) | m[1]!)
    expect(order).toEqual(Array.from({ length: count }, (_, i) => i))
  })

  it('delivers to every subscribing node', async () => {
    const { a, b } = get()
    const atA = await listen(a, 'x')
    const atB = await listen(b, 'x')

    await b.publish('x', bytes(5))

    await waitFor(() => atA.messages.length === 1 && atB.messages.length === 1, 'both copies')
    expect([...atA.messages[0]!]).toEqual([5])
    expect([...atB.messages[0]!]).toEqual([5])
  })
}

function describePayloads(get: () => TransportPair): void {
  it('carries every byte value, and empty payloads', async () => {
    const { a, b } = get()
    const box = await listen(b, 'x')
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    const reversed = all.slice().reverse()

    await a.publish('x', all)
    await a.publish('x', new Uint8Array(0))
    await a.publish('x', reversed)

    await waitFor(() => box.messages.length === 3, 'three payloads')
    expect(same(box.messages[0], all)).toBe(true)
    expect(box.messages[1]!.length).toBe(0)
    expect(same(box.messages[2], reversed)).toBe(true)
  })

  it('carries a 1 MB payload intact', async () => {
    const { a, b } = get()
    const box = await listen(b, 'x')
    const big = noise(1024 * 1024)

    await a.publish('x', big)

    await waitFor(() => box.messages.length === 1, 'the 1 MB payload')
    expect(box.messages[0]!.length).toBe(big.length)
    expect(same(box.messages[0], big)).toBe(true)
  })

  it('carries a view into a larger buffer as just the view', async () => {
    const { a, b } = get()
    const box = await listen(b, 'x')
    const backing = noise(64)

    await a.publish('x', backing.subarray(10, 20))

    await waitFor(() => box.messages.length === 1, 'the slice')
    expect(same(box.messages[0], backing.slice(10, 20))).toBe(true)
  })

  it('is not affected by the sender changing its bytes after publish resolves', async () => {
    const { a, b } = get()
    const box = await listen(b, 'x')
    const data = bytes(1, 2, 3)

    await a.publish('x', data)
    data.fill(0)

    await waitFor(() => box.messages.length === 1, 'the message')
    expect([...box.messages[0]!]).toEqual([1, 2, 3])
  })

  it('gives each handler its own copy', async () => {
    const { a, b } = get()
    const seen: number[][] = []
    await b.subscribe('x', (data) => {
      seen.push([...data])
      data.fill(0)
    })
    await b.subscribe('x', (data) => seen.push([...data]))

    await a.publish('x', bytes(7, 7))

    await waitFor(() => seen.length === 2, 'both handlers')
    expect(seen).toEqual([
      [7, 7],
      [7, 7],
    ])
  })
}

function describeSubscriptions(get: () => TransportPair): void {
  it('calls two handlers of one node once each', async () => {
    const { a, b } = get()
    const first = await listen(b, 'x')
    const second = await listen(b, 'x')

    await a.publish('x', bytes(1))
    await a.publish('x', bytes(2))

    await waitFor(() => second.messages.length === 2, 'the second handler')
    await waitFor(() => first.messages.length === 2, 'the first handler')
    expect(first.messages.map((m) => m[0])).toEqual([1, 2])
    expect(second.messages.map((m) => m[0])).toEqual([1, 2])
  })

  it('is idempotent: the same handler subscribed again is called once', async () => {
    const { a, b } = get()
    const box = inbox()
    await b.subscribe('x', box.handler)
    await Promise.all([b.subscribe('x', box.handler), b.subscribe('x', box.handler)])
    const sentinel = await listen(b, 'x')

    await a.publish('x', bytes(1))
    await a.publish('x', bytes(2))

    await waitFor(() => sentinel.messages.length === 2, 'both messages')
    expect(box.messages.map((m) => m[0])).toEqual([1, 2])
  })

  it('delivers every channel a node subscribed to', async () => {
    const { a, b } = get()
    const all = await listen(b, 'all')
    const direct = await listen(b, 'node:b')

    await a.publish('node:b', bytes(1))
    await a.publish('all', bytes(2))

    await waitFor(() => all.messages.length === 1 && direct.messages.length === 1, 'both')
    expect(direct.messages[0]![0]).toBe(1)
    expect(all.messages[0]![0]).toBe(2)
  })
}

function describeClose(get: () => TransportPair): void {
  it('stops delivery to a closed transport at once', async () => {
    const { a, b } = get()
    const atA = await listen(a, 'x')
    const atB = await listen(b, 'x')

    await b.close()
    await a.publish('x', bytes(1))
    await a.publish('x', bytes(2))

    await waitFor(() => atA.messages.length === 2, 'delivery to the open node')
    expect(atB.messages).toEqual([])
  })

  it('rejects publish and subscribe after close with code closed', async () => {
    const { b } = get()
    await b.close()

    await expect(b.publish('x', bytes(1))).rejects.toBeInstanceOf(PresenceError)
    await expect(b.publish('x', bytes(1))).rejects.toMatchObject({ code: 'closed' })
    await expect(b.subscribe('x', () => {})).rejects.toMatchObject({ code: 'closed' })
  })

  it('closes idempotently', async () => {
    const { b } = get()
    await Promise.all([b.close(), b.close()])
    await expect(b.close()).resolves.toBeUndefined()
  })

  it('keeps serving the other node after one closes', async () => {
    const { a, b } = get()
    const atB = await listen(b, 'x')

    await a.close()
    await b.publish('x', bytes(3))

    await waitFor(() => atB.messages.length === 1, 'delivery after the other closed')
    expect(atB.messages[0]![0]).toBe(3)
  })
}
