/**
 * Replication and liveness of a cluster in one process: trackers on a ManualClock, joined
 * by a MemoryNetwork, so every period and timeout runs in simulated time.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Clock } from '../../src/clock.js'
import { decode } from '../../src/cluster/codec.js'
import type { Transport } from '../../src/cluster/transport.js'
import type { MemoryTransport } from '../../src/testing/index.js'
import { Tracker } from '../../src/tracker.js'
import {
  deafTo,
  eventsOf,
  expectConverged,
  keysIn,
  SIM_PERIODS,
  Sim,
  view,
} from '../helpers/cluster.js'

const { broadcastPeriod, downPeriod, permdownPeriod } = SIM_PERIODS

let sim: Sim

afterEach(async () => {
  await sim.closeAll()
})

describe('replication', () => {
  it('a join reaches the other nodes within one batch delay, not a period later', async () => {
    sim = new Sim()
    const [a, b, c] = await sim.start('a', 'b', 'c')
    const ref = a!.track('s1', 'room', 'alice', { status: 'online' })

    await sim.advance(4)
    expect(keysIn(b!, 'room')).toEqual([])

    await sim.advance(1)
    for (const tracker of [b!, c!]) {
      expect(tracker.get('room', 'alice')).toEqual([
        { node: 'a', owner: 's1', meta: { status: 'online' }, ref },
      ])
    }
    expect(eventsOf(sim.node('b'), 'join')).toMatchObject([
      { topic: 'room', key: 'alice', node: 'a', ref, origin: 'remote' },
    ])
  })

  it('updates and leaves follow the same way, as one update event each', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    const first = a!.track('s1', 'room', 'alice', { status: 'online' })
    a!.track('s1', 'room', 'bob', {})
    a!.track('s2', 'lobby', 'carol', {})
    await sim.settle()
    sim.node('b').events.length = 0

    const second = a!.update('s1', 'room', 'alice', { status: 'away' })
    await sim.settle()
    expect(b!.list('room').alice!.metas).toEqual([
      { status: 'away', phx_ref: second, phx_ref_prev: first },
    ])
    expect(sim.node('b').events).toMatchObject([
      { event: 'update', payload: { key: 'alice', prevRef: first, ref: second, origin: 'remote' } },
    ])

    a!.untrack('s1', 'room', 'bob')
    a!.untrackAll('s2')
    await sim.settle()
    expect(view(b!)).toEqual(view(a!))
    expect(b!.topics()).toEqual(['room'])
    expect(eventsOf(sim.node('b'), 'leave').map((event) => event.key)).toEqual(['bob', 'carol'])
  })

  it('changes made on every node converge', async () => {
    sim = new Sim()
    const trackers = await sim.start('a', 'b', 'c')
    trackers.forEach((tracker, i) => {
      tracker.track(`s${i}`, 'room', `user${i}`, { i })
      tracker.track(`s${i}`, `own${i}`, 'k', {})
    })
    await sim.settle()
    expectConverged(trackers)
    expect(keysIn(trackers[2]!, 'room')).toEqual(['user0', 'user1', 'user2'])
    expect(trackers[1]!.count('room')).toBe(3)
    expect(trackers[1]!.topics().sort()).toEqual(['own0', 'own1', 'own2', 'room'])
  })

  it('a lost update followed by another change leaves no stale version behind', async () => {
    sim = new Sim()
    let deaf = false
    const a = sim.add('a').tracker
    const b = sim.add('b', { wrap: deafTo('all', () => deaf) }).tracker
    await sim.advance(2 * broadcastPeriod)
    a.track('s1', 'room', 'alice', { v: 1 })
    a.track('s1', 'room', 'bob', { v: 1 })
    await sim.settle()

    // b misses the update, which replaced alice's first version; then hears the next one.
    deaf = true
    a.update('s1', 'room', 'alice', { v: 2 })
    await sim.settle()
    deaf = false
    a.update('s1', 'room', 'bob', { v: 2 })
    a.untrack('s1', 'room', 'alice')
    await sim.settle()
    await sim.advance(broadcastPeriod)

    expect(b.get('room', 'alice')).toEqual([])
    expect(b.get('room', 'bob')).toMatchObject([{ meta: { v: 2 } }])
    expectConverged([a, b])
  })

  it('a node that starts later receives the existing state in a transfer', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    a!.track('s1', 'room', 'alice', {})
    b!.track('s1', 'room', 'bob', {})
    a!.untrack('s1', 'room', 'alice')
    a!.track('s2', 'room', 'carol', {})
    await sim.advance(3 * broadcastPeriod)

    const c = sim.add('c').tracker
    await sim.settle()
    expect(keysIn(c, 'room')).toEqual(['bob', 'carol'])
    expectConverged([a!, b!, c])
  })
})

describe('ready() and nodes()', () => {
  it('a lone tracker without a cluster is ready at once and sees only itself', async () => {
    sim = new Sim()
    const tracker = new Tracker({ clock: sim.clock })
    await tracker.ready()
    expect(tracker.nodes()).toEqual([
      { node: tracker.nodeId, incarnation: expect.any(String), status: 'self', lastHeard: 0 },
    ])
  })

  it('resolves after a broadcast period, holding the state the others sent', async () => {
    sim = new Sim()
    const [a] = await sim.start('a', 'b')
    a!.track('s1', 'room', 'alice', {})
    await sim.settle()

    const c = sim.add('c').tracker
    let seen: string[] | undefined
    void c.ready().then(() => {
      seen = keysIn(c, 'room')
    })
    await sim.advance(broadcastPeriod - 10)
    expect(seen).toBeUndefined()
    await sim.advance(10)
    expect(seen).toEqual(['alice'])
  })

  it('waits for a transfer it still lacks', async () => {
    sim = new Sim()
    const [a] = await sim.start('a')
    a!.track('s1', 'room', 'alice', {})
    await sim.settle()

    let deaf = true
    const b = sim.add('b', { wrap: deafTo('node:b', () => deaf) }).tracker
    let ready = false
    void b.ready().then(() => {
      ready = true
    })
    await sim.advance(3 * broadcastPeriod)
    expect(b.nodes().map((n) => n.status)).toEqual(['self', 'up'])
    expect(ready).toBe(false)

    deaf = false
    await sim.advance(3 * broadcastPeriod)
    expect(ready).toBe(true)
    expect(keysIn(b, 'room')).toEqual(['alice'])
  })

  it('resolves even when timers fire a little before the clock reads their due time', async () => {
    sim = new Sim()
    // Node's timers run on a monotonic clock and Date.now() on another: one in eight or so
    // fires while Date.now() still reads a millisecond before its due time.
    const early: Clock = {
      now: () => sim.clock.now(),
      setTimeout: (fn, ms) => sim.clock.setTimeout(fn, Math.max(0, ms - 1)),
      clearTimeout: (handle) => sim.clock.clearTimeout(handle),
    }
    const lone = new Tracker({
      clock: early,
      cluster: { transport: sim.network.transport('lone'), nodeId: 'lone', ...SIM_PERIODS },
    })
    let ready = false
    void lone.ready().then(() => {
      ready = true
    })
    await sim.advance(3 * broadcastPeriod)
    expect(ready).toBe(true)
    await lone.close()
  })

  it('nodes() lists itself first, then every peer with its status and last contact', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b', 'c')
    const nodes = a!.nodes()
    expect(nodes[0]).toMatchObject({ node: 'a', status: 'self' })
    expect(
      nodes
        .slice(1)
        .map((n) => [n.node, n.status])
        .sort(),
    ).toEqual([
      ['b', 'up'],
      ['c', 'up'],
    ])
    const bIncarnation = b!.nodes()[0]!.incarnation
    expect(nodes.find((n) => n.node === 'b')!.incarnation).toBe(bIncarnation)

    sim.crash('c')
    await sim.advance(downPeriod + broadcastPeriod)
    const after = a!.nodes()
    expect(after.find((n) => n.node === 'c')).toMatchObject({ status: 'down' })
    expect(after.find((n) => n.node === 'c')!.lastHeard).toBeLessThanOrEqual(
      sim.clock.now() - downPeriod,
    )
    expect(after.find((n) => n.node === 'b')!.status).toBe('up')
  })

  it('emits nodeup for every node it hears of', async () => {
    sim = new Sim()
    await sim.start('a', 'b', 'c')
    const ups = eventsOf(sim.node('a'), 'nodeup').map((event) => event.node)
    expect(ups.sort()).toEqual(['b', 'c'])
    expect(eventsOf(sim.node('a'), 'nodeup')[0]!.incarnation).toEqual(expect.any(String))
  })
})

describe('liveness', () => {
  it('a node silent for downPeriod is down: its entries leave, nodedown is emitted', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    a!.track('s1', 'room', 'alice', {})
    await sim.settle()
    sim.node('b').events.length = 0

    sim.network.partition(['a'], ['b'])
    await sim.advance(downPeriod - broadcastPeriod)
    expect(keysIn(b!, 'room')).toEqual(['alice'])
    expect(eventsOf(sim.node('b'), 'nodedown')).toEqual([])

    await sim.advance(2 * broadcastPeriod)
    expect(keysIn(b!, 'room')).toEqual([])
    expect(sim.node('b').events.map((item) => item.event)).toEqual(['leave', 'nodedown'])
    expect(eventsOf(sim.node('b'), 'nodedown')[0]).toMatchObject({ node: 'a' })
    expect(keysIn(a!, 'room')).toEqual(['alice'])
  })

  it('a partition heals without loss: hidden entries return, with what changed', async () => {
    sim = new Sim()
    const [a, b, c] = await sim.start('a', 'b', 'c')
    const alice = a!.track('s1', 'room', 'alice', { v: 1 })
    a!.track('s2', 'room', 'bob', {})
    c!.track('s1', 'room', 'carol', {})
    await sim.settle()

    sim.network.partition(['a'], ['b', 'c'])
    await sim.advance(downPeriod + broadcastPeriod)
    expect(keysIn(b!, 'room')).toEqual(['carol'])
    expect(keysIn(a!, 'room')).toEqual(['alice', 'bob'])

    a!.untrack('s2', 'room', 'bob')
    a!.track('s3', 'room', 'dave', {})
    b!.track('s9', 'room', 'erin', {})
    await sim.settle()
    sim.node('b').events.length = 0

    sim.network.heal()
    await sim.advance(2 * broadcastPeriod)
    expectConverged([a!, b!, c!])
    expect(keysIn(b!, 'room')).toEqual(['alice', 'carol', 'dave', 'erin'])
    expect(b!.get('room', 'alice')[0]!.ref).toBe(alice)
    expect(eventsOf(sim.node('b'), 'nodeup')).toMatchObject([{ node: 'a' }])
    // bob was hidden when a went down and untracked meanwhile: it leaves, nothing else does.
    expect(eventsOf(sim.node('b'), 'leave').map((event) => event.key)).toEqual(['bob'])
    expect(a!.nodes().every((n) => n.status !== 'down')).toBe(true)
  })

  it('a restarted node (same nodeId, new incarnation) replaces the old one at once', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    void a
    sim.tracker('a').track('s1', 'room', 'alice', {})
    await sim.settle()
    const oldIncarnation = sim.tracker('a').nodes()[0]!.incarnation
    sim.node('b').events.length = 0

    sim.crash('a')
    const restarted = sim.add('a').tracker
    restarted.track('s1', 'room', 'bob', {})
    await sim.settle()

    expect(keysIn(b!, 'room')).toEqual(['bob'])
    expect(eventsOf(sim.node('b'), 'leave')).toMatchObject([{ key: 'alice', node: 'a' }])
    expect(eventsOf(sim.node('b'), 'nodedown')).toEqual([
      { node: 'a', incarnation: oldIncarnation },
    ])
    const seen = b!.nodes().filter((n) => n.node === 'a')
    expect(seen).toHaveLength(1)
    expect(seen[0]!.incarnation).not.toBe(oldIncarnation)
    expect(seen[0]!.status).toBe('up')
  })

  it('a late hello of a dead incarnation cannot shut out the live one for good', async () => {
    sim = new Sim()
    const [, b] = await sim.start('a', 'b')
    sim.crash('a')
    // The first restart dies at once; its hello is held back, to arrive last.
    const held: Uint8Array[] = []
    const doomed = sim.add('a', {
      wrap: (transport) => ({
        publish: async (_channel, data) => void held.push(data),
        subscribe: (channel, onData) => transport.subscribe(channel, onData),
        close: () => transport.close(),
      }),
    })
    await sim.settle()
    sim.crash('a')
    await doomed.tracker.close()
    const live = sim.add('a').tracker
    live.track('s1', 'room', 'bob', {})
    await sim.settle()
    expect(keysIn(b!, 'room')).toEqual(['bob'])

    await sim.network.transport('late').publish('all', held[0]!)
    await sim.settle()
    expect(keysIn(b!, 'room')).toEqual([])

    await sim.advance(downPeriod + 2 * broadcastPeriod)
    expect(keysIn(b!, 'room')).toEqual(['bob'])
    const seen = b!.nodes().find((n) => n.node === 'a')!
    expect(seen).toMatchObject({ incarnation: live.nodes()[0]!.incarnation, status: 'up' })
  })

  it('a late dead incarnation that then says goodbye does not shut the live one out', async () => {
    sim = new Sim()
    const [, b] = await sim.start('a', 'b')
    sim.crash('a')
    // An incarnation that lived briefly: everything it sent is held back, to arrive late.
    const held: Uint8Array[] = []
    const brief = sim.add('a', {
      wrap: (transport) => ({
        publish: async (_channel, data) => void held.push(data),
        subscribe: (channel, onData) => transport.subscribe(channel, onData),
        close: () => transport.close(),
      }),
    }).tracker
    await sim.settle()
    await brief.close()
    const live = sim.add('a').tracker
    live.track('s1', 'room', 'bob', {})
    await sim.settle()
    expect(keysIn(b!, 'room')).toEqual(['bob'])

    const late = sim.network.transport('late')
    for (const data of held) await late.publish('all', data)
    await sim.settle()
    expect(keysIn(b!, 'room')).toEqual([])

    await sim.advance(2 * broadcastPeriod)
    expect(keysIn(b!, 'room')).toEqual(['bob'])
    expect(b!.nodes().find((n) => n.node === 'a')?.incarnation).toBe(live.nodes()[0]!.incarnation)
  })

  it('a goodbye that arrives after the successor hello does not drop the successor', async () => {
    sim = new Sim()
    const held: Uint8Array[] = []
    const holdGoodbyes = (transport: MemoryTransport): Transport => ({
      publish: (channel, data) => {
        const result = decode(data)
        if (result.ok && result.envelope.type === 'goodbye') {
          held.push(data)
          return Promise.resolve()
        }
        return transport.publish(channel, data)
      },
      subscribe: (channel, onData) => transport.subscribe(channel, onData),
      close: () => transport.close(),
    })
    const first = sim.add('a', { wrap: holdGoodbyes }).tracker
    await sim.settle()
    first.track('s1', 'room', 'alice', {})
    await first.close()
    const live = sim.add('a').tracker
    live.track('s1', 'room', 'bob', {})
    await sim.settle()
    // b starts now: it knows the live incarnation only, then hears the old one leave.
    const b = sim.add('b').tracker
    await sim.settle()
    expect(keysIn(b, 'room')).toEqual(['bob'])

    await sim.network.transport('late').publish('all', held[0]!)
    await sim.settle()
    expect(keysIn(b, 'room')).toEqual(['bob'])
    live.track('s2', 'room', 'carol', {})
    await sim.advance(broadcastPeriod)
    expect(keysIn(b, 'room')).toEqual(['bob', 'carol'])
  })

  it('permdownPeriod forgets a down node: it leaves nodes() and stops holding a room', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    a!.track('s1', 'room', 'alice', {})
    b!.names.create('game', { releaseWhenAlone: 'room' })
    b!.track({ name: 'game' }, 'room', 'game', {})
    await sim.settle()

    sim.network.partition(['a'], ['b'])
    await sim.advance(downPeriod + broadcastPeriod)
    // Hidden entries of a down node still hold the room.
    expect(b!.names.whereis('game')).toBeDefined()
    expect(b!.nodes().map((n) => n.status)).toEqual(['self', 'down'])

    await sim.advance(permdownPeriod)
    expect(b!.nodes().map((n) => n.node)).toEqual(['b'])
    expect(b!.names.whereis('game')).toBeUndefined()
    expect(keysIn(b!, 'room')).toEqual([])
  })

  it('a down node that restarts stops holding a room with its old hidden entries', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    a!.track('s1', 'room', 'alice', {})
    b!.names.create('game', { releaseWhenAlone: 'room' })
    await sim.settle()

    sim.network.isolate('a')
    await sim.advance(downPeriod + broadcastPeriod)
    expect(b!.names.whereis('game')).toBeDefined()

    sim.crash('a')
    sim.network.heal()
    sim.add('a')
    await sim.settle()
    expect(b!.names.whereis('game')).toBeUndefined()
  })

  it('a node forgotten after permdown that comes back is sent its state again', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    a!.track('s1', 'room', 'alice', {})
    await sim.settle()
    sim.network.partition(['a'], ['b'])
    await sim.advance(permdownPeriod + downPeriod + broadcastPeriod)
    expect(b!.nodes()).toHaveLength(1)

    sim.network.heal()
    await sim.advance(2 * broadcastPeriod)
    expectConverged([a!, b!])
    expect(keysIn(b!, 'room')).toEqual(['alice'])
  })

  it('close() says goodbye: the others drop its entries at once', async () => {
    sim = new Sim()
    const [a, b, c] = await sim.start('a', 'b', 'c')
    a!.track('s1', 'room', 'alice', {})
    b!.track('s1', 'room', 'bob', {})
    await sim.settle()
    sim.node('c').events.length = 0

    await a!.close()
    sim.nodes.delete('a')
    await sim.clock.flush()
    for (const tracker of [b!, c!]) {
      expect(keysIn(tracker, 'room')).toEqual(['bob'])
      expect(tracker.nodes().map((n) => n.node)).not.toContain('a')
    }
    expect(sim.node('c').events.map((item) => item.event)).toEqual(['leave', 'nodedown'])
  })

  it('a closed tracker refuses writes with closed and sends nothing more', async () => {
    sim = new Sim()
    const [a] = await sim.start('a', 'b')
    await a!.close()
    sim.nodes.delete('a')
    expect(() => a!.track('s1', 'room', 'alice', {})).toThrow(
      expect.objectContaining({ code: 'closed' }),
    )
    sim.network.resetStats()
    await sim.advance(3 * broadcastPeriod)
    const fromA = sim.network.stats.total.published
    // Only b's heartbeats remain: one per period.
    expect(fromA).toBe(3)
  })
})

describe('options', () => {
  const make = (cluster: Record<string, unknown>) => () =>
    new Tracker({
      clock: sim.clock,
      cluster: { transport: sim.network.transport('x'), nodeId: 'x', ...cluster },
    })

  it('refuses periods that contradict each other, with invalid_argument', () => {
    sim = new Sim()
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ broadcastPeriod: 1000, downPeriod: 1999 }, /downPeriod \(1999 ms\) to be at least twice/],
      [{ downPeriod: 5000, permdownPeriod: 5000 }, /permdownPeriod \(5000 ms\) to be more than/],
      [{ broadcastPeriod: 0 }, /broadcastPeriod to be a finite number above 0, got 0/],
      [{ broadcastPeriod: -5 }, /broadcastPeriod .* got -5/],
      [{ downPeriod: Number.NaN }, /downPeriod .* got NaN/],
      [{ permdownPeriod: Number.POSITIVE_INFINITY }, /permdownPeriod .* got Infinity/],
      [{ callTimeout: 0 }, /callTimeout/],
      [{ batchBytes: -1 }, /batchBytes/],
      [{ batchDelayMs: -1 }, /batchDelayMs to be >= 0, got -1/],
      [{ transport: undefined }, /cluster.transport to be a Transport/],
      [{ transport: {} }, /cluster.transport to be a Transport/],
      [{ nodeId: '' }, /nodeId/],
    ]
    for (const [options, message] of cases) {
      expect(make(options), JSON.stringify(options)).toThrow(
        expect.objectContaining({
          code: 'invalid_argument',
          message: expect.stringMatching(message),
        }),
      )
    }
  })

  it('accepts the tightest valid periods and the defaults', async () => {
    sim = new Sim()
    const tight = make({ broadcastPeriod: 100, downPeriod: 200, permdownPeriod: 201 })()
    const defaults = new Tracker({
      clock: sim.clock,
      cluster: { transport: sim.network.transport('y'), nodeId: 'y' },
    })
    await sim.advance(50)
    expect(tight.nodes().map((n) => n.node)).toEqual(['x', 'y'])
    expect(defaults.nodes().map((n) => n.node)).toEqual(['y', 'x'])
    await tight.close()
    await defaults.close()
  })
})
