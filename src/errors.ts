/**
 * Every stable error code rollcall throws or rejects with.
 *
 * Codes never change between minor releases, so code may branch on them:
 * `if (err instanceof PresenceError && err.code === 'nopresence')`.
 */
export type PresenceErrorCode =
  | 'already_tracked'
  | 'nopresence'
  | 'invalid_argument'
  | 'invalid_meta'
  | 'name_taken'
  | 'unknown_name'
  | 'names_disabled'
  | 'names_full'
  | 'forbidden'
  | 'stale'
  | 'remote_name'
  | 'timeout'
  | 'nodedown'
  | 'closed'
  | 'rate_limited'
  | 'owner_full'
  | 'topic_full'

/** The values that make up an error, as far as they are known. */
export interface PresenceErrorFields {
  /** The topic involved. */
  topic?: string
  /** The key involved. */
  key?: string
  /** The owner involved. */
  owner?: string
  /** The registered name involved (becomes {@link PresenceError.ownerName}). */
  name?: string
  /** The node involved. */
  node?: string
}

/**
 * The one error class of rollcall. `code` is stable; the message says what was expected,
 * what came, and how to fix it; the offending values are fields.
 *
 * @example
 * ```ts
 * try {
 *   tracker.update('socket-2', 'room:1', 'alice', { status: 'away' })
 * } catch (err) {
 *   if (err instanceof PresenceError && err.code === 'nopresence') reply('not yours')
 * }
 * ```
 */
export class PresenceError extends Error {
  /** The stable, machine-readable reason. */
  readonly code: PresenceErrorCode
  /** The topic involved, when there was one. */
  readonly topic?: string
  /** The key involved, when there was one. */
  readonly key?: string
  /** The owner involved, when there was one. */
  readonly owner?: string
  /**
   * The registered name involved, when there was one (`name` itself is the class name,
   * as on every Error).
   */
  readonly ownerName?: string
  /** The node involved, when there was one. */
  readonly node?: string

  constructor(code: PresenceErrorCode, message: string, fields: PresenceErrorFields = {}) {
    super(message)
    this.name = 'PresenceError'
    this.code = code
    if (fields.topic !== undefined) this.topic = fields.topic
    if (fields.key !== undefined) this.key = fields.key
    if (fields.owner !== undefined) this.owner = fields.owner
    if (fields.name !== undefined) this.ownerName = fields.name
    if (fields.node !== undefined) this.node = fields.node
  }
}

/** @internal Quotes a value for an error message without ever throwing. */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 60 ? `"${value.slice(0, 57)}..." (${value.length} chars)` : `"${value}"`
  }
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value)
    const ctor = proto?.constructor?.name
    return ctor && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object'
  }
  if (typeof value === 'function') return 'a function'
  return `${typeof value} ${String(value)}`
}
