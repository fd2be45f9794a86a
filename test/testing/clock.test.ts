import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PresenceError } from '../../src/errors.js'
import { ManualClock } from '../../src/testing/clock.js'
import { MemoryNetwork } from '../../src/testing/network.js'

describe('ManualClock time', () => {
  it('starts at 0, or where told', () => {
    expect(new ManualClock().now()).toBe(0)
    expect(new ManualClock({ now: 1_700_000_000_000 }).now()).toBe(1_700_000_000_000)
  })

  it('refuses a start time that is not finite', () => {
    expect(() => new ManualClock({ now: Number.NaN })).toThrow(PresenceError)
  })

  it('moves only when advanced, by exactly the amount asked', async () => {
    const clock = new ManualClock()
    await clock.advance(250)
    await clock.advance(0.5)
    expect(clock.now()).toBe(250.5)
  })

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('rejects advance(%s)', async (ms) => {
    const clock = new ManualClock()
    await expect(clock.advance(ms)).rejects.toMatchObject({ code: 'invalid_argument' })
    expect(clock.now()).toBe(0)
  })
})

describe('ManualClock timers', () => {
  it('fires a timer when its time comes, not before', async () => {
    const clock = new ManualClock()
    const fired: number[] = []
    clock.setTimeout(() => fired.push(clock.now()), 100)

    await clock.advance(99)
    expect(fired).toEqual([])
    await clock.advance(1)
    expect(fired).toEqual([100])
  })

  it('fires in due order, and ties in the order they were set', async () => {
    const clock = new ManualClock()
    const fired: string[] = []
    clock.setTimeout(() => fired.push('c30'), 30)
    clock.setTimeout(() => fired.push('a10'), 10)
    clock.setTimeout(() => fired.push('b10'), 10)
    clock.setTimeout(() => fired.push('d10'), 10)
    clock.setTimeout(() => fired.push('e20'), 20)

    await clock.advance(100)

    expect(fired).toEqual(['a10', 'b10', 'd10', 'e20', 'c30'])
  })

  it('runs each timer at its own due time, then lands on the target', async () => {
    const clock = new ManualClock()
    const times: number[] = []
    for (const ms of [5, 17, 40]) clock.setTimeout(() => times.push(clock.now()), ms)

    await clock.advance(50)

    expect(times).toEqual([5, 17, 40])
    expect(clock.now()).toBe(50)
  })

  it('fires timers set meanwhile when they fall inside the window', async () => {
    const clock = new ManualClock()
    const fired: Array<[string, number]> = []
    clock.setTimeout(() => {
      fired.push(['outer', clock.now()])
      clock.setTimeout(() => fired.push(['inner', clock.now()]), 30)
      clock.setTimeout(() => fired.push(['late', clock.now()]), 80)
    }, 10)

    await clock.advance(50)
    expect(fired).toEqual([
      ['outer', 10],
      ['inner', 40],
    ])
    expect(clock.pending()).toBe(1)

    await clock.advance(40)
    expect(fired.at(-1)).toEqual(['late', 90])
  })

  it('fires a 0 ms timer set by a timer at once, after the ties already set', async () => {
    const clock = new ManualClock()
    const fired: string[] = []
    clock.setTimeout(() => {
      fired.push('first')
      clock.setTimeout(() => fired.push('zero'), 0)
    }, 10)
    clock.setTimeout(() => fired.push('second'), 10)

    await clock.advance(10)

    expect(fired).toEqual(['first', 'second', 'zero'])
  })

  it('drives a periodic timer the way a heartbeat uses it', async () => {
    const clock = new ManualClock()
    const beats: number[] = []
    const beat = () => {
      beats.push(clock.now())
      clock.setTimeout(beat, 1500)
    }
    clock.setTimeout(beat, 1500)

    await clock.advance(6000)

    expect(beats).toEqual([1500, 3000, 4500, 6000])
    expect(clock.pending()).toBe(1)
  })

  it.each([-5, Number.NaN, Number.POSITIVE_INFINITY])('treats a delay of %s as 0', async (ms) => {
    const clock = new ManualClock({ now: 10 })
    let at = -1
    clock.setTimeout(() => {
      at = clock.now()
    }, ms)

    await clock.flush()

    expect(at).toBe(10)
  })
})

