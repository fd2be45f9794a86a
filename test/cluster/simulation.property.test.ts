/**
 * The cluster converges whatever the network does. fast-check draws 3 to 5 nodes and a
 * run of writes on random nodes by random owners, interleaved with loss, duplication,
 * reordering, partitions, heals, restarts (graceful or killed) and the passing of time.
 * Then the faults stop, the network heals and time passes: every node must list the same
 * entries, and they must be exactly what the owners still hold, by a model kept beside
 * the run (nothing an owner holds is lost, nothing is invented).
 *
 * `SIM_RUNS=2000 SIM_OPS=150 npx vitest run test/cluster/simulation.property.test.ts`
 * runs more and longer runs (defaults: 200 runs of up to 80 steps).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PresenceError } from '../../src/errors.js'
import type { Tracker } from '../../src/tracker.js'
import type { Meta } from '../../src/types.js'
import { SIM_PERIODS, Sim } from '../helpers/cluster.js'

const RUNS = Number(process.env.SIM_RUNS ?? 200)
const NODES = ['n0', 'n1', 'n2', 'n3', 'n4']
const OWNERS = ['o0', 'o1', 'o2']
const TOPICS = ['t0', 't1']
const KEYS = ['k0', 'k1', 'k2']

type Op =
  | { op: 'track' | 'update' | 'untrack'; node: number; owner: string; topic: string; key: string }
  | { op: 'untrackAll'; node: number; owner: string }
  | { op: 'faults'; loss: number; duplicate: number; reorder: number }
  | { op: 'partition'; side: boolean[] }
  | { op: 'isolate'; node: number }
  | { op: 'heal' }
  | { op: 'restart'; node: number; graceful: boolean }
  | { op: 'advance'; ms: number }

const node = fc.nat({ max: NODES.length - 1 })
const owner = fc.constantFrom(...OWNERS)
const topic = fc.constantFrom(...TOPICS)
const key = fc.constantFrom(...KEYS)
const rate = fc.constantFrom(0, 0, 0.1, 0.3, 0.6, 0.9)

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constantFrom('track' as const, 'update' as const, 'untrack' as const),
      node,
      owner,
      topic,
      key,
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('untrackAll' as const), node, owner }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('faults' as const),
      loss: rate,
      duplicate: rate,
      reorder: rate,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('partition' as const),
      side: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('isolate' as const), node }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('heal' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('restart' as const), node, graceful: fc.boolean() }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 100, max: 8_000 })),
    }),
  },
)

/** What each node's owners hold, by the model: node -> "owner|topic|key" -> meta. */
type Model = Map<string, Map<string, Meta>>

class Run {
  readonly sim: Sim
  readonly ids: string[]
  readonly model: Model = new Map()
  #version = 0

