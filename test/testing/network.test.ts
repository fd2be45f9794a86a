import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PresenceError } from '../../src/errors.js'
import { ManualClock } from '../../src/testing/clock.js'
import {
  MemoryNetwork,
  type MemoryNetworkOptions,
  type MemoryTransport,
} from '../../src/testing/network.js'

/** One macrotask turn: every microtask queued so far, and their follow-ups, have run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

interface Node {
  transport: MemoryTransport
  /** What the node heard on `x`, as "sender:seq" strings. */
  heard: string[]
}

/** Nodes subscribed to channel `x`, each message carrying its sender and a number. */
async function cluster(network: MemoryNetwork, ids: string[]): Promise<Record<string, Node>> {
  const nodes: Record<string, Node> = {}
  for (const id of ids) {
    const node: Node = { transport: network.transport(id), heard: [] }
    await node.transport.subscribe('x', (data) => node.heard.push(decode(data)))
    nodes[id] = node
  }
  return nodes
}

function message(from: string, seq: number): Uint8Array {
  return new TextEncoder().encode(`${from}:${seq}`)
}

function decode(data: Uint8Array): string {
  return new TextDecoder().decode(data)
}

async function send(transport: MemoryTransport, seq: number): Promise<void> {
  await transport.publish('x', message(transport.nodeId, seq))
}

describe('MemoryNetwork delivery', () => {
  it('delivers on a later microtask, never inside publish', async () => {
    const network = new MemoryNetwork()
    const { a } = await cluster(network, ['a'])

    const published = send(a!.transport, 1)
    expect(a!.heard).toEqual([])
    await published
    await settle()

    expect(a!.heard).toEqual(['a:1'])
  })

  it('delivers to the subscribers of publish time, in publish order across senders', async () => {
    const network = new MemoryNetwork()
    const { a, b, c } = await cluster(network, ['a', 'b', 'c'])

    void send(a!.transport, 1)
    void send(b!.transport, 1)
    void send(a!.transport, 2)
    await settle()

    for (const node of [a, b, c]) expect(node!.heard).toEqual(['a:1', 'b:1', 'a:2'])
  })

  it('shows a receiver a snapshot taken at publish time', async () => {
    const network = new MemoryNetwork()
    const a = network.transport('a')
    const got: number[][] = []
    await a.subscribe('x', (data) => got.push([...data]))
    const data = Uint8Array.of(1, 2)

    void a.publish('x', data)
    data[0] = 99
    await settle()

    expect(got).toEqual([[1, 2]])
  })

  it('refuses a payload that is not bytes', async () => {
    const a = new MemoryNetwork().transport('a')
    const publish = a.publish as (channel: string, data: unknown) => Promise<void>

    await expect(publish.call(a, 'x', [1, 2])).rejects.toMatchObject({ code: 'invalid_argument' })
  })

  it('refuses an empty node id', () => {
    expect(() => new MemoryNetwork().transport('')).toThrow(PresenceError)
  })

  it('drops messages in flight to a transport that closes', async () => {
    const network = new MemoryNetwork()
    const { a, b } = await cluster(network, ['a', 'b'])

    void send(a!.transport, 1)
    await b!.transport.close()
    await settle()

    expect(b!.heard).toEqual([])
    expect(network.stats.total).toMatchObject({ delivered: 1, dropped: 1 })
  })

  it('hands a throwing handler error to onError and serves the other handlers', async () => {
    const errors: Array<[unknown, unknown]> = []
    const network = new MemoryNetwork({ onError: (error, info) => errors.push([error, info]) })
    const a = network.transport('a')
    const boom = new Error('boom')
    let served = 0
    await a.subscribe('x', () => {
      throw boom
    })
    await a.subscribe('x', () => served++)

    await a.publish('x', Uint8Array.of(1))
    await settle()

    expect(served).toBe(1)
    expect(errors).toEqual([[boom, { channel: 'x', node: 'a' }]])
  })
})

