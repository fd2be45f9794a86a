/**
 * The load generator at a tiny size: the demo server in its own process, 40 sockets in
 * 4 rooms for about 2 s. Asserts that the run's checks pass and that the figures exist;
 * never how fast anything was.
 */
import { describe, expect, it } from 'vitest'
import { runLoad } from '../../scripts/load/load.js'
import { LOAD_DEFAULTS } from '../../scripts/load/options.js'
import { formatReport } from '../../scripts/load/report.js'

describe('npm run load, tiny', () => {
  it('keeps every room on the server equal to what the connections hold and show', async () => {
    const result = await runLoad({
      ...LOAD_DEFAULTS,
      connections: 40,
      rooms: 4,
      seconds: 2,
      rate: 40,
      actions: 400,
      graceMs: 500,
      roundMs: 800,
      connectRate: 400,
    })

    expect(result.check.problems).toEqual([])
    expect(result.check.passed).toBe(true)
    expect(result.check.seated).toBe(result.check.listed)
    expect(result.check.views).toBeGreaterThan(0)
    expect(result.recorder.missing.total).toBe(0)
    expect(result.recorder.flaps.seenLeaving).toBe(0)
    expect(result.leftover).toEqual({ sockets: 0, topics: 0, entries: 0 })
    expect(result.passed).toBe(true)

    expect(result.drive.ramp.seated).toBe(40)
    expect(result.recorder.actions).toBeGreaterThan(0)
    const steady = result.recorder.everyoneSteady.summary()
    const each = result.recorder.each.summary()
    for (const summary of [steady, each]) {
      expect(summary?.n).toBeGreaterThan(0)
      expect([summary?.p50, summary?.p99, summary?.max].every(Number.isFinite)).toBe(true)
    }
    expect(result.memory.before.heapUsed).toBeGreaterThan(0)
    expect(result.memory.peak.rss).toBeGreaterThan(0)
    expect(result.memory.after.heapUsed).toBeGreaterThan(0)
    expect(formatReport(result)).toContain('RESULT: PASS')
  }, 90_000)
})
