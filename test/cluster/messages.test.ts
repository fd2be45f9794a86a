/**
 * What comes off the network is never trusted: malformed, foreign-version, unsigned or
 * forged messages are dropped and logged, never thrown and never merged; nodes that do
 * not share the secret do not merge each other; a second live node with the same id is
 * reported.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { type Envelope, encode, PROTOCOL_VERSION } from '../../src/cluster/codec.js'
import type { MemoryTransport } from '../../src/testing/index.js'
import { expectCleanPrototype } from '../core/helpers.js'
import { expectConverged, keysIn, logsMatching, Sim, type SimNode } from '../helpers/cluster.js'

let sim: Sim
let thrown: unknown[]

afterEach(async () => {
  await sim.closeAll()
  expect(thrown).toEqual([])
})

function newSim(): Sim {
  thrown = []
  return new Sim({ network: { onError: (error) => thrown.push(error) } })
}

const GOOD_ENTRY = [1, 'room', 'mallory', 'o1', { v: 1 }, 0]

function delta(entries: unknown[], extra: Partial<Record<string, unknown>> = {}) {
  return { from: 0, to: 1, extra: [], entries, names: [], ...extra }
}

function envelope(type: string, body: unknown, fields: Partial<Envelope> = {}): Envelope {
  return { v: PROTOCOL_VERSION, from: 'evil', inc: 'i1', type, body, ...fields }
}

/** Publishes raw bytes on the cluster's broadcast channel, as any process could. */
async function inject(evil: MemoryTransport, bytes: Uint8Array): Promise<void> {
  await evil.publish('all', bytes)
  await sim.settle()
}

function warnings(node: SimNode, pattern: RegExp) {
  return logsMatching(node, 'warn', pattern)
}

function expectNothingMerged(node: SimNode): void {
  expect(keysIn(node.tracker, 'room')).toEqual([])
  expect(node.tracker.topics()).toEqual([])
  expect(node.tracker.names.list()).toEqual([])
  expect(logsMatching(node, 'error', /./)).toEqual([])
}

describe('undecodable messages', () => {
  it('bytes that are not a message are dropped, with the reason logged', async () => {
    sim = newSim()
    await sim.start('a')
    const evil = sim.network.transport('evil')
    const a = sim.node('a')
    const valid = encode(envelope('delta', delta([GOOD_ENTRY])))
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(), /truncated/],
      [new Uint8Array([1, 2, 3]), /bad magic byte/],
      [valid.slice(0, valid.length - 3), /truncated|bytes after/],
      [Uint8Array.from([...valid, 0]), /1 bytes after the body/],
      [new Uint8Array(5000).fill(0xc7), /./],
    ]
    for (const [bytes, reason] of cases) {
      a.logs.length = 0
      await inject(evil, bytes)
      const dropped = warnings(a, /dropped a cluster message/)
      expect(dropped, String(reason)).toHaveLength(1)
      expect(String(dropped[0]!.data?.reason)).toMatch(reason)
    }
    expectNothingMerged(a)
    expect(a.tracker.nodes()).toHaveLength(1)
  })

  it('a version other than its own and the one before is refused', async () => {
    sim = newSim()
    await sim.start('a')
    const evil = sim.network.transport('evil')
    const a = sim.node('a')
    for (const v of [PROTOCOL_VERSION + 1, 0, 99]) {
      a.logs.length = 0
      await inject(evil, encode(envelope('delta', delta([GOOD_ENTRY]), { v })))
      const [dropped] = warnings(a, /dropped a cluster message/)
      expect(String(dropped?.data?.reason)).toMatch(`unsupported protocol version ${v}`)
    }
    expectNothingMerged(a)
  })

  it('the control: the same delta, well formed, is merged', async () => {
    sim = newSim()
    await sim.start('a')
    await inject(sim.network.transport('evil'), encode(envelope('delta', delta([GOOD_ENTRY]))))
    expect(sim.tracker('a').get('room', 'mallory')).toMatchObject([
      { node: 'evil', owner: 'o1', meta: { v: 1 } },
    ])
  })
})