describe('MemoryNetwork partitions and isolation', () => {
  it('cuts both ways between two groups, and heal restores it', async () => {
    const network = new MemoryNetwork()
    const { a, b, c } = await cluster(network, ['a', 'b', 'c'])

    network.partition(['a'], ['b', 'c'])
    for (const node of [a, b, c]) await send(node!.transport, 1)
    await settle()

    expect(a!.heard).toEqual(['a:1'])
    expect(b!.heard).toEqual(['b:1', 'c:1'])
    expect(c!.heard).toEqual(['b:1', 'c:1'])
    expect(network.connected('a', 'b')).toBe(false)
    expect(network.connected('b', 'c')).toBe(true)

    network.heal()
    await send(a!.transport, 2)
    await settle()
    for (const node of [b, c]) expect(node!.heard.at(-1)).toBe('a:2')
  })

  it('loses messages already in flight when the link is cut', async () => {
    const network = new MemoryNetwork()
    const { a, b } = await cluster(network, ['a', 'b'])

    void send(a!.transport, 1)
    network.partition(['a'], ['b'])
    await settle()

    expect(b!.heard).toEqual([])
    expect(a!.heard).toEqual(['a:1'])
  })

  it('adds partitions up, and applies them to transports made later', async () => {
    const network = new MemoryNetwork()
    network.partition(['a'], ['b'])
    network.partition(['a'], ['c'])
    const { a, b, c } = await cluster(network, ['a', 'b', 'c'])

    await send(a!.transport, 1)
    await send(b!.transport, 1)
    await settle()

    expect(b!.heard).toEqual(['b:1'])
    expect(c!.heard).toEqual(['b:1'])
  })

  it('refuses groups that overlap', () => {
    const network = new MemoryNetwork()
    expect(() => network.partition(['a', 'b'], ['b'])).toThrow(/disjoint/)
  })

  it('isolates a node from everyone, itself excepted, until healed', async () => {
    const network = new MemoryNetwork()
    network.isolate('a')
    const { a, b } = await cluster(network, ['a', 'b', 'c'])

    await send(a!.transport, 1)
    await send(b!.transport, 1)
    await settle()
    expect(a!.heard).toEqual(['a:1'])
    expect(b!.heard).toEqual(['b:1'])

    network.heal()
    await send(a!.transport, 2)
    await settle()
    expect(b!.heard).toEqual(['b:1', 'a:2'])
  })
})

describe('MemoryNetwork crash', () => {
  it('silences a crashed node both ways without an error, while the others go on', async () => {
    const network = new MemoryNetwork()
    const { a, b, c } = await cluster(network, ['a', 'b', 'c'])

    network.crash('a')
    await expect(send(a!.transport, 1)).resolves.toBeUndefined()
    await expect(a!.transport.subscribe('y', () => {})).resolves.toBeUndefined()
    await send(b!.transport, 1)
    await settle()

    expect(a!.heard).toEqual([])
    expect(b!.heard).toEqual(['b:1'])
    expect(c!.heard).toEqual(['b:1'])
    await expect(a!.transport.close()).resolves.toBeUndefined()
  })

  it('still delivers what a node sent before it crashed', async () => {
    const network = new MemoryNetwork()
    const { a, b } = await cluster(network, ['a', 'b'])

    void send(a!.transport, 1)
    network.crash('a')
    await settle()

    expect(b!.heard).toEqual(['a:1'])
  })

  it('lets a crashed node restart with a new transport of the same id', async () => {
    const network = new MemoryNetwork()
    const { a, b } = await cluster(network, ['a', 'b'])
    network.crash('a')

    const restarted = network.transport('a')
    const heard: string[] = []
    await restarted.subscribe('x', (data) => heard.push(decode(data)))
    await send(restarted, 2)
    await send(a!.transport, 3)
    await settle()

    expect(heard).toEqual(['a:2'])
    expect(b!.heard).toEqual(['a:2'])
  })
})

/** Publishes `count` messages from each node and returns what every node heard. */
async function run(options: MemoryNetworkOptions, count = 200): Promise<string[][]> {
  const network = new MemoryNetwork(options)
  const nodes = await cluster(network, ['a', 'b', 'c'])
  for (let i = 0; i < count; i++) {
    for (const node of Object.values(nodes)) void send(node.transport, i)
  }
  await settle()
  return Object.values(nodes).map((node) => node.heard)
}