describe('ManualClock clearTimeout and pending', () => {
  it('cancels a timer, and counts what is left', async () => {
    const clock = new ManualClock()
    const fired: string[] = []
    const a = clock.setTimeout(() => fired.push('a'), 10)
    clock.setTimeout(() => fired.push('b'), 20)
    expect(clock.pending()).toBe(2)

    clock.clearTimeout(a)
    expect(clock.pending()).toBe(1)
    await clock.advance(30)

    expect(fired).toEqual(['b'])
    expect(clock.pending()).toBe(0)
  })

  it('lets a timer cancel another due at the same instant', async () => {
    const clock = new ManualClock()
    const fired: string[] = []
    let second: unknown
    clock.setTimeout(() => {
      fired.push('first')
      clock.clearTimeout(second)
    }, 10)
    second = clock.setTimeout(() => fired.push('second'), 10)

    await clock.advance(10)

    expect(fired).toEqual(['first'])
  })

  it('ignores handles that fired, were cleared, or are not its own', async () => {
    const clock = new ManualClock()
    const other = new ManualClock()
    const fired: string[] = []
    const done = clock.setTimeout(() => fired.push('done'), 1)
    await clock.advance(1)
    const keep = clock.setTimeout(() => fired.push('keep'), 1)
    other.setTimeout(() => {}, 1)

    for (const handle of [done, undefined, null, 42, 'x', {}, { id: 2 }, { id: 1 }]) {
      clock.clearTimeout(handle)
    }
    clock.clearTimeout(keep)
    clock.clearTimeout(keep)
    const mine = clock.setTimeout(() => fired.push('mine'), 1)
    other.clearTimeout(mine)
    await clock.advance(1)

    expect(fired).toEqual(['done', 'mine'])
  })

  it('reports the next due time', () => {
    const clock = new ManualClock()
    expect(clock.nextAt()).toBeUndefined()
    const t = clock.setTimeout(() => {}, 30)
    clock.setTimeout(() => {}, 70)
    expect(clock.nextAt()).toBe(30)
    clock.clearTimeout(t)
    expect(clock.nextAt()).toBe(70)
  })
})

