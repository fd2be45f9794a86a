/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown

/**
 * Where every layer of rollcall reads the time and sets its timers. Pass one as the
 * `clock` option to run heartbeats, grace periods and TTLs on fake time in tests
 * (see `ManualClock` in `rollcall/testing`).
 */
export interface Clock {
  /** Milliseconds, monotonic enough for timeouts. */
  now(): number
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Cancels a timer; a handle that already fired or was cleared is ignored. */
  clearTimeout(handle: TimerHandle): void
}

/** The real clock: `Date.now()` and the global timers, unref'd where the host allows. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = globalThis.setTimeout(fn, ms) as unknown as { unref?: () => void }
    // A presence timer alone must not keep a Node process alive at shutdown.
    handle.unref?.()
    return handle
  },
  clearTimeout(handle) {
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0])
  },
}