describe('MemoryNetwork faults', () => {
  it('drops about the loss rate, the same messages for the same seed', async () => {
    const first = await run({ seed: 7, loss: 0.3 })
    const again = await run({ seed: 7, loss: 0.3 })
    const other = await run({ seed: 8, loss: 0.3 })

    expect(again).toEqual(first)
    expect(other).not.toEqual(first)
    const delivered = first.flat().length / (3 * 3 * 200)
    expect(delivered).toBeGreaterThan(0.65)
    expect(delivered).toBeLessThan(0.75)
  })

  it('replays any seed and rates exactly (property)', async () => {
    const faults = fc.record({
      seed: fc.integer(),
      loss: fc.double({ min: 0, max: 1, noNaN: true }),
      duplicate: fc.double({ min: 0, max: 1, noNaN: true }),
      reorder: fc.double({ min: 0, max: 1, noNaN: true }),
      maxDelayTurns: fc.integer({ min: 1, max: 20 }),
    })
    await fc.assert(
      fc.asyncProperty(faults, async (options) => {
        expect(await run(options, 20)).toEqual(await run(options, 20))
      }),
      { numRuns: 100 },
    )
  })

  it('duplicates every message at rate 1, and counts the copies', async () => {
    const network = new MemoryNetwork({ duplicate: 1 })
    const { a, b } = await cluster(network, ['a', 'b'])

    await send(a!.transport, 1)
    await settle()

    expect(b!.heard).toEqual(['a:1', 'a:1'])
    expect(network.stats.total).toMatchObject({ published: 1, delivered: 4, duplicated: 2 })
  })

  it('reorders without losing anything, so order differs but the set does not', async () => {
    const [heard] = await run({ seed: 11, reorder: 0.3 }, 100)
    const expected = (await run({}, 100))[0]!

    expect(heard).not.toEqual(expected)
    expect([...heard!].sort()).toEqual([...expected].sort())
  })

  it('holds messages back on the clock when given one', async () => {
    const clock = new ManualClock()
    const network = new MemoryNetwork({ clock, reorder: 1, maxDelayMs: 10 })
    const { a, b } = await cluster(network, ['a', 'b'])

    await send(a!.transport, 1)
    await settle()
    expect(b!.heard).toEqual([])
    expect(clock.pending()).toBe(2)

    await clock.advance(10)
    expect(b!.heard).toEqual(['a:1'])
  })

  it('changes faults while it runs, and refuses impossible ones', async () => {
    const network = new MemoryNetwork({ loss: 1 })
    const { a, b } = await cluster(network, ['a', 'b'])
    await send(a!.transport, 1)
    network.setFaults({ loss: 0 })
    await send(a!.transport, 2)
    await settle()

    expect(b!.heard).toEqual(['a:2'])
    expect(network.faults).toMatchObject({ loss: 0, duplicate: 0, reorder: 0 })
    expect(() => network.setFaults({ loss: 1.5 })).toThrow(/probability/)
    expect(() => network.setFaults({ duplicate: Number.NaN })).toThrow(PresenceError)
    expect(() => new MemoryNetwork({ maxDelayTurns: 0 })).toThrow(/whole number/)
    expect(network.faults.loss).toBe(0)
  })
})

describe('MemoryNetwork stats', () => {
  it('counts messages and bytes published, delivered and dropped, per channel', async () => {
    const network = new MemoryNetwork()
    const a = network.transport('a')
    const b = network.transport('b')
    const c = network.transport('c')
    for (const node of [a, b, c]) await node.subscribe('all', () => {})
    await b.subscribe('node:b', () => {})
    network.partition(['a'], ['c'])

    await a.publish('all', new Uint8Array(100))
    await a.publish('node:b', new Uint8Array(10))
    await a.publish('nobody', new Uint8Array(5))
    await settle()

    const { total, channels } = network.stats
    expect(channels.get('all')).toEqual({
      published: 1,
      publishedBytes: 100,
      delivered: 2,
      deliveredBytes: 200,
      dropped: 1,
      droppedBytes: 100,
      duplicated: 0,
    })
    expect(channels.get('node:b')).toMatchObject({ delivered: 1, deliveredBytes: 10 })
    expect(channels.get('nobody')).toMatchObject({ published: 1, delivered: 0, dropped: 0 })
    expect(total).toMatchObject({ published: 3, publishedBytes: 115, deliveredBytes: 210 })
    expect([...channels.keys()]).toEqual(['all', 'node:b', 'nobody'])
  })

  it('counts a delivery once per node however many handlers it has', async () => {
    const network = new MemoryNetwork()
    const a = network.transport('a')
    await a.subscribe('x', () => {})
    await a.subscribe('x', () => {})

    await a.publish('x', new Uint8Array(3))
    await settle()

    expect(network.stats.total).toMatchObject({ delivered: 1, deliveredBytes: 3 })
  })

  it('hands out snapshots, and resets', async () => {
    const network = new MemoryNetwork()
    const a = network.transport('a')
    await a.subscribe('x', () => {})
    void a.publish('x', new Uint8Array(1))
    const before = network.stats
    await settle()

    expect(before.total.delivered).toBe(0)
    expect(network.stats.total.delivered).toBe(1)
    network.resetStats()
    expect(network.stats.total.published).toBe(0)
    expect(network.stats.channels.size).toBe(0)
  })
})