describe('well-formed envelopes with bad bodies', () => {
  const bigMeta = { text: 'x'.repeat(9000) }
  const bad: Array<[string, string, unknown]> = [
    ['a body that is not an object', 'delta', 'nonsense'],
    ['a backwards range', 'delta', delta([GOOD_ENTRY], { from: 2, to: 1 })],
    ['an entry outside its range', 'delta', delta([[5, 'room', 'k', 'o', {}, 0]])],
    ['an empty topic', 'delta', delta([[1, '', 'k', 'o', {}, 0]])],
    ['a meta holding phx_ref', 'delta', delta([[1, 'room', 'k', 'o', { phx_ref: 'x' }, 0]])],
    ['a meta over maxMetaBytes', 'delta', delta([[1, 'room', 'k', 'o', bigMeta, 0]])],
    ['a meta that is an array', 'transfer', delta([[1, 'room', 'k', 'o', [1], 0]])],
    ['one good entry beside a bad one', 'delta', delta([GOOD_ENTRY, [1, 'room', 'k']])],
    ['a name that is not standalone or not', 'delta', delta([], { names: [[1, 'n', 'o', 1]] })],
    ['a negative heartbeat clock', 'heartbeat', { clock: -1 }],
    ['a hello without a clock', 'hello', {}],
    ['a transfer request since a string', 'transfer_req', { since: 'x' }],
    ['a goodbye without names', 'goodbye', { to: null }],
    ['a call with an unknown op', 'call', { id: 1, call: { op: 'drop', target: { name: 'n' } } }],
    ['a reply without ok', 'reply', { id: 1 }],
  ]

  for (const [label, type, body] of bad) {
    it(`drops ${label}, logs it, merges nothing`, async () => {
      sim = newSim()
      await sim.start('a')
      const a = sim.node('a')
      await inject(sim.network.transport('evil'), encode(envelope(type, body)))
      expect(warnings(a, /dropped a malformed cluster message/)).toMatchObject([
        { data: { node: 'evil', reason: expect.any(String) } },
      ])
      expectNothingMerged(a)
    })
  }

  it('drops a message of an unknown type, saying so', async () => {
    sim = newSim()
    await sim.start('a')
    const a = sim.node('a')
    await inject(sim.network.transport('evil'), encode(envelope('takeover_all', {})))
    expect(warnings(a, /unknown type/)).toMatchObject([{ data: { type: 'takeover_all' } }])
    expectNothingMerged(a)
  })

  it('keys that could reach Object.prototype are plain data', async () => {
    sim = newSim()
    await sim.start('a')
    const entries = [[1, 'room', '__proto__', 'o', { constructor: 'x' }, 0]]
    await inject(sim.network.transport('evil'), encode(envelope('delta', delta(entries))))
    expect(keysIn(sim.tracker('a'), 'room')).toEqual(['__proto__'])
    expectCleanPrototype()
  })
})

describe('signed clusters', () => {
  it('with a secret, unsigned, forged and tampered messages are dropped', async () => {
    sim = newSim()
    sim.add('a', { cluster: { secret: 's3cret' } })
    await sim.settle()
    const a = sim.node('a')
    const evil = sim.network.transport('evil')
    const body = delta([GOOD_ENTRY])
    const signed = encode(envelope('delta', body), 's3cret')
    const tampered = signed.slice()
    tampered[10] = tampered[10]! ^ 1
    const cases: Array<[Uint8Array, RegExp]> = [
      [encode(envelope('delta', body)), /unsigned message/],
      [encode(envelope('delta', body), 'guess'), /bad signature/],
      [tampered, /bad signature/],
      [signed.slice(0, signed.length - 20), /truncated|bad signature/],
    ]
    for (const [bytes, reason] of cases) {
      a.logs.length = 0
      await inject(evil, bytes)
      const [dropped] = warnings(a, /dropped a cluster message/)
      expect(String(dropped?.data?.reason)).toMatch(reason)
    }
    expectNothingMerged(a)

    await inject(evil, signed)
    expect(keysIn(a.tracker, 'room')).toEqual(['mallory'])
  })

  it('nodes with different secrets, or none, never merge each other', async () => {
    sim = newSim()
    const a = sim.add('a', { cluster: { secret: 'one' } })
    const b = sim.add('b', { cluster: { secret: new TextEncoder().encode('one') } })
    const c = sim.add('c', { cluster: { secret: 'two' } })
    const d = sim.add('d')
    for (const [i, node] of [a, b, c, d].entries()) node.tracker.track('s', 'room', `u${i}`, {})
    await sim.advance(3_000)

    expectConverged([a.tracker, b.tracker])
    expect(keysIn(a.tracker, 'room')).toEqual(['u0', 'u1'])
    expect(keysIn(c.tracker, 'room')).toEqual(['u2'])
    expect(keysIn(d.tracker, 'room')).toEqual(['u3'])
    expect(a.tracker.nodes().map((n) => n.node)).toEqual(['a', 'b'])
    expect(c.tracker.nodes()).toHaveLength(1)

    const reasons = (node: SimNode) =>
      warnings(node, /dropped a cluster message/).map((call) => String(call.data?.reason))
    expect(reasons(c)).toContainEqual(expect.stringMatching(/bad signature/))
    expect(reasons(c)).toContainEqual(expect.stringMatching(/unsigned message/))
    expect(reasons(d)).toContainEqual(expect.stringMatching(/this node has no secret/))
    expect(reasons(a)).toContainEqual(expect.stringMatching(/unsigned message/))
  })
})

describe('duplicate node ids', () => {
  it('two live trackers with one nodeId both log duplicate_node, once each', async () => {
    sim = newSim()
    const first = sim.add('a')
    const other = sim.add('b')
    await sim.settle()
    const second = sim.add('a')
    await sim.advance(3_000)
    for (const node of [first, second]) {
      const calls = warnings(node, /^duplicate_node/)
      expect(calls).toHaveLength(1)
      expect(calls[0]!.data).toMatchObject({ node: 'a', incarnation: expect.any(String) })
    }
    expect(warnings(other, /^duplicate_node/)).toEqual([])
    await first.tracker.close()
  })
})
