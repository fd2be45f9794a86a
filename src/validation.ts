import { describe, PresenceError, type PresenceErrorFields } from './errors.js'

import { STANDALONE_PREFIX } from './state/set.js'

/** @internal Throws `invalid_argument` unless `value` is a non-empty string within `max`. */
export function checkId(
  what: 'topic' | 'key' | 'owner' | 'name' | 'nodeId',
  value: unknown,
  max: number,
  fields: PresenceErrorFields = {},
): string {
  if (typeof value === 'string' && value.length > 0 && value.length <= max) return value
  const got = describe(value)
  const expected = `a non-empty string of at most ${max} characters`
  throw new PresenceError(
    'invalid_argument',
    `Expected ${what} to be ${expected}, got ${got}.`,
    fields,
  )
}

/** @internal As {@link checkId}, and the reserved standalone prefix is refused. */
export function checkOwnerId(value: unknown, max: number, fields: PresenceErrorFields): string {
  const owner = checkId('owner', value, max, fields)
  if (owner.startsWith(STANDALONE_PREFIX)) {
    throw new PresenceError(
      'invalid_argument',
      'Expected an owner id that does not start with "\\u0000name:", which is reserved for ' +
        'standalone names. Use tracker.names.create(name) and pass { name } instead.',
      fields,
    )
  }
  return owner
}

function isPlainPrototype(proto: unknown): boolean {
  return proto === Object.prototype || proto === null
}
const MAX_DEPTH = 32

class MetaProblem extends Error {}

/**
 * @internal Validates a meta and returns a deeply frozen copy of it, so that neither the
 * caller's later changes nor a listener can alter what the tracker holds. Throws
 * `invalid_meta` for anything that is not a plain JSON object within `maxBytes` (the
 * length of its JSON text in UTF-8) or that holds `phx_ref`/`phx_ref_prev`.
 */
export function freezeMeta<M extends object>(
  meta: unknown,
  maxBytes: number,
  fields: PresenceErrorFields,
): Readonly<M> {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw metaError(`Expected meta to be a plain object, got ${describe(meta)}.`, fields)
  }
  if ('phx_ref' in meta || 'phx_ref_prev' in meta) {
    throw metaError(
      'Expected a meta without phx_ref or phx_ref_prev: rollcall adds them itself. ' +
        'Remove them (for example, pass the meta from an update function unchanged).',
      fields,
    )
  }
  let copy: unknown
  try {
    copy = copyJson(meta, 0, [])
  } catch (err) {
    if (err instanceof MetaProblem) throw metaError(err.message, fields)
    // Only the caller's own object can throw here: a getter, or a proxy's trap.
    const reason = err instanceof Error ? err.message : describe(err)
    throw metaError(
      `Expected a meta whose fields can be read, but reading one threw: ${reason}`,
      fields,
    )
  }
  const json = JSON.stringify(copy)
  // UTF-8 takes at most three bytes per UTF-16 unit: short texts need no count.
  const bytes = json.length * 3 <= maxBytes ? json.length : utf8Length(json)
  if (bytes > maxBytes) {
    throw metaError(
      `Expected a meta of at most ${maxBytes} bytes of JSON, got ${bytes}. ` +
        'Keep large data elsewhere, or raise the maxMetaBytes option.',
      fields,
    )
  }
  return copy as Readonly<M>
}

function metaError(message: string, fields: PresenceErrorFields): PresenceError {
  return new PresenceError('invalid_meta', message, fields)
}

function copyJson(value: unknown, depth: number, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (Number.isFinite(value)) return value
      throw new MetaProblem(`Expected finite numbers in meta, got ${value}.`)
    case 'object':
      if (value === null) return null
      return copyContainer(value, depth, ancestors)
    default:
      throw new MetaProblem(`Expected only JSON values in meta, got ${describe(value)}.`)
  }
}

/** `ancestors` is the path from the root: at most MAX_DEPTH long, so a scan is cheap. */
function copyContainer(value: object, depth: number, ancestors: object[]): unknown {
  if (depth >= MAX_DEPTH) throw new MetaProblem(`Expected meta nested at most ${MAX_DEPTH} deep.`)
  if (ancestors.includes(value)) throw new MetaProblem('Expected a meta without cycles.')
  ancestors.push(value)
  let copy: unknown
  if (Array.isArray(value)) {
    copy = value.map((item) => copyJson(item, depth + 1, ancestors))
  } else if (isPlainPrototype(Object.getPrototypeOf(value))) {
    const out: Record<string, unknown> = {}
    for (const name of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[name]
      if (item === undefined) continue
      const itemCopy = copyJson(item, depth + 1, ancestors)
      // `__proto__` is an ordinary key in JSON; assigning it would set the prototype.
      if (name === '__proto__')
        Object.defineProperty(out, name, { value: itemCopy, enumerable: true })
      else out[name] = itemCopy
    }
    copy = out
  } else {
    throw new MetaProblem(`Expected plain objects and arrays in meta, got ${describe(value)}.`)
  }
  ancestors.pop()
  return Object.freeze(copy)
}

/** @internal The UTF-8 length of a string, without TextEncoder's allocation. */
export function utf8Length(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) continue
    if (code < 0x800) bytes += 1
    else if (code >= 0xd800 && code <= 0xdbff) {
      // A surrogate pair: four bytes for two units.
      bytes += 2
      i++
    } else bytes += 2
  }
  return bytes
}

/**
 * @internal An options argument: `undefined` is no options; anything but a plain object
 * throws `invalid_argument`, so that `null` or a string cannot fail later as a TypeError.
 */
export function optionsOf<T extends object>(value: T | undefined, what: string): T {
  if (value === undefined) return {} as T
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value
  throw new PresenceError(
    'invalid_argument',
    `Expected ${what} to be an options object or undefined, got ${describe(value)}.`,
  )
}