  constructor(count: number, seed: number) {
    this.sim = new Sim({ network: { seed } })
    this.ids = NODES.slice(0, count)
    let state = seed
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648
      return state / 2_147_483_648
    }
    for (const id of this.ids) {
      this.sim.add(id, { cluster: { random } })
      this.model.set(id, new Map())
    }
  }

  tracker(index: number): Tracker<Meta> {
    return this.sim.tracker(this.ids[index % this.ids.length]!)
  }

  async apply(op: Op): Promise<void> {
    const { sim } = this
    switch (op.op) {
      case 'track':
      case 'update':
      case 'untrack':
        return this.#write(op)
      case 'untrackAll': {
        const id = this.ids[op.node % this.ids.length]!
        this.tracker(op.node).untrackAll(op.owner)
        const held = this.model.get(id)!
        for (const slot of [...held.keys()]) if (slot.startsWith(`${op.owner}|`)) held.delete(slot)
        return
      }
      case 'faults':
        return sim.network.setFaults({
          loss: op.loss,
          duplicate: op.duplicate,
          reorder: op.reorder,
        })
      case 'partition': {
        const a = this.ids.filter((_, i) => op.side[i])
        const b = this.ids.filter((_, i) => !op.side[i])
        if (a.length > 0 && b.length > 0) sim.network.partition(a, b)
        return
      }
      case 'isolate':
        return sim.network.isolate(this.ids[op.node % this.ids.length]!)
      case 'heal':
        return sim.network.heal()
      case 'restart':
        return this.#restart(this.ids[op.node % this.ids.length]!, op.graceful)
      case 'advance':
        return sim.advance(op.ms)
    }
  }

  #write(op: Extract<Op, { op: 'track' | 'update' | 'untrack' }>): void {
    const id = this.ids[op.node % this.ids.length]!
    const tracker = this.tracker(op.node)
    const held = this.model.get(id)!
    const slot = `${op.owner}|${op.topic}|${op.key}`
    const meta = { v: ++this.#version }
    if (op.op === 'untrack') {
      tracker.untrack(op.owner, op.topic, op.key)
      held.delete(slot)
      return
    }
    const expected =
      op.op === 'track'
        ? held.has(slot)
          ? 'already_tracked'
          : undefined
        : held.has(slot)
          ? undefined
          : 'nopresence'
    try {
      if (op.op === 'track') tracker.track(op.owner, op.topic, op.key, meta)
      else tracker.update(op.owner, op.topic, op.key, meta)
    } catch (error) {
      expect(error).toBeInstanceOf(PresenceError)
      expect((error as PresenceError).code).toBe(expected)
      return
    }
    expect(expected).toBeUndefined()
    held.set(slot, meta)
  }

  /**
   * Closes (or kills, as SIGKILL would) a node and starts it again with the same id: a
   * new incarnation, holding nothing.
   */
  async #restart(id: string, graceful: boolean): Promise<void> {
    const old = this.sim.tracker(id)
    if (!graceful) this.sim.network.crash(id)
    await old.close()
    this.sim.add(id)
    this.model.set(id, new Map())
  }

  /**
   * Stops every fault and lets the cluster repair itself: a few broadcast periods, after
   * downPeriod, since a late message of a dead incarnation that overtook its successor's
   * hello is only set right once that dead incarnation is found down.
   */
  async quiesce(): Promise<void> {
    this.sim.network.setFaults({ loss: 0, duplicate: 0, reorder: 0 })
    this.sim.network.heal()
    await this.sim.advance(SIM_PERIODS.downPeriod + 4 * SIM_PERIODS.broadcastPeriod)
  }

  expected(): string[] {
    const rows: string[] = []
    for (const [id, held] of this.model) {
      for (const [slot, meta] of held) {
        const [owner, topic, key] = slot.split('|')
        rows.push(row(topic!, key!, id, owner!, meta))
      }
    }
    return rows.sort()
  }

  async close(): Promise<void> {
    await this.sim.closeAll()
  }
}

function row(topic: string, key: string, node: string, owner: string, meta: unknown): string {
  return `${topic} ${key} ${node} ${owner} ${JSON.stringify(meta)}`
}

/** Every entry a tracker shows, as sorted rows, read through list() and get(). */
function shown(tracker: Tracker<Meta>): string[] {
  const rows: string[] = []
  for (const topic of tracker.topics()) {
    const list = tracker.list(topic)
    for (const key of Object.keys(list)) {
      const infos = tracker.get(topic, key)
      expect(infos).toHaveLength(list[key]!.metas.length)
      for (const info of infos) rows.push(row(topic, key, info.node, info.owner, info.meta))
    }
    expect(tracker.count(topic)).toBe(
      Object.values(list).reduce((sum, presence) => sum + presence.metas.length, 0),
    )
  }
  return rows.sort()
}

describe('simulation', () => {
  it('every node converges on exactly what the owners hold, whatever the network did', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 5 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(opArb, { minLength: 1, maxLength: Number(process.env.SIM_OPS ?? 80) }),
        async (count, seed, ops) => {
          const run = new Run(count, seed)
          try {
            await run.sim.advance(SIM_PERIODS.broadcastPeriod)
            for (const op of ops) await run.apply(op)
            await run.quiesce()
            const expected = run.expected()
            for (const id of run.ids) {
              expect(shown(run.sim.tracker(id)), `node ${id}`).toEqual(expected)
            }
          } finally {
            await run.close()
          }
        },
      ),
      { numRuns: RUNS },
    )
  }, 120_000)
})
