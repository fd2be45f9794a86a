/**
 * The cluster's message bodies, and their validation: whatever comes off the network is
 * checked here before it reaches the replicated state, and refused with a reason.
 */
import { PresenceError, type PresenceErrorCode } from '../errors.js'
import type { ForwardedCall } from '../names.js'
import type { EntryData, NameData, SectionData } from '../state/set.js'
import type { Meta } from '../types.js'
import { freezeMeta } from '../validation.js'

/** A delta or a transfer chunk: a section of the sender's own replica. */
export type SectionBody<M extends object = Meta> = Omit<SectionData<M>, 'node' | 'incarnation'>

/** A heartbeat: the sender's clock, so a receiver behind it asks for a transfer. */
export interface HeartbeatBody {
  clock: number
}

/** A request for the receiver's own changes since `since`. */
export interface TransferRequestBody {
  since: number
}

/** A standalone name handed over to `to` when its node closes. */
export interface HandoverName {
  name: string
  releaseTopic: string | null
  graceMs: number
  entries: Array<[string, string, Meta]>
}

/** A node leaves: drop its entries at once; `to` takes over its standalone names. */
export interface GoodbyeBody {
  to: string | null
  names: HandoverName[]
}

/** A write through a name, forwarded to the node that holds the name. */
export interface CallBody {
  id: number
  call: ForwardedCall
}

/** The answer to a {@link CallBody}. */
export type ReplyBody =
  | { id: number; ok: true; ref: string | null; clock: number }
  | {
      id: number
      ok: false
      code: string
      message: string
      /** With `remote_name`: the node that holds the name now, for the call to follow. */
      holder?: string
    }

/** Limits a parsed message must keep. */
export interface ParseLimits {
  maxId: number
  maxMetaBytes: number
}

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string }

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason })

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isClock(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isId(value: unknown, limits: ParseLimits): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= limits.maxId
}

/** Checks a section body; metas come back validated and frozen. */
export function parseSection<M extends object>(
  body: unknown,
  limits: ParseLimits,
): Parsed<SectionBody<M>> {
  if (!isRecord(body)) return fail('section: not an object')
  const { from, to, extra, entries, names } = body
  if (!isClock(from) || !isClock(to) || from > to) return fail('section: bad range')
  if (!Array.isArray(extra) || !extra.every((c) => isClock(c) && c > 0 && c <= from)) {
    return fail('section: bad extra dots')
  }
  if (!Array.isArray(entries) || !Array.isArray(names)) return fail('section: no elements')
  // A dot given twice would store one element over the other while indexing both.
  const dots = new Set<number>()
  const parsedEntries: EntryData<M>[] = []
  for (const item of entries) {
    const entry = parseEntry<M>(item, from, to, limits)
    if (!entry) return fail('section: bad entry')
    if (dots.size === dots.add(entry[0]).size) return fail('section: a dot given twice')
    parsedEntries.push(entry)
  }
  const parsedNames: NameData[] = []
  for (const item of names) {
    const name = parseName(item, from, to, limits)
    if (!name) return fail('section: bad name')
    if (dots.size === dots.add(name[0]).size) return fail('section: a dot given twice')
    parsedNames.push(name)
  }
  const value = { from, to, extra: extra as number[], entries: parsedEntries, names: parsedNames }
  return { ok: true, value }
}

function parseEntry<M extends object>(
  item: unknown,
  from: number,
  to: number,
  limits: ParseLimits,
): EntryData<M> | undefined {
  if (!Array.isArray(item) || item.length !== 6) return undefined
  const [clock, topic, key, owner, meta, prev] = item
  if (!isClock(clock) || clock <= from || clock > to || !isClock(prev) || prev >= clock) {
    return undefined
  }
  if (!isId(topic, limits) || !isId(key, limits) || !isId(owner, limits)) return undefined
  try {
    const frozen = freezeMeta<M>(meta, limits.maxMetaBytes, {})
    return [clock, topic, key, owner, frozen as M, prev]
  } catch (error) {
    if (error instanceof PresenceError) return undefined
    throw error
  }
}

function parseName(
  item: unknown,
  from: number,
  to: number,
  limits: ParseLimits,
): NameData | undefined {
  if (!Array.isArray(item) || item.length !== 6) return undefined
  const [clock, name, owner, standalone, releaseTopic, graceMs] = item
  if (!isClock(clock) || clock <= from || clock > to) return undefined
  if (!isId(name, limits) || !isId(owner, limits) || typeof standalone !== 'boolean') {
    return undefined
  }
  if (releaseTopic !== null && !isId(releaseTopic, limits)) return undefined
  if (!isClock(graceMs)) return undefined
  return [clock, name, owner, standalone, releaseTopic, graceMs]
}

