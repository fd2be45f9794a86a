/**
 * The state is a delta CRDT: whatever order its sections arrive in, however often, a
 * receiver ends with the same set, and that set is the union of what each replica holds.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  Entry,
  Registration,
  type ReplicatedSet,
  type SectionData,
  STANDALONE_PREFIX,
} from '../../src/state/index.js'
import { seededRandom } from '../../src/testing/random.js'
import { describeElement, type M, makeSet, picture } from './helpers.js'

type LocalOp =
  | { kind: 'add'; topic: number; key: number; owner: number; n: number }
  | { kind: 'remove'; pick: number }
  | { kind: 'replace'; pick: number; n: number }
  | { kind: 'register'; name: number; standalone: boolean }
  | { kind: 'unregister'; pick: number }
  | { kind: 'take' }
  | { kind: 'since'; k: number }

const TOPICS = ['room:1', 'room:2', '__proto__']
const KEYS = ['alice', 'bob', 'constructor']
const OWNERS = ['s1', 's2', `${STANDALONE_PREFIX}game`]

const opArb: fc.Arbitrary<LocalOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      topic: fc.nat(TOPICS.length - 1),
      key: fc.nat(KEYS.length - 1),
      owner: fc.nat(OWNERS.length - 1),
      n: fc.nat(9),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), n: fc.nat(9) }),
  },
  fc.record({ kind: fc.constant('register' as const), name: fc.nat(2), standalone: fc.boolean() }),
  fc.record({ kind: fc.constant('unregister' as const), pick: fc.nat() }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('take' as const) }) },
  fc.record({ kind: fc.constant('since' as const), k: fc.nat() }),
)

const replicaArb = fc.record({
  ops: fc.array(opArb, { maxLength: 40 }),
  maxRemovalLog: fc.constantFrom(1, 2, 4, 65_536),
})

interface Produced {
  set: ReplicatedSet<M>
  /** takeDelta() results, in the order they were taken; together they cover everything. */
  deltas: SectionData<M>[]
  /** deltaSince(k) and whole states: redundant, they may arrive any time. */
  extras: SectionData<M>[]
}

function ownElements(set: ReplicatedSet<M>) {
  const all = [...(set.elementsOf(set.self.id) ?? [])]
  return {
    entries: all.filter((element): element is Entry<M> => element instanceof Entry),
    names: all.filter((element): element is Registration => element instanceof Registration),
  }
}

function apply(set: ReplicatedSet<M>, op: LocalOp, produced: Produced): void {
  const { entries, names } = ownElements(set)
  switch (op.kind) {
    case 'add':
      set.add(TOPICS[op.topic]!, KEYS[op.key]!, OWNERS[op.owner]!, { n: op.n })
      return
    case 'remove':
      if (entries.length > 0) set.remove(entries[op.pick % entries.length]!)
      return
    case 'replace':
      if (entries.length > 0) set.replace(entries[op.pick % entries.length]!, { n: op.n })
      return
    case 'register': {
      const name = `name-${op.name}`
      const release = op.standalone ? { topic: 'room:1', graceMs: op.name * 100 } : undefined
      set.register(
        name,
        op.standalone ? `${STANDALONE_PREFIX}${name}` : 's1',
        op.standalone,
        release,
      )
      return
    }
    case 'unregister':
      if (names.length > 0) set.remove(names[op.pick % names.length]!)
      return
    case 'take': {
      const delta = set.takeDelta()
      if (delta) produced.deltas.push(delta)
      return
    }
    case 'since': {
      const section = set.deltaSince(op.k % (set.clock + 1))
      if (section) produced.extras.push(section)
    }
  }
}

/** Runs each replica's ops; the last takeDelta flushes what is left. */
function produce(replicas: Array<{ ops: LocalOp[]; maxRemovalLog: number }>): Produced[] {
  return replicas.map(({ ops, maxRemovalLog }, index) => {
    const set = makeSet(`node-${index}`, { maxRemovalLog })
    const produced: Produced = { set, deltas: [], extras: [] }
    for (const op of ops) apply(set, op, produced)
    const last = set.takeDelta()
    if (last) produced.deltas.push(last)
    return produced
  })
}

/** What a receiver must end with: every replica's own live elements, indexed. */
function expectedPicture(produced: Produced[]) {
  const receiver = makeSet('expected')
  const elements: string[] = []
  const topics = new Map<
    string,
    { size: number; standalone: number; keys: Map<string, string[]> }
  >()
  const names = new Map<string, string[]>()
  for (const { set } of produced) {
    for (const element of set.elementsOf(set.self.id) ?? []) {
      elements.push(describeElement(element))
      if (element instanceof Registration) {
        names.set(element.name, [...(names.get(element.name) ?? []), describeElement(element)])
        continue
      }
      const view = topics.get(element.topic) ?? { size: 0, standalone: 0, keys: new Map() }
      view.size++
      if (element.owner.startsWith(STANDALONE_PREFIX)) view.standalone++
      view.keys.set(element.key, [...(view.keys.get(element.key) ?? []), element.ref])
      topics.set(element.topic, view)
    }
  }
  const sortBy = <T>(pairs: Array<[string, T]>) =>
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return {
    receiver,
    picture: {
      elements: elements.sort(),
      topics: sortBy([...topics.entries()]).map(([topic, view]) => ({
        topic,
        size: view.size,
        standalone: view.standalone,
        keys: sortBy([...view.keys.entries()]).map(([key, refs]) => [key, refs.sort()]),
      })),
      names: sortBy([...names.entries()]).map(([name, list]) => [name, list.sort()]),
    },
  }
}

