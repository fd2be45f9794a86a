/**
 * Shape checks for what `PresenceClient.receive` is given. Each check returns why the
 * value is unusable, or `undefined` when it is fine; fields are read as own properties
 * only, so nothing inherited (or polluted into `Object.prototype`) is ever taken as data.
 */
import { describe } from '../errors.js'

type Dict = Record<string, unknown>

/** Why a value cannot be used, or `undefined` when it can. */
type Problem = string | undefined

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An own property of `object`, never an inherited one. */
export function own(object: Dict, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined
}

/** `describe`, with a word for a missing value. */
function got(value: unknown): string {
  return value === undefined ? 'got nothing' : `got ${describe(value)}`
}

function checkMeta(meta: unknown, path: string): Problem {
  if (!isDict(meta)) return `${path} should be an object, ${got(meta)}`
  const ref = own(meta, 'phx_ref')
  if (typeof ref !== 'string') return `${path}.phx_ref should be a string, ${got(ref)}`
  const prev = own(meta, 'phx_ref_prev')
  if (prev !== undefined && typeof prev !== 'string') {
    return `${path}.phx_ref_prev should be a string when present, ${got(prev)}`
  }
}

function checkPresence(presence: unknown, path: string): Problem {
  if (!isDict(presence)) return `${path} should be { metas: [...] }, ${got(presence)}`
  const metas = own(presence, 'metas')
  if (!Array.isArray(metas)) return `${path}.metas should be an array, ${got(metas)}`
  // A key without metas is absent: kept, it would be a presence of nobody.
  if (metas.length === 0) return `${path}.metas should hold at least one meta, got none`
  for (let i = 0; i < metas.length; i++) {
    const problem = checkMeta(metas[i], `${path}.metas[${i}]`)
    if (problem) return problem
  }
}

/** Checks a `{ [key]: { metas: [...] } }` object found at `path`. */
function checkState(state: unknown, path: string): Problem {
  if (!isDict(state)) return `${path} should be an object of presences by key, ${got(state)}`
  for (const key of Object.keys(state)) {
    const problem = checkPresence(state[key], `${path}[${describe(key)}]`)
    if (problem) return problem
  }
}

function checkDiff(diff: unknown): Problem {
  if (!isDict(diff)) return `payload should be { joins, leaves }, ${got(diff)}`
  const joins = checkState(own(diff, 'joins'), 'payload.joins')
  return joins ?? checkState(own(diff, 'leaves'), 'payload.leaves')
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function checkCount(count: unknown): Problem {
  if (!isDict(count) || !isCount(own(count, 'keys')) || !isCount(own(count, 'entries'))) {
    return `payload should be { keys, entries } of non-negative integers, ${got(count)}`
  }
}

const payloadChecks: Record<string, (payload: unknown) => Problem> = {
  presence_state: (payload) => checkState(payload, 'payload'),
  presence_diff: checkDiff,
  presence_count: checkCount,
}

/**
 * Why `message` is not a presence message rollcall's client can apply, or `undefined`
 * when it is one.
 */
export function checkMessage(message: unknown): Problem {
  if (!isDict(message)) return `expected a message { event, payload }, ${got(message)}`
  const event = own(message, 'event')
  const known = typeof event === 'string' && Object.hasOwn(payloadChecks, event)
  const check = known ? payloadChecks[event] : undefined
  if (!check) {
    return `expected event "presence_state", "presence_diff" or "presence_count", ${got(event)}`
  }
  const problem = check(own(message, 'payload'))
  return problem && `${event} dropped: ${problem}`
}
