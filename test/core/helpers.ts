/**
 * Shared helpers of the core tests: a tracker on a manual clock, a recorder of every event
 * it emits, and a snapshot of everything it shows, so that a test can assert that a call
 * which threw changed nothing.
 */
import { expect } from 'vitest'
import { PresenceError, type PresenceErrorCode } from '../../src/errors.js'
import type { LogLevel, Meta, TrackerOptions } from '../../src/index.js'
import { ManualClock } from '../../src/testing/index.js'
import { Tracker } from '../../src/tracker.js'

export type TestMeta = Meta

/** One emitted event, as a listener received it. */
export interface Recorded {
  event: string
  payload: Record<string, unknown>
}

/** One call of the logger. */
export interface LogCall {
  level: LogLevel
  message: string
  data: object | undefined
}

const EVENTS = ['join', 'leave', 'update', 'diff', 'name_conflict'] as const

/** A tracker on a manual clock, with every event and log call recorded. */
export function setup(options: TrackerOptions = {}) {
  const clock = new ManualClock()
  const logs: LogCall[] = []
  const tracker = new Tracker<TestMeta>({
    clock,
    logger: (level, message, data) => logs.push({ level, message, data }),
    ...options,
  })
  const events = record(tracker)
  return { clock, tracker, events, logs }
}

/** Records every event of `tracker` into the returned array, in order. */
export function record(tracker: Tracker<TestMeta>): Recorded[] {
  const events: Recorded[] = []
  for (const event of EVENTS) {
    tracker.on(event, (payload: object) => {
      events.push({ event, payload: payload as Record<string, unknown> })
    })
  }
  return events
}

/** Everything a tracker shows, as plain JSON: topics, and each topic's list and counts. */
export function snapshot(tracker: Tracker<TestMeta>): unknown {
  const topics = [...tracker.topics()].sort()
  return JSON.parse(
    JSON.stringify(
      topics.map((topic) => ({
        topic,
        list: sortedList(tracker.list(topic)),
        count: tracker.count(topic),
        keys: tracker.countKeys(topic),
      })),
    ),
  )
}

function sortedList(state: Record<string, { metas: object[] }>): unknown {
  return Object.keys(state)
    .sort()
    .map((key) => [key, state[key]!.metas])
}

/** Asserts that `fn` throws a PresenceError of `code` whose message matches `message`. */
export function expectError(
  fn: () => unknown,
  code: PresenceErrorCode,
  message?: RegExp,
): PresenceError {
  let caught: unknown
  try {
    fn()
  } catch (error) {
    caught = error
  }
  expect(caught, `expected a PresenceError "${code}"`).toBeInstanceOf(PresenceError)
  const error = caught as PresenceError
  expect(error.code).toBe(code)
  if (message) expect(error.message).toMatch(message)
  return error
}

/** As {@link expectError}, for a call that returns a promise. */
export async function expectRejection(
  promise: Promise<unknown>,
  code: PresenceErrorCode,
  message?: RegExp,
): Promise<PresenceError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(caught, `expected a rejection with "${code}"`).toBeInstanceOf(PresenceError)
  const error = caught as PresenceError
  expect(error.code).toBe(code)
  if (message) expect(error.message).toMatch(message)
  return error
}

/** The refs of a key's metas in a list. */
export function refsOf(state: Record<string, { metas: { phx_ref: string }[] }>, key: string) {
  return (state[key]?.metas ?? []).map((meta) => meta.phx_ref)
}

/** Asserts that nothing on `Object.prototype` was added or changed. */
export function expectCleanPrototype(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_NAMES)
  const probe = {} as Record<string, unknown>
  expect(probe.status).toBeUndefined()
  expect(probe.metas).toBeUndefined()
  expect(probe.phx_ref).toBeUndefined()
}

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort()
