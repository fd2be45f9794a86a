/**
 * The soak: a million owner lives (join, update, leave) through one tracker, with topics,
 * names, subscriptions, suspends and TTL expiries churning, on a manual clock. The heap is
 * measured after forced GCs at the start (a fresh tracker, after a warm-up of the same
 * churn on another one), at intervals, and at the end after everyone has left. It must
 * come back to within a few percent of the start: nothing may be kept for owners, names,
 * refs, topics or subscribers that are gone.
 *
 * Run: node --expose-gc --import tsx scripts/soak.ts [cycles] [--cluster]
 * (default 1,000,000 cycles; with --cluster the tracker is node `a` of a two-node cluster
 * on an in-memory network, node `b` replicating everything, and both are measured)
 */
import { availableParallelism } from 'node:os'
import { Churn } from '../bench/soak.js'

/** How far the end may be from the start, as a share of the start. */
const TOLERANCE = 0.03
/** Checkpoints between the start and the end. */
const CHECKPOINTS = 10
const WARM_UP_CYCLES = 100_000

interface Row {
  at: string
  cycles: number
  live: number
  topics: number
  names: number
  heapBytes: number
}

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) {
  console.error('run with node --expose-gc --import tsx scripts/soak.ts [cycles]')
  process.exit(2)
}

function heap(): number {
  for (let i = 0; i < 4; i++) gc!()
  return process.memoryUsage().heapUsed
}

function row(at: string, churn: Churn, from: number): Row {
  const { tracker } = churn
  return {
    at,
    cycles: churn.cycles - from,
    live: churn.live,
    topics: tracker.topics().length,
    names: tracker.names.list().length,
    heapBytes: heap(),
  }
}

function format(rows: Row[], start: number): string {
  const mb = (bytes: number) => (bytes / 1_048_576).toFixed(2)
  const pct = (bytes: number) =>
    `${bytes >= start ? '+' : ''}${(((bytes - start) / start) * 100).toFixed(1)}%`
  const lines = [
    '| at | cycles | owners present | topics | names | heap (MB) | vs start |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const r of rows) {
    const cells = [r.at, r.cycles.toLocaleString('en-US'), r.live, r.topics, r.names]
    lines.push(`| ${cells.join(' | ')} | ${mb(r.heapBytes)} | ${pct(r.heapBytes)} |`)
  }
  return lines.join('\n')
}

async function warmUp(cycles: number, cluster: boolean): Promise<void> {
  const churn = new Churn({ seed: 2, cluster })
  await churn.run(cycles)
  await churn.drain()
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const cluster = args.includes('--cluster')
  const given = args.find((arg) => arg !== '--cluster')
  const cycles = Number(given ?? 1_000_000)
  if (!Number.isSafeInteger(cycles) || cycles < 1) throw new Error(`bad cycle count ${given}`)
  const began = performance.now()
  // The warm-up runs on a tracker of its own, so that the start is a fresh tracker: what
  // a tracker keeps of owners that left, however bounded, shows at the end.
  await warmUp(Math.min(WARM_UP_CYCLES, cycles), cluster)
  const churn = new Churn({ cluster })
  const from = churn.cycles
  const first = row('start (fresh tracker, after warm-up)', churn, from)
  const start = first.heapBytes
  const rows = [first]

  for (let i = 1; i <= CHECKPOINTS; i++) {
    await churn.run(Math.round((cycles * i) / CHECKPOINTS) - (churn.cycles - from))
    rows.push(row(`${i * (100 / CHECKPOINTS)}%`, churn, from))
  }
  await churn.drain()
  const end = row('end (all left)', churn, from)
  rows.push(end)

  const seconds = ((performance.now() - began) / 1000).toFixed(1)
  const drift = (end.heapBytes - start) / start
  const replica = churn.replica
  const replicaEmpty =
    !replica || (replica.topics().length === 0 && replica.names.list().length === 0)
  // A cluster's heartbeats never stop; without one, every timer must have run out.
  const timersDone = cluster || churn.clock.pending() === 0
  const empty = end.topics === 0 && end.names === 0 && replicaEmpty && timersDone
  const ok = Math.abs(drift) <= TOLERANCE && empty
  const count = (n: number) => n.toLocaleString('en-US')
  const runLine =
    `rollcall soak${cluster ? ' (two-node cluster)' : ''}: ${count(cycles)} cycles ` +
    `(after ${count(WARM_UP_CYCLES)} of warm-up)\n` +
    `Node ${process.version}, ${availableParallelism()} CPUs, ${seconds} s`
  const share = `${(drift * 100).toFixed(1)}%`
  const verdict =
    `verdict: ${ok ? 'PASS' : 'FAIL'}: the heap after everyone left is ${share} from the ` +
    `start (tolerance ${TOLERANCE * 100}%)${empty ? '' : '; the tracker is not empty'}`
  console.log(`${runLine}\n`)
  console.log(format(rows, start))
  console.log(`\ntimers pending at the end: ${churn.clock.pending()}\n${verdict}`)
  process.exitCode = ok ? 0 : 1
}

await main()