function shuffle<T>(items: T[], next: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** `items` shuffled, with about a third of them delivered a second time somewhere. */
function scramble<T>(items: T[], seed: number): T[] {
  const next = seededRandom(seed)
  const duplicates = items.filter(() => next() < 0.35)
  return shuffle([...items, ...duplicates], next)
}

function mergeAll(sections: SectionData<M>[], name = 'receiver'): ReplicatedSet<M> {
  const receiver = makeSet(name)
  for (const section of sections) receiver.merge(section)
  return receiver
}

function versions(set: ReplicatedSet<M>, produced: Produced[]) {
  return produced.map(({ set: source }) => [
    set.versionOf(source.self.id),
    set.hasGap(source.self.id),
  ])
}

const replicasArb = fc.array(replicaArb, { minLength: 2, maxLength: 3 })
const RUNS = { numRuns: 300 }

describe('merge of deltas', () => {
  it('in order, gives the union of every replica own live elements', () => {
    fc.assert(
      fc.property(replicasArb, (replicas) => {
        const produced = produce(replicas)
        const inOrder = mergeAll(produced.flatMap((p) => p.deltas))
        expect(picture(inOrder)).toEqual(expectedPicture(produced).picture)
        expect(versions(inOrder, produced)).toEqual(produced.map(({ set }) => [set.clock, false]))
      }),
      RUNS,
    )
  })

  it('in any order, with duplicates and deltaSince(k) extras, gives the same state', () => {
    fc.assert(
      fc.property(replicasArb, fc.integer(), (replicas, seed) => {
        const produced = produce(replicas)
        const all = produced.flatMap((p) => [...p.deltas, ...p.extras])
        const scrambled = mergeAll(scramble(all, seed))
        const inOrder = mergeAll(produced.flatMap((p) => p.deltas))
        expect(picture(scrambled)).toEqual(picture(inOrder))
        expect(picture(scrambled)).toEqual(expectedPicture(produced).picture)
        expect(versions(scrambled, produced)).toEqual(versions(inOrder, produced))
      }),
      RUNS,
    )
  })

  it('any subset, merged in two different orders, gives the same state (commutative)', () => {
    fc.assert(
      fc.property(replicasArb, fc.integer(), fc.integer(), (replicas, seedA, seedB) => {
        const produced = produce(replicas)
        const all = produced.flatMap((p) => [...p.deltas, ...p.extras])
        const pick = seededRandom(seedA)
        const subset = all.filter(() => pick() < 0.5)
        const a = mergeAll(shuffle(subset, seededRandom(seedA ^ 0x55)))
        const b = mergeAll(scramble(subset, seedB))
        expect(picture(a)).toEqual(picture(b))
        expect(versions(a, produced)).toEqual(versions(b, produced))
      }),
      RUNS,
    )
  })

  it('whole states (deltaSince(0)) in any order, mixed with old deltas, converge', () => {
    fc.assert(
      fc.property(replicasArb, fc.integer(), (replicas, seed) => {
        const produced = produce(replicas)
        const wholes = produced.flatMap(({ set }) => {
          const whole = set.deltaSince(0)
          return whole ? [whole] : []
        })
        const next = seededRandom(seed)
        const stale = produced.flatMap((p) => p.deltas).filter(() => next() < 0.5)
        const receiver = mergeAll(scramble([...wholes, ...stale], seed))
        expect(picture(receiver)).toEqual(expectedPicture(produced).picture)
        expect(picture(mergeAll(shuffle(wholes, next)))).toEqual(picture(receiver))
      }),
      RUNS,
    )
  })

  it('a receiver that reports changes ends with joins minus leaves equal to its state', () => {
    fc.assert(
      fc.property(replicasArb, fc.integer(), (replicas, seed) => {
        const produced = produce(replicas)
        const all = produced.flatMap((p) => [...p.deltas, ...p.extras])
        const receiver = makeSet('receiver')
        const visible = new Set<string>()
        for (const section of scramble(all, seed)) {
          const changes = receiver.merge(section)
          for (const entry of changes.left) expect(visible.delete(entry.ref)).toBe(true)
          for (const entry of changes.joined) {
            expect(visible.has(entry.ref)).toBe(false)
            visible.add(entry.ref)
          }
        }
        const listed = [...receiver.topics()].flatMap((topic) =>
          [...receiver.topic(topic)!.keys.values()].flat().map((entry) => entry.ref),
        )
        expect([...visible].sort()).toEqual(listed.sort())
      }),
      RUNS,
    )
  })
})
