/**
 * The cluster converges whatever the network does. fast-check draws 3 to 5 nodes and a
 * run of writes on random nodes by random owners, interleaved with loss, duplication,
 * reordering, partitions, heals, restarts (graceful or killed) and the passing of time.
 * Then the faults stop, the network heals and time passes: every node must list the same
 * entries, and they must be exactly what the owners still hold, by a model kept beside
 * the run (nothing an owner holds is lost, nothing is invented).
 *
 * `SIM_RUNS=2000 SIM_OPS=150 npx vitest run test/cluster/simulation.property.test.ts`
 * runs more and longer runs (defaults: 200 runs of up to 80 steps); `SIM_SEED` and
 * `SIM_PATH` replay a failure that fast-check reported.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PresenceError } from '../../src/errors.js'
import type { Tracker } from '../../src/tracker.js'
import type { Meta } from '../../src/types.js'
import { SIM_PERIODS, Sim } from '../helpers/cluster.js'

const RUNS = Number(process.env.SIM_RUNS ?? 200)
const MAX_OPS = Number(process.env.SIM_OPS ?? 80)

/** `SIM_SEED` and `SIM_PATH`, as fast-check prints them for a failure, replay that run. */
function replay(): { seed?: number; path?: string } {
  const { SIM_SEED, SIM_PATH } = process.env
  return SIM_SEED === undefined ? {} : { seed: Number(SIM_SEED), path: SIM_PATH }
}
const NODES = ['n0', 'n1', 'n2', 'n3', 'n4']
const OWNERS = ['o0', 'o1']
const TOPICS = ['t0', 't1']
const KEYS = ['k0', 'k1']
const STANDALONE = '\u0000name:'

type Op =
  | { op: 'track' | 'update' | 'untrack'; node: number; owner: string; topic: string; key: string }
  | { op: 'untrackAll'; node: number; owner: string }
  | { op: 'churn'; node: number; owner: string; topic: string; key: string; times: number }
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

const arbs = {
  write: fc.record({
    op: fc.constantFrom('track' as const, 'update' as const, 'untrack' as const),
    node,
    owner,
    topic,
    key,
  }),
  untrackAll: fc.record({ op: fc.constant('untrackAll' as const), node, owner }),
  churn: fc.record({
    op: fc.constant('churn' as const),
    node,
    owner,
    topic,
    key,
    times: fc.integer({ min: 2, max: 5 }),
  }),
  faults: fc.record({
    op: fc.constant('faults' as const),
    loss: rate,
    duplicate: rate,
    reorder: rate,
  }),
  partition: fc.record({
    op: fc.constant('partition' as const),
    side: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
  }),
  isolate: fc.record({ op: fc.constant('isolate' as const), node }),
  heal: fc.record({ op: fc.constant('heal' as const) }),
  restart: fc.record({ op: fc.constant('restart' as const), node, graceful: fc.boolean() }),
  advance: fc.record({
    op: fc.constant('advance' as const),
    ms: fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 20 }) },
      { weight: 1, arbitrary: fc.integer({ min: 100, max: 8_000 }) },
    ),
  }),
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: arbs.write },
  { weight: 2, arbitrary: arbs.untrackAll },
  { weight: 2, arbitrary: arbs.churn },
  { weight: 2, arbitrary: arbs.faults },
  { weight: 2, arbitrary: arbs.partition },
  { weight: 1, arbitrary: arbs.isolate },
  { weight: 2, arbitrary: arbs.heal },
  { weight: 2, arbitrary: arbs.restart },
  { weight: 6, arbitrary: arbs.advance },
)

type NameOp =
  | { op: 'create'; node: number; name: string }
  | { op: 'register'; node: number; owner: string; name: string }
  | { op: 'unregister'; node: number; name: string }
  | {
      op: 'through'
      kind: 'track' | 'update' | 'bump' | 'untrack'
      node: number
      name: string
      topic: string
    }

const shared = fc.constantFrom('g0', 'g1')
const alias = fc.constantFrom('a0', 'a1')
const kind = fc.constantFrom(
  ...(['track', 'track', 'update', 'update', 'update', 'bump', 'bump', 'untrack'] as const),
)

/** Fewer heals and more isolation than {@link opArb}: holders go down, names move. */
const nameOpArb: fc.Arbitrary<Op | NameOp> = fc.oneof(
  { weight: 4, arbitrary: arbs.write },
  { weight: 1, arbitrary: arbs.faults },
  { weight: 3, arbitrary: arbs.partition },
  { weight: 3, arbitrary: arbs.isolate },
  { weight: 1, arbitrary: arbs.heal },
  { weight: 1, arbitrary: arbs.restart },
  { weight: 5, arbitrary: arbs.advance },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('create' as const), node, name: shared }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('register' as const), node, owner, name: alias }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('unregister' as const),
      node,
      name: fc.oneof(shared, alias),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({ op: fc.constant('through' as const), kind, node, name: shared, topic }),
  },
)

/** Codes a call through a name may end with, besides success, under these faults. */
const CALL_CODES = new Set([
  'nopresence',
  'already_tracked',
  'unknown_name',
  'stale',
  'timeout',
  'nodedown',
  'closed',
])

