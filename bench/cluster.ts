/**
 * The cluster: how soon a join on one node shows on another over Redis, beside Redis
 * pub/sub itself; what a heartbeat costs on the wire beside a full-state transfer; what a
 * full-state transfer costs per entry beside the `presence_state` JSON of the same room;
 * and how many messages a burst of joins takes.
 *
 * The latency runs on the real clock over the local Redis (`REDIS_URL`, default
 * 127.0.0.1:6379) with default settings; the byte and message counts run on a
 * `ManualClock` and `MemoryNetwork`, whose counters see every message.
 */
import { Redis } from 'ioredis'
import { ManualClock, MemoryNetwork } from '../src/testing/index.js'
import { Tracker } from '../src/tracker.js'
import { RedisTransport } from '../src/transports/redis.js'
import { type BenchRow, percentile } from './harness.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const JOINS = 500
const BURST = 10_000

type RoomMeta = { status: string; online_at: number }

function prefix(): string {
  return `rollcall-bench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
}

// ---- latency over Redis ----------------------------------------------------------------

/** Something that times one message end to end, `n` times over. */
interface Probe {
  measure(n: number): Promise<number[]>
  close(): Promise<void>
}

/** Milliseconds from `track` on one node to the `join` event on another. */
async function joinProbe(): Promise<Probe> {
  const name = prefix()
  const make = (nodeId: string) =>
    new Tracker<RoomMeta>({
      cluster: { transport: new RedisTransport({ url: REDIS_URL, prefix: name }), nodeId },
    })
  const a = make('bench-a')
  const b = make('bench-b')
  await Promise.all([a.ready(), b.ready()])
  const waiting = new Map<string, () => void>()
  b.on('join', ({ key }) => waiting.get(key)?.())
  let next = 0

  const measure = async (n: number) => {
    const times: number[] = []
    for (let i = 0; i < n; i++) {
      const key = `user-${next++}`
      const arrived = new Promise<void>((resolve) => waiting.set(key, resolve))
      const start = performance.now()
      a.track('socket', 'room:1', key, { status: 'online', online_at: next })
      await arrived
      times.push(performance.now() - start)
      waiting.delete(key)
    }
    return times
  }
  const close = async () => {
    await Promise.all([a.close(), b.close()])
  }
  return { measure, close }
}

/** Milliseconds from a raw ioredis publish to its message on another connection. */
async function rawProbe(): Promise<Probe> {
  const channel = `${prefix()}:raw`
  const publisher = new Redis(REDIS_URL)
  const subscriber = new Redis(REDIS_URL)
  await subscriber.subscribe(channel)
  let arrived: (() => void) | undefined
  subscriber.on('messageBuffer', () => arrived?.())
  const payload = Buffer.alloc(60, 1)

  const measure = async (n: number) => {
    const times: number[] = []
    for (let i = 0; i < n; i++) {
      const message = new Promise<void>((resolve) => {
        arrived = resolve
      })
      const start = performance.now()
      await publisher.publish(channel, payload)
      await message
      times.push(performance.now() - start)
    }
    return times
  }
  const close = async () => {
    await Promise.all([publisher.quit(), subscriber.quit()])
  }
  return { measure, close }
}

async function latencyRows(): Promise<BenchRow[]> {
  const [joins, raw] = await Promise.all([joinProbe(), rawProbe()])
  await joins.measure(20) // warm up
  await raw.measure(20)
  // In turns, so that a burst of load on a shared machine hits both sides alike.
  const times = { joins: [] as number[], raw: [] as number[] }
  for (let round = 0; round < 10; round++) {
    times.joins.push(...(await joins.measure(JOINS / 10)))
    times.raw.push(...(await raw.measure(JOINS / 10)))
  }
  await Promise.all([joins.close(), raw.close()])
  return [50, 99].map((p) => ({
    group: 'cluster',
    name: `join visible on another node over Redis, p${p} of ${JOINS}`,
    value: percentile(times.joins, p),
    baseline: percentile(times.raw, p),
    baselineLabel: 'raw Redis pub/sub',
    unit: 'ms',
    higherIsBetter: false,
  }))
}

// ---- bytes and messages on a MemoryNetwork ---------------------------------------------

interface Wire {
  clock: ManualClock
  network: MemoryNetwork
  make(nodeId: string): Tracker<RoomMeta>
}

function memoryWire(): Wire {
  const clock = new ManualClock()
  const network = new MemoryNetwork({ clock })
  const make = (nodeId: string) =>
    new Tracker<RoomMeta>({
      clock,
      cluster: { transport: network.transport(nodeId), nodeId, random: () => 0.5 },
    })
  return { clock, network, make }
}

/** `count` users in rooms of 100, as a chat app would hold them. */
function fill(tracker: Tracker<RoomMeta>, count: number): void {
  for (let i = 0; i < count; i++) {
    const meta = { status: 'online', online_at: 1.7e12 + i }
    tracker.track(`socket-${i}`, `room:${Math.floor(i / 100)}`, `user-${i}`, meta)
  }
}

/** Bytes of one heartbeat and of one full-state transfer, with `count` entries held. */
async function wireCosts(count: number) {
  const { clock, network, make } = memoryWire()
  const a = make('a')
  fill(a, count)
  await clock.advance(2_000)

  network.resetStats()
  await clock.advance(15_000)
  const all = network.stats.channels.get('all')!
  const heartbeat = all.publishedBytes / all.published

  network.resetStats()
  const b = make('b')
  await clock.advance(10)
  const transfer = network.stats.channels.get('node:b')!.publishedBytes
  if (b.count('room:0') !== Math.min(count, 100)) throw new Error('the transfer did not arrive')

  let json = 0
  for (const topic of a.topics()) json += JSON.stringify(a.list(topic)).length
  await Promise.all([a.close(), b.close()])
  return { heartbeat, transfer, json }
}

async function wireRows(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  for (const count of [1_000, 100_000]) {
    const { heartbeat, transfer, json } = await wireCosts(count)
    const entries = count.toLocaleString('en-US')
    rows.push({
      group: 'cluster',
      name: `heartbeat on the wire, ${entries} entries held`,
      value: heartbeat,
      baseline: transfer,
      baselineLabel: 'full state',
      unit: 'bytes',
      higherIsBetter: false,
    })
    rows.push({
      group: 'cluster',
      name: `full-state transfer per entry, ${entries} entries`,
      value: transfer / count,
      baseline: json / count,
      baselineLabel: 'presence_state JSON',
      unit: 'bytes/entry',
      higherIsBetter: false,
    })
  }
  return rows
}

/** Messages that carry a burst of joins made at once on one node. */
async function burstRow(): Promise<BenchRow> {
  const { clock, network, make } = memoryWire()
  const a = make('a')
  const b = make('b')
  await clock.advance(2_000)
  network.resetStats()
  fill(a, BURST)
  await clock.advance(10)
  if (b.count('room:0') !== 100) throw new Error('the burst did not arrive')
  const messages = network.stats.channels.get('all')!.published
  await Promise.all([a.close(), b.close()])
  return {
    group: 'cluster',
    name: `burst of ${BURST.toLocaleString('en-US')} joins`,
    value: messages,
    baseline: BURST,
    baselineLabel: 'one message per join',
    unit: 'messages',
    higherIsBetter: false,
  }
}

/** Runs the cluster benchmarks; the latency rows need a reachable Redis. */
export async function run(): Promise<BenchRow[]> {
  return [...(await latencyRows()), ...(await wireRows()), await burstRow()]
}
