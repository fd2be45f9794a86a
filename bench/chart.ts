import type { BenchRow } from './harness.js'

const ROW_HEIGHT = 26
const LABEL_WIDTH = 540
const BAR_WIDTH = 420

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/**
 * A horizontal bar chart on a log scale: each row's advantage over its baseline (1x is
 * the baseline; right of it, rollcall does better).
 */
export function chartSvg(rows: BenchRow[], advantage: (row: BenchRow) => number): string {
  const maxLog = Math.max(1, ...rows.map((row) => Math.abs(Math.log10(advantage(row)))))
  const center = LABEL_WIDTH + BAR_WIDTH / 2
  const scale = BAR_WIDTH / 2 / maxLog
  const height = rows.length * ROW_HEIGHT + 60
  const width = LABEL_WIDTH + BAR_WIDTH + 120
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="600">rollcall vs baseline ` +
      `(log scale; right of the line: rollcall better)</text>`,
  ]
  rows.forEach((row, index) => {
    const y = 40 + index * ROW_HEIGHT
    const ratio = advantage(row)
    const length = Math.log10(ratio) * scale
    const x = length >= 0 ? center : center + length
    const color = ratio >= 1 ? '#2f855a' : '#c53030'
    const label = escapeXml(`${row.group}: ${row.name} (vs ${row.baselineLabel})`)
    parts.push(
      `<text x="10" y="${y + 15}">${label}</text>`,
      `<rect x="${x.toFixed(1)}" y="${y + 4}" width="${Math.max(1, Math.abs(length)).toFixed(1)}" ` +
        `height="16" fill="${color}"/>`,
      `<text x="${center + Math.max(0, length) + 6}" y="${y + 15}">${ratio.toFixed(2)}x</text>`,
    )
  })
  parts.push(
    `<line x1="${center}" y1="32" x2="${center}" y2="${height - 10}" stroke="#333"/>`,
    '</svg>',
  )
  return `${parts.join('\n')}\n`
}