/** Codes a synchronous name operation may throw here. */
const NAME_CODES = new Set(['name_taken', 'nopresence', 'unknown_name', 'remote_name'])

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
      case 'churn':
        return this.#churn(op)
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
   * One slot changed again and again, each change in its own delta: a node that misses
   * one of them must not keep the version it replaced.
   */
  async #churn(op: Extract<Op, { op: 'churn' }>): Promise<void> {
    const slot = { node: op.node, owner: op.owner, topic: op.topic, key: op.key }
    await this.apply({ op: 'track', ...slot })
    for (let i = 0; i < op.times; i++) {
      await this.sim.advance(6)
      await this.apply({ op: i === op.times - 1 ? 'untrack' : 'update', ...slot })
    }
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

/** A {@link Run} that also creates, registers and writes through names. */
class NamesRun extends Run {
  /** Every call through a name, settled or not: none may be left hanging. */
  readonly calls: Array<{ op: NameOp; outcome?: 'ok' | string }> = []
  #meta = 0

  /** Both shared names exist from the start, each with an entry, on different nodes. */
  async seed(): Promise<void> {
    for (const [i, name] of ['g0', 'g1'].entries()) {
      this.tracker(i).names.create(name)
      this.tracker(i).track({ name }, 't0', 'shared', { w: 0 })
    }
    await this.sim.settle()
  }

  override async apply(op: Op | NameOp): Promise<void> {
    if (op.op === 'create' || op.op === 'register' || op.op === 'unregister') {
      this.#sync(op)
    } else if (op.op === 'through') {
      this.#through(op)
    } else {
      await super.apply(op)
    }
  }

  #sync(op: Extract<NameOp, { op: 'create' | 'register' | 'unregister' }>): void {
    const names = this.tracker(op.node).names
    try {
      if (op.op === 'create') names.create(op.name)
      else if (op.op === 'register') names.register(op.name, op.owner)
      else names.unregister(op.name)
    } catch (error) {
      expect(error).toBeInstanceOf(PresenceError)
      expect(NAME_CODES).toContain((error as PresenceError).code)
    }
  }

  #through(op: Extract<NameOp, { op: 'through' }>): void {
    const names = this.tracker(op.node).names
    const meta = { w: ++this.#meta }
    const record: { op: NameOp; outcome?: string } = { op }
    this.calls.push(record)
    const key = 'shared'
    const call =
      op.kind === 'track'
        ? names.track(op.name, op.topic, key, meta)
        : op.kind === 'update'
          ? names.update(op.name, op.topic, key, meta)
          : op.kind === 'bump'
            ? names.update(op.name, op.topic, key, (prev) => ({ ...prev, n: 1 }))
            : names.untrack(op.name, op.topic, key)
    call.then(
      () => {
        record.outcome = 'ok'
      },
      (error: unknown) => {
        record.outcome = error instanceof PresenceError ? error.code : String(error)
      },
    )
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
        fc.array(opArb, { minLength: 1, maxLength: MAX_OPS, size: 'max' }),
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
      { numRuns: RUNS, ...replay() },
    )
  }, 120_000)

  it('names settle on one holder everywhere, and no call through a name hangs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 5 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(nameOpArb, { minLength: 1, maxLength: MAX_OPS, size: 'max' }),
        async (count, seed, ops) => {
          const run = new NamesRun(count, seed)
          try {
            await run.sim.advance(SIM_PERIODS.broadcastPeriod)
            await run.seed()
            for (const op of ops) await run.apply(op)
            await run.quiesce()
            for (const call of run.calls) {
              expect(call.outcome, JSON.stringify(call.op)).toBeDefined()
              if (call.outcome !== 'ok') expect(CALL_CODES).toContain(call.outcome)
            }
            expectNamesSettled(run)
          } finally {
            await run.close()
          }
        },
      ),
      { numRuns: Math.ceil(RUNS / 2), ...replay() },
    )
  }, 120_000)
})

/**
 * Every node shows the same entries and names; ordinary owners' entries are what the
 * model says; each name is held once, by a live node, and a standalone name's entries
 * live on its holder only, an alias's owner still holds an entry there.
 */
function expectNamesSettled(run: Run): void {
  const trackers = run.ids.map((id) => run.sim.tracker(id))
  const rows = shown(trackers[0]!)
  const names = trackers[0]!.names.list().sort()
  const where = names.map((name) => trackers[0]!.names.lookup(name))
  for (const tracker of trackers) {
    expect(shown(tracker), `node ${tracker.nodeId}`).toEqual(rows)
    expect(tracker.names.list().sort()).toEqual(names)
    expect(names.map((name) => tracker.names.lookup(name))).toEqual(where)
  }
  const ordinary = rows.filter((line) => !line.includes(STANDALONE))
  expect(ordinary).toEqual(run.expected())

  for (const [i, name] of names.entries()) {
    const holder = where[i]!
    expect(run.ids).toContain(holder.node)
    const held = trackers[0]!
      .topics()
      .flatMap((topic) =>
        Object.keys(trackers[0]!.list(topic)).flatMap((key) => trackers[0]!.get(topic, key)),
      )
    if (holder.owner === `${STANDALONE}${name}`) continue
    expect(held.some((e) => e.node === holder.node && e.owner === holder.owner)).toBe(true)
  }
  for (const tracker of trackers.slice(0, 1)) {
    for (const topic of tracker.topics()) {
      for (const key of Object.keys(tracker.list(topic))) {
        for (const entry of tracker.get(topic, key)) {
          if (!entry.owner.startsWith(STANDALONE)) continue
          const name = entry.owner.slice(STANDALONE.length)
          expect(tracker.names.lookup(name), `${topic} ${key}`).toEqual({
            node: entry.node,
            owner: entry.owner,
          })
        }
      }
    }
  }
}