/** Checks a heartbeat body. */
export function parseHeartbeat(body: unknown): Parsed<HeartbeatBody> {
  if (!isRecord(body) || !isClock(body.clock)) return fail('heartbeat: bad clock')
  return { ok: true, value: { clock: body.clock } }
}

/** Checks a transfer request body. */
export function parseTransferRequest(body: unknown): Parsed<TransferRequestBody> {
  if (!isRecord(body) || !isClock(body.since)) return fail('transfer request: bad since')
  return { ok: true, value: { since: body.since } }
}

/** Checks a goodbye body. */
export function parseGoodbye(body: unknown, limits: ParseLimits): Parsed<GoodbyeBody> {
  if (!isRecord(body) || !Array.isArray(body.names)) return fail('goodbye: not an object')
  const to = body.to
  if (to !== null && !isId(to, limits)) return fail('goodbye: bad successor')
  const names: HandoverName[] = []
  for (const item of body.names) {
    const name = parseHandover(item, limits)
    if (!name) return fail('goodbye: bad handover')
    names.push(name)
  }
  return { ok: true, value: { to, names } }
}

function parseHandover(item: unknown, limits: ParseLimits): HandoverName | undefined {
  if (!isRecord(item) || !isId(item.name, limits) || !Array.isArray(item.entries)) {
    return undefined
  }
  const { releaseTopic, graceMs } = item
  if (releaseTopic !== null && !isId(releaseTopic, limits)) return undefined
  if (!isClock(graceMs)) return undefined
  const entries: HandoverName['entries'] = []
  for (const entry of item.entries) {
    if (!Array.isArray(entry) || entry.length !== 3) return undefined
    const [topic, key, meta] = entry
    if (!isId(topic, limits) || !isId(key, limits)) return undefined
    try {
      entries.push([topic, key, freezeMeta<Meta>(meta, limits.maxMetaBytes, {})])
    } catch {
      return undefined
    }
  }
  return { name: item.name, releaseTopic, graceMs, entries }
}

/** Checks a forwarded call. */
export function parseCall(body: unknown, limits: ParseLimits): Parsed<CallBody> {
  if (!isRecord(body) || !isClock(body.id) || !isRecord(body.call)) return fail('call: bad')
  const { op, target, topic, key, meta, ifRef } = body.call
  if (op !== 'track' && op !== 'update' && op !== 'untrack') return fail('call: bad op')
  if (!isRecord(target) || !isId(target.name, limits)) return fail('call: bad target')
  if (target.as !== undefined && !isId(target.as, limits)) return fail('call: bad as')
  if (typeof topic !== 'string' || typeof key !== 'string') return fail('call: bad topic/key')
  if (ifRef !== undefined && typeof ifRef !== 'string') return fail('call: bad ifRef')
  const cleanTarget =
    target.as === undefined ? { name: target.name } : { name: target.name, as: target.as as string }
  const call = { op, target: cleanTarget, topic, key, meta, ifRef } as ForwardedCall
  return { ok: true, value: { id: body.id, call } }
}

/** Every code a PresenceError can carry; typed as a record so that none is missed. */
const ERROR_CODES: Record<PresenceErrorCode, true> = {
  already_tracked: true,
  nopresence: true,
  invalid_argument: true,
  invalid_meta: true,
  name_taken: true,
  unknown_name: true,
  names_disabled: true,
  names_full: true,
  forbidden: true,
  stale: true,
  remote_name: true,
  timeout: true,
  nodedown: true,
  closed: true,
  rate_limited: true,
  owner_full: true,
  topic_full: true,
}

/** Checks a reply. */
export function parseReply(body: unknown): Parsed<ReplyBody> {
  if (!isRecord(body) || !isClock(body.id) || typeof body.ok !== 'boolean') {
    return fail('reply: bad')
  }
  if (body.ok) {
    if (!(body.ref === null || typeof body.ref === 'string') || !isClock(body.clock)) {
      return fail('reply: bad ref')
    }
    return { ok: true, value: { id: body.id, ok: true, ref: body.ref, clock: body.clock } }
  }
  if (typeof body.code !== 'string' || typeof body.message !== 'string') {
    return fail('reply: bad error')
  }
  // The caller's promise rejects with this code: it must be one callers can branch on.
  if (!Object.hasOwn(ERROR_CODES, body.code)) return fail('reply: unknown error code')
  const value: ReplyBody = { id: body.id, ok: false, code: body.code, message: body.message }
  if (typeof body.holder === 'string' && body.holder !== '') value.holder = body.holder
  return { ok: true, value }
}
