/**
 * The tracker core beside a plain-Map baseline: track, update, list, untrackAll, and the
 * heap each entry takes.
 *
 * The baseline is the least a presence store must do, with none of rollcall's guarantees:
 * a `Map<topic, Map<key, Map<owner, meta>>>` whose metas are stored as they go out (the
 * caller's meta spread with a `phx_ref` from a counter), plus a `Map<owner, [topic, key][]>`
 * so that an owner's entries can be found without scanning every topic. It refuses a second
 * track and an update of an absent entry, as rollcall does, but validates nothing, copies
 * and freezes nothing, emits no event and keeps no replicated state. Both sides get the same
 * inputs in the same order, and each `list` builds the Phoenix `{ [key]: { metas } }` shape.
 */
import { Tracker } from '../src/tracker.js'
import { type BenchRow, bytesPer, opsPerSecond } from './harness.js'

type Meta = { status: string; online_at: number }
type Wire = Meta & { phx_ref: string }

/** The baseline: what a presence store without rollcall's guarantees would do. */
class MapStore {
  readonly topics = new Map<string, Map<string, Map<string, Wire>>>()
  readonly owners = new Map<string, Array<[string, string]>>()
  #ref = 0

  track(owner: string, topic: string, key: string, meta: Meta): string {
    let keys = this.topics.get(topic)
    if (!keys) {
      keys = new Map()
      this.topics.set(topic, keys)
    }
    let owners = keys.get(key)
    if (!owners) {
      owners = new Map()
      keys.set(key, owners)
    }
    if (owners.has(owner)) throw new Error('already tracked')
    const phx_ref = String(++this.#ref)
    owners.set(owner, { ...meta, phx_ref })
    const owned = this.owners.get(owner)
    if (owned) owned.push([topic, key])
    else this.owners.set(owner, [[topic, key]])
    return phx_ref
  }

  update(owner: string, topic: string, key: string, meta: Meta): string {
    const owners = this.topics.get(topic)?.get(key)
    if (!owners?.has(owner)) throw new Error('nopresence')
    const phx_ref = String(++this.#ref)
    owners.set(owner, { ...meta, phx_ref })
    return phx_ref
  }

  untrackAll(owner: string): void {
    for (const [topic, key] of this.owners.get(owner) ?? []) {
      const keys = this.topics.get(topic)!
      const owners = keys.get(key)!
      owners.delete(owner)
      if (owners.size === 0) keys.delete(key)
      if (keys.size === 0) this.topics.delete(topic)
    }
    this.owners.delete(owner)
  }

  list(topic: string): Record<string, { metas: Wire[] }> {
    const state = Object.create(null) as Record<string, { metas: Wire[] }>
    for (const [key, owners] of this.topics.get(topic) ?? []) {
      state[key] = { metas: [...owners.values()] }
    }
    return state
  }
}

const BASELINE = 'Map<topic, Map<key, Map<owner, meta>>>'
const TOPICS = 100

const meta = (i: number): Meta => ({ status: i % 3 === 0 ? 'away' : 'online', online_at: i })

function row(name: string, value: number, baseline: number, unit = 'ops/s'): BenchRow {
  const higherIsBetter = unit === 'ops/s'
  return { group: 'core', name, value, baseline, baselineLabel: BASELINE, unit, higherIsBetter }
}

/**
 * Measures both sides in turns, three times each, and keeps each side's best: the load of
 * a shared machine changes from second to second, and turns spread it over both sides.
 */
function rates(name: string, measure: (side: () => MapStore | Tracker<Meta>) => number) {
  const sides = [() => new Tracker<Meta>(), () => new MapStore()] as const
  const best = [0, 0]
  for (let round = 0; round < 3; round++) {
    sides.forEach((side, index) => {
      best[index] = Math.max(best[index]!, measure(side))
    })
  }
  return row(name, best[0]!, best[1]!)
}

/** Tracks into a fresh store every 10,000 entries, so the heap stays flat. */
function trackRate(make: () => MapStore | Tracker<Meta>): number {
  let store = make()
  return opsPerSecond((i) => {
    const n = i % 10_000
    if (n === 0) store = make()
    store.track(`socket-${n}`, `room:${n % TOPICS}`, `user-${n}`, meta(i))
  })
}

/** Updates entries of a store of 10,000, round robin. */
function updateRate(store: MapStore | Tracker<Meta>): number {
  for (let n = 0; n < 10_000; n++) {
    store.track(`socket-${n}`, `room:${n % TOPICS}`, `user-${n}`, meta(n))
  }
  return opsPerSecond((i) => {
    const n = i % 10_000
    store.update(`socket-${n}`, `room:${n % TOPICS}`, `user-${n}`, meta(i))
  })
}

/** Lists a topic of `size` entries (two tabs per user), among other topics. */
function listRate(store: MapStore | Tracker<Meta>, size: number): number {
  for (let n = 0; n < size; n++) store.track(`socket-${n}`, 'room:big', `user-${n >> 1}`, meta(n))
  for (let n = 0; n < 1000; n++) store.track(`socket-${n}`, `room:${n % TOPICS}`, 'x', meta(n))
  let sink = 0
  const rate = opsPerSecond(
    () => {
      sink += Object.keys(store.list('room:big')).length
    },
    300,
    size > 1000 ? 1 : 100,
  )
  if (sink === 0) throw new Error('list returned nothing')
  return rate
}

/**
 * untrackAll of owners holding 10 entries each (a user in 10 rooms), among 5,000 such
 * owners: the rate of removing them all.
 */
function untrackAllRate(make: () => MapStore | Tracker<Meta>): number {
  const owners = 5000
  const store = make()
  for (let o = 0; o < owners; o++) {
    for (let t = 0; t < 10; t++) {
      store.track(`socket-${o}`, `room:${(o + t) % TOPICS}`, `user-${o}`, meta(o))
    }
  }
  const start = performance.now()
  for (let o = 0; o < owners; o++) store.untrackAll(`socket-${o}`)
  const rate = (owners * 1000) / (performance.now() - start)
  if (store instanceof Tracker ? store.topics().length > 0 : store.topics.size > 0) {
    throw new Error('untrackAll left entries behind')
  }
  return rate
}

/** Heap per entry of a store holding `count` entries in 1,000 topics, one owner each. */
function bytesPerEntry(make: () => MapStore | Tracker<Meta>, count: number): number {
  return bytesPer(count, (n) => {
    const store = make()
    for (let i = 0; i < n; i++) {
      store.track(`socket-${i}`, `room:${i % 1000}`, `user-${i}`, meta(i))
    }
    return store
  })
}

/** Runs the core benchmarks: rollcall's figure beside the Map baseline's, from this run. */
export async function run(): Promise<BenchRow[]> {
  return [
    rates('track', trackRate),
    rates('update', (make) => updateRate(make())),
    rates('list, topic of 10 entries', (make) => listRate(make(), 10)),
    rates('list, topic of 10,000 entries', (make) => listRate(make(), 10_000)),
    // Phoenix.Tracker lists a topic of 100,000 in about 160 ms on this kind of machine.
    rates('list, topic of 100,000 entries', (make) => listRate(make(), 100_000)),
    rates('untrackAll, owner of 10 entries', untrackAllRate),
    row(
      'memory, 100,000 entries',
      bytesPerEntry(() => new Tracker<Meta>(), 100_000),
      bytesPerEntry(() => new MapStore(), 100_000),
      'bytes/entry',
    ),
  ]
}
