/**
 * `npm run bench`: every suite, each figure beside its baseline from the same run. Prints
 * a table and writes it, with a chart, to docs/benchmarks.md and docs/benchmarks.svg.
 *
 * Run one group with `npm run bench -- core` (groups: core, channel, client, cluster).
 */
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { chartSvg } from './chart.js'
import type { BenchRow } from './harness.js'

const suites: Record<string, () => Promise<{ run(): Promise<BenchRow[]> }>> = {
  core: () => import('./core.js'),
  channel: () => import('./channel.js'),
  client: () => import('./client.js'),
  cluster: () => import('./cluster.js'),
}

function format(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US')
  if (value >= 1) return value.toFixed(2)
  return value.toPrecision(3)
}

/** How many times better rollcall is than the baseline (above 1: rollcall wins). */
export function advantage(row: BenchRow): number {
  return row.higherIsBetter ? row.value / row.baseline : row.baseline / row.value
}

function table(rows: BenchRow[]): string {
  const lines = [
    '| group | measure | rollcall | baseline | baseline is | unit | rollcall vs baseline |',
    '| --- | --- | ---: | ---: | --- | --- | ---: |',
  ]
  for (const row of rows) {
    const ratio = `${advantage(row).toFixed(2)}x ${row.higherIsBetter ? 'ops' : 'less'}`
    lines.push(
      `| ${row.group} | ${row.name} | ${format(row.value)} | ${format(row.baseline)} | ` +
        `${row.baselineLabel} | ${row.unit} | ${ratio} |`,
    )
  }
  return lines.join('\n')
}

async function main(): Promise<void> {
  const only = process.argv.slice(2)
  const names = only.length > 0 ? only : Object.keys(suites)
  const rows: BenchRow[] = []
  for (const name of names) {
    const load = suites[name]
    if (!load) throw new Error(`unknown benchmark group "${name}"`)
    process.stdout.write(`running ${name}...\n`)
    rows.push(...(await (await load()).run()))
  }
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`
  const text = table(rows)
  console.log(`\n${text}\n\n(${machine}; ratio above 1 means rollcall does better)`)
  if (only.length === 0) {
    const header =
      '# Benchmarks\n\nPrinted by `npm run bench` on ' +
      `${machine}, ${new Date().toISOString().slice(0, 10)}. ` +
      'Each figure stands beside its baseline, measured in the same run.\n\n' +
      '![rollcall against each baseline](benchmarks.svg)\n\n'
    writeFileSync('docs/benchmarks.md', `${header}${text}\n`)
    writeFileSync('docs/benchmarks.svg', chartSvg(rows, advantage))
    console.log('wrote docs/benchmarks.md and docs/benchmarks.svg')
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
