/** The printed report of a load run. */
import { availableParallelism } from 'node:os'
import type { MemoryFigures } from './admin.js'
import type { LoadResult } from './load.js'
import type { ProcessFigures } from './loop.js'
import type { Summary, Tally } from './metrics.js'
import { ACTION_KINDS, type ActionKind } from './recorder.js'

const LABELS: Record<ActionKind, string> = {
  join: 'join (ramp)',
  rejoin: 'rejoin',
  resume: 'resume, seat lost',
  vote: 'vote',
  task: 'task',
  reveal: 'reveal',
  reset: 'reset',
  leave: 'leave',
  expiry: 'grace expiry *',
}

const WIDTH = 100
/** Where a wrapped line goes on: under the text after the labels. */
const CONTINUED = ' '.repeat(10)

export function formatReport(result: LoadResult): string {
  const lines = [
    ...header(result),
    '',
    ...traffic(result),
    '',
    ...latency(result),
    '',
    ...resources(result),
    '',
    ...checks(result),
    '',
    `RESULT: ${result.passed ? 'PASS' : 'FAIL'}`,
  ]
  return lines.flatMap((line) => wrap(line)).join('\n')
}

/** Breaks a line longer than {@link WIDTH} at spaces. */
function wrap(line: string): string[] {
  if (line.length <= WIDTH) return [line]
  const out: string[] = []
  let current = ''
  for (const word of line.split(' ')) {
    const next = current === '' ? word : `${current} ${word}`
    if (next.length > WIDTH && current.trim() !== '') {
      out.push(current)
      current = `${CONTINUED}${word}`
    } else {
      current = next
    }
  }
  out.push(current)
  return out
}

function header({ options: o, limits: l, serverPid, loadAverage }: LoadResult): string[] {
  return [
    `machine   ${availableParallelism()} CPUs, node ${process.version}, load average ` +
      `${loadAverage.map((n) => n.toFixed(1)).join(' -> ')} (before -> end of steady phase)`,
    `load      ${int(o.connections)} connections in ${o.rooms} rooms, ${o.seconds} s, ` +
      `target ${o.rate} steps/s, budget ${int(o.actions)} steps, seed ${o.seed}`,
    `server    examples/poker, own process (pid ${serverPid}), 127.0.0.1, grace ${o.graceMs} ms`,
    `limits    ${l.updatesPerSecond} writes/s per owner, burst ${l.burst}, ` +
      `${l.entriesPerOwner} entries per owner, ${l.entriesPerTopic} per room`,
  ]
}

function traffic({ drive, recorder: r, options: o }: LoadResult): string[] {
  const ramp = drive.ramp
  const { start, end } = drive.steady
  const seconds = (end.at - start.at) / 1000
  const frames = end.frames - start.frames
  const mb = (end.bytes - start.bytes) / 1e6
  const flaps = r.flaps
  const back = brief(r.backWithin.summary())
  return [
    `ramp      ${int(ramp.seated)} of ${int(o.connections)} seated in ` +
      `${sec(ramp.end.at - ramp.start.at)} s, ${int(ramp.end.frames - ramp.start.frames)} ` +
      'messages received',
    `steady    ${seconds.toFixed(1)} s: ${int(end.actions - start.actions)} steps ` +
      `(${int((end.actions - start.actions) / seconds)}/s), ${int(frames)} messages received ` +
      `(${int(frames / seconds)}/s, ${(mb / seconds).toFixed(1)} MB/s)`,
    `sockets   ${int(r.connectionsOpened)} opened in all, ${int(r.sent)} frames sent; ` +
      `connect failures ${r.connectFailures}, closed by the server ${r.unexpectedCloses}`,
    `          open ${brief(r.connecting.summary())}; join to joined ${brief(r.joining.summary())}`,
    `steps     ${tally(r.steps)}`,
    `refused   ${tally(r.refused)}`,
    `dropped   ${tally(r.dropped)}`,
    `errors    ${tally(r.strayErrors)} (not tied to a step)`,
    `flaps     within grace ${flaps.within}: ${flaps.resumed} resumed, ${flaps.lostSeat} ` +
      `lost the seat, seen leaving ${flaps.seenLeaving} times`,
    `          reconnect to resumed ${back}`,
    `          beyond grace ${flaps.beyond}: ${flaps.fresh} joined afresh, ` +
      `${flaps.resumedLate} still resumed (expiry late), ${flaps.cutShort} cut short by the end`,
  ]
}