describe('ManualClock settling between timers', () => {
  it('runs promise follow-ups of a timer before the next timer', async () => {
    const clock = new ManualClock()
    const log: string[] = []
    clock.setTimeout(() => {
      log.push('a')
      void (async () => {
        for (let i = 0; i < 50; i++) await Promise.resolve()
        log.push('a: 50 awaits later')
      })()
    }, 10)
    clock.setTimeout(() => log.push('b'), 10)

    await clock.advance(10)

    expect(log).toEqual(['a', 'a: 50 awaits later', 'b'])
  })

  it('delivers what a timer sends, and the replies to it, before the next timer', async () => {
    const clock = new ManualClock()
    const network = new MemoryNetwork()
    const a = network.transport('a')
    const b = network.transport('b')
    const log: string[] = []
    await b.subscribe('ping', () => {
      log.push(`b got ping at ${clock.now()}`)
      void b.publish('pong', new Uint8Array(1))
    })
    await a.subscribe('pong', () => log.push(`a got pong at ${clock.now()}`))
    clock.setTimeout(() => void a.publish('ping', new Uint8Array(1)), 100)
    clock.setTimeout(() => log.push('next timer'), 100)

    await clock.advance(100)

    expect(log).toEqual(['b got ping at 100', 'a got pong at 100', 'next timer'])
  })

  it('delivers messages sent before advance before the first timer fires', async () => {
    const clock = new ManualClock()
    const network = new MemoryNetwork()
    const a = network.transport('a')
    const log: string[] = []
    await a.subscribe('x', () => log.push('message'))
    clock.setTimeout(() => log.push('timer'), 0)

    void a.publish('x', new Uint8Array(1))
    await clock.flush()

    expect(log).toEqual(['message', 'timer'])
  })

  it('fires timers set by message handlers in the same advance when they fall due', async () => {
    const clock = new ManualClock()
    const network = new MemoryNetwork()
    const a = network.transport('a')
    const fired: number[] = []
    await a.subscribe('x', () => clock.setTimeout(() => fired.push(clock.now()), 5))
    clock.setTimeout(() => void a.publish('x', new Uint8Array(1)), 10)

    await clock.advance(20)

    expect(fired).toEqual([15])
  })

  it('keeps working when a test has installed fake timers', async () => {
    vi.useFakeTimers()
    try {
      const clock = new ManualClock()
      let fired = false
      clock.setTimeout(() => {
        fired = true
      }, 10)
      await clock.advance(10)
      expect(fired).toBe(true)
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('ManualClock flush, next and runAll', () => {
  it('flush fires what is due now, without moving time', async () => {
    const clock = new ManualClock()
    const fired: string[] = []
    clock.setTimeout(() => fired.push('now'), 0)
    clock.setTimeout(() => fired.push('later'), 1)

    await clock.flush()

    expect(fired).toEqual(['now'])
    expect(clock.now()).toBe(0)
  })

  it('next jumps to the next timer and fires everything due then', async () => {
    const clock = new ManualClock()
    const fired: string[] = []
    clock.setTimeout(() => fired.push('a'), 40)
    clock.setTimeout(() => fired.push('b'), 40)
    clock.setTimeout(() => fired.push('c'), 90)

    expect(await clock.next()).toBe(true)
    expect([clock.now(), fired]).toEqual([40, ['a', 'b']])
    expect(await clock.next()).toBe(true)
    expect(await clock.next()).toBe(false)
    expect([clock.now(), fired]).toEqual([90, ['a', 'b', 'c']])
  })

  it('runAll fires a chain of timers until none is left', async () => {
    const clock = new ManualClock()
    const fired: number[] = []
    const step = (n: number) => () => {
      fired.push(clock.now())
      if (n > 0) clock.setTimeout(step(n - 1), 1000)
    }
    clock.setTimeout(step(3), 10)

    await clock.runAll()

    expect(fired).toEqual([10, 1010, 2010, 3010])
    expect(clock.pending()).toBe(0)
  })

  it('runAll gives up on a timer that never stops, with code timeout', async () => {
    const clock = new ManualClock()
    const beat = () => clock.setTimeout(beat, 1000)
    beat()

    const failure = clock.runAll(50)

    await expect(failure).rejects.toMatchObject({ code: 'timeout' })
    await expect(failure).rejects.toThrow(/fired more than 50 timers/)
    expect(clock.pending()).toBe(1)
    expect(clock.now()).toBe(50_000)
  })

  it('advance gives up on a timer rescheduling itself at the same instant', async () => {
    const clock = new ManualClock({ maxTimers: 100 })
    const spin = () => clock.setTimeout(spin, 0)
    spin()

    await expect(clock.advance(1)).rejects.toMatchObject({ code: 'timeout' })
  })
})

describe('ManualClock errors and overlapping calls', () => {
  it('rejects with the error a timer throws, leaving the rest in place', async () => {
    const clock = new ManualClock()
    const fired: string[] = []
    clock.setTimeout(() => fired.push('before'), 5)
    clock.setTimeout(() => {
      throw new Error('boom')
    }, 10)
    clock.setTimeout(() => fired.push('after'), 20)

    await expect(clock.advance(30)).rejects.toThrow('boom')
    expect(clock.now()).toBe(10)
    expect(fired).toEqual(['before'])

    await clock.advance(20)
    expect(fired).toEqual(['before', 'after'])
    expect(clock.now()).toBe(30)
  })

  it('runs overlapping calls one after another', async () => {
    const clock = new ManualClock()
    const fired: number[] = []
    for (const ms of [5, 15, 25]) clock.setTimeout(() => fired.push(clock.now()), ms)

    await Promise.all([clock.advance(10), clock.advance(10), clock.flush()])

    expect(fired).toEqual([5, 15])
    expect(clock.now()).toBe(20)
  })

  it('queues an advance called from inside a timer behind the running one', async () => {
    const clock = new ManualClock()
    const fired: number[] = []
    let nested: Promise<void> | undefined
    clock.setTimeout(() => {
      nested = clock.advance(100)
    }, 10)
    clock.setTimeout(() => fired.push(clock.now()), 50)

    await clock.advance(20)
    expect(clock.now()).toBe(20)
    await nested

    expect(fired).toEqual([50])
    expect(clock.now()).toBe(120)
  })
})

describe('ManualClock determinism (property)', () => {
  const schedule = fc.array(
    fc.record({ delay: fc.integer({ min: 0, max: 500 }), cancel: fc.boolean() }),
    { maxLength: 60 },
  )
  const chunks = fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 10 })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('fires every uncancelled timer once, at its due time, in (due, set order)', async () => {
    await fc.assert(
      fc.asyncProperty(schedule, chunks, async (timers, steps) => {
        const clock = new ManualClock()
        const fired: Array<[number, number]> = []
        const handles = timers.map(({ delay }, i) =>
          clock.setTimeout(() => fired.push([i, clock.now()]), delay),
        )
        for (const [i, { cancel }] of timers.entries()) if (cancel) clock.clearTimeout(handles[i])

        for (const step of steps) await clock.advance(step)
        const total = steps.reduce((sum, step) => sum + step, 0)

        const expected = timers
          .map(({ delay, cancel }, i) => ({ i, delay, cancel }))
          .filter(({ delay, cancel }) => !cancel && delay <= total)
          .sort((x, y) => x.delay - y.delay || x.i - y.i)
          .map(({ i, delay }) => [i, delay])
        expect(fired).toEqual(expected)
        expect(clock.now()).toBe(total)
      }),
      { numRuns: 200 },
    )
  })
})
