/**
 * How changes travel: a burst is a few messages, not one per change; a delta or a
 * transfer larger than `batchBytes` is split into messages within it; a quiet node's
 * heartbeat carries only its clock.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { decode } from '../../src/cluster/codec.js'
import { expectConverged, keysIn, Sim } from '../helpers/cluster.js'

let sim: Sim

afterEach(async () => {
  await sim.closeAll()
})

/** Every message published on `channel` from now on: its type and size. */
function tap(channel: string): Array<{ type: string; bytes: number }> {
  const seen: Array<{ type: string; bytes: number }> = []
  void sim.network.transport('tap').subscribe(channel, (data) => {
    const result = decode(data)
    seen.push({ type: result.ok ? result.envelope.type : 'undecodable', bytes: data.length })
  })
  return seen
}

describe('bursts', () => {
  it('10,000 joins go out as a few messages, and all of them arrive', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    sim.network.resetStats()

    for (let i = 0; i < 10_000; i++) a!.track(`s${i % 100}`, 'room', `user${i}`, { i })
    await sim.settle()

    const all = sim.network.stats.channels.get('all')!
    expect(all.published).toBeGreaterThanOrEqual(1)
    expect(all.published).toBeLessThanOrEqual(8)
    expect(b!.count('room')).toBe(10_000)
    expect(b!.get('room', 'user9999')).toMatchObject([{ meta: { i: 9999 } }])
  })

  it('changes within one batch delay share one message', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    const messages = tap('all')

    a!.track('s1', 'room', 'alice', {})
    await sim.advance(2)
    a!.update('s1', 'room', 'alice', { status: 'away' })
    a!.track('s2', 'room', 'bob', {})
    await sim.advance(2)
    a!.untrack('s2', 'room', 'bob')
    await sim.settle()

    expect(messages.map((m) => m.type)).toEqual(['delta'])
    expect(b!.list('room').alice!.metas).toMatchObject([{ status: 'away' }])
    expect(keysIn(b!, 'room')).toEqual(['alice'])
  })

  it('a heartbeat carries the clock only, however many entries the node holds', async () => {
    sim = new Sim()
    const [a] = await sim.start('a', 'b')
    for (let i = 0; i < 1000; i++) a!.track('s', 'room', `user${i}`, { i })
    await sim.settle()
    const messages = tap('all')
    await sim.advance(3_000)
    const beats = messages.filter((m) => m.type === 'heartbeat')
    expect(beats.length).toBeGreaterThanOrEqual(4)
    for (const beat of beats) expect(beat.bytes).toBeLessThan(64)
    expect(messages.map((m) => m.type)).not.toContain('delta')
  })
})

describe('batchBytes', () => {
  const batchBytes = 16 * 1024
  // Unique text per entry: the codec would send a repeated string once per message.
  const meta = (i: number) => ({ i, text: `${i.toString(36)}-`.repeat(50) })

  it('splits a large delta into messages within batchBytes, losing nothing', async () => {
    sim = new Sim({ cluster: { batchBytes } })
    const [a, b] = await sim.start('a', 'b')
    const messages = tap('all')

    for (let i = 0; i < 1000; i++) a!.track('s', 'room', `user${i}`, meta(i))
    for (let i = 0; i < 1000; i += 3) a!.untrack('s', 'room', `user${i}`)
    await sim.settle()

    const deltas = messages.filter((m) => m.type === 'delta')
    const total = deltas.reduce((sum, m) => sum + m.bytes, 0)
    expect(total).toBeGreaterThan(5 * batchBytes)
    expect(deltas.length).toBeGreaterThanOrEqual(Math.ceil(total / batchBytes))
    for (const message of deltas) expect(message.bytes).toBeLessThanOrEqual(batchBytes)
    expect(b!.count('room')).toBe(666)
    expectConverged([a!, b!])
  })

  it('chunks the full-state transfer to a new node the same way', async () => {
    sim = new Sim({ cluster: { batchBytes } })
    const [a] = await sim.start('a')
    for (let i = 0; i < 1000; i++) a!.track('s', 'room', `user${i}`, meta(i))
    await sim.settle()

    const messages = tap('node:c')
    const c = sim.add('c').tracker
    await sim.settle()

    const transfers = messages.filter((m) => m.type === 'transfer')
    expect(transfers.length).toBeGreaterThan(10)
    for (const message of transfers) expect(message.bytes).toBeLessThanOrEqual(batchBytes)
    expect(c.count('room')).toBe(1000)
    expectConverged([a!, c])
  })

  it('a single entry larger than batchBytes still goes, alone in its message', async () => {
    sim = new Sim({ cluster: { batchBytes: 1024 } })
    const [a, b] = await sim.start('a', 'b')
    a!.track('s', 'room', 'big', { text: 'x'.repeat(4000) })
    a!.track('s', 'room', 'small', {})
    await sim.settle()
    expect(keysIn(b!, 'room')).toEqual(['big', 'small'])
  })
})