function latency({ recorder: r }: LoadResult): string[] {
  const rows = ACTION_KINDS.map((kind) => row(LABELS[kind], r.everyone.get(kind)?.summary()))
  return [
    'latency (ms): from the action until every other member of the room had seen it',
    `  ${'action'.padEnd(24)}${'n'.padStart(8)}${'p50'.padStart(9)}${'p99'.padStart(9)}` +
      `${'max'.padStart(9)}`,
    ...rows.filter((line) => line !== undefined),
    row('all steps after the ramp', r.everyoneSteady.summary()) ?? '  (no steps)',
    row('one member (each)', r.each.summary()) ?? '',
    '  * from the close plus the grace period until every member saw the leave',
    `  not awaited: ${int(r.excused)} deliveries (that member left or reconnected first)`,
    `  no one left to see it: ${r.noObservers} actions; missing: ${r.missing.total} deliveries`,
  ]
}

function brief(summary: Summary | undefined): string {
  if (!summary) return '-'
  const { p50, p99, max } = summary
  return `p50 ${p50.toFixed(0)} p99 ${p99.toFixed(0)} max ${max.toFixed(0)} ms`
}

function row(label: string, summary: Summary | undefined): string | undefined {
  if (!summary) return undefined
  const ms = (value: number) => value.toFixed(1).padStart(9)
  return (
    `  ${label.padEnd(24)}${int(summary.n).padStart(8)}` +
    `${ms(summary.p50)}${ms(summary.p99)}${ms(summary.max)}`
  )
}

function resources({ memory, server, generator }: LoadResult): string[] {
  const line = (label: string, m: MemoryFigures) =>
    `  ${label.padEnd(8)}${mb(m.heapUsed).padStart(12)}${mb(m.rss).padStart(12)}`
  const logs = Object.entries(server.logs).map(([level, n]) => `${level} ${n}`)
  return [
    `server memory ${'heapUsed'.padStart(8)}${'rss'.padStart(12)}`,
    `${line('before', memory.before)}   (listening, no sockets, forced GC)`,
    `${line('peak', memory.peak)}   (sampled every 100 ms, ramp and steady phase)`,
    `${line('after', memory.after)}   (every socket closed, grace passed, forced GC)`,
    'cpu       ramp and steady phase',
    `  server  ${cpu(server)}`,
    `  clients ${cpu(generator)}`,
    `server log ${logs.length ? logs.join(', ') : 'nothing'}`,
    ...server.firstLogs.map((text) => `          ${text}`),
  ]
}

function checks({ check: c, leftover, recorder }: LoadResult): string[] {
  const mark = (ok: boolean) => (ok ? 'ok ' : 'BAD')
  const stateOk = c.lost + c.invented + c.duplicated + c.wrongMeta === 0
  const missing = recorder.missing.total
  return [
    `check ${mark(stateOk)} ${c.rooms} rooms: ${int(c.listed)} participants listed on the ` +
      `server, ${int(c.seated)} seated connections`,
    `          lost ${c.lost}, invented ${c.invented}, duplicated ${c.duplicated}, ` +
      `wrong name or card ${c.wrongMeta}`,
    `check ${mark(c.viewsDiffering === 0)} ${int(c.views)} PresenceClients compared with ` +
      `tracker.list: ${c.viewsDiffering} differ`,
    `check ${mark(c.serverSockets === c.openSockets)} sockets: ${int(c.serverSockets)} on ` +
      `the server, ${int(c.openSockets)} open here`,
    `check ${mark(missing === 0)} every step seen by every member that stayed: ` +
      `${missing} deliveries missing${missing ? ` (${tally(recorder.missing)})` : ''}`,
    `check ${mark(recorder.flaps.seenLeaving === 0)} resumed flaps seen leaving: ` +
      `${recorder.flaps.seenLeaving}`,
    `check ${mark(leftover.entries + leftover.sockets === 0)} after everyone left: ` +
      `${leftover.entries} entries in ${leftover.topics} topics, ${leftover.sockets} sockets`,
    ...c.problems.map((text) => `  ${text}`),
  ]
}

function cpu(figures: ProcessFigures): string {
  const { p50, p99 } = figures.loopDelay
  return (
    `${figures.cpu.toFixed(2)} of a core; loop delay p50 ${p50.toFixed(1)} ` +
    `p99 ${p99.toFixed(1)} ms; longest stall ${figures.stall.ms.toFixed(0)} ms ` +
    `(${figures.stall.cpuMs.toFixed(0)} on CPU)`
  )
}

function tally(counts: Tally): string {
  const entries = Object.entries(counts.toJSON())
  return entries.length ? entries.map(([name, n]) => `${name} ${int(n)}`).join(', ') : 'none'
}

function int(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

function sec(ms: number): string {
  return (ms / 1000).toFixed(1)
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
