/**
 * Generators of cluster message bodies for the fuzz suite: bodies valid by construction
 * for every message type, ways to break each that no node may accept, random JSON-like
 * values, and structural and byte-level mutations of real messages.
 */
import fc from 'fast-check'
import type { Envelope } from '../../src/cluster/codec.js'
import { CODES, nastyNumber, nastyString } from './support.js'

export const TYPES = [
  'hello',
  'heartbeat',
  'delta',
  'transfer',
  'transfer_req',
  'goodbye',
  'call',
  'reply',
] as const

export type MessageType = (typeof TYPES)[number]

const id = (pool: string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...pool) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
  )

const topic = id(['room:1', 'room:2', 'room:3', '__proto__', 'constructor'])
const key = id(['alice', 'bob', 'carol', 'board', '__proto__', 'toString'])
const owner = id(['alice-socket', 'carol-socket', 'o', '\u0000name:board:1', '\u0000name:x'])
const name = id(['board:1', 'game:7', 'alice-alias', 'carol', 'z'])
const clock = fc.nat({ max: 60 })

/** A JSON value a meta may hold: finite numbers, strings, arrays, plain objects. */
const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -1_000, max: 1_000 }),
    fc.string({ maxLength: 8 }),
    fc.array(tie('json'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('json'), { maxKeys: 3 }),
  ),
}))

/** A valid meta: a plain object without phx_ref or phx_ref_prev. */
export const meta = fc.dictionary(
  fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'status')),
  json,
  { maxKeys: 4 },
)

/** A section's range with distinct clocks for its entries and names. */
const sectionShape = fc
  .record({
    from: fc.nat({ max: 30 }),
    offsets: fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 7 }),
    slack: fc.oneof(
      { weight: 9, arbitrary: fc.nat({ max: 5 }) },
      { weight: 1, arbitrary: fc.constantFrom(1e6, 2 ** 40, 2 ** 52) },
    ),
    extra: fc.uniqueArray(fc.nat({ max: 29 }), { maxLength: 3 }),
    split: fc.nat(),
  })
  .map(({ from, offsets, slack, extra, split }) => {
    const clocks = offsets.map((offset) => from + offset)
    // A vast range is valid from 0; beyond a gap, a node may refuse it (see gapSection).
    const to = Math.max(from, ...clocks) + (from === 0 || slack < 1e6 ? slack : 0)
    const extras = extra.filter((c) => c > 0 && c <= from)
    const entries = clocks.length === 0 ? 0 : split % (clocks.length + 1)
    return {
      from,
      to,
      extra: extras,
      entryClocks: clocks.slice(0, entries),
      nameClocks: clocks.slice(entries),
    }
  })

/** A delta or transfer body that every node accepts. */
export const validSection = fc
  .record({
    shape: sectionShape,
    entries: fc.array(fc.tuple(topic, key, owner, meta, fc.nat()), { maxLength: 7 }),
    names: fc.array(fc.tuple(name, owner, fc.boolean(), fc.option(topic), fc.nat(2_000)), {
      maxLength: 7,
    }),
  })
  .map(({ shape, entries, names }) => ({
    from: shape.from,
    to: shape.to,
    extra: shape.extra,
    entries: shape.entryClocks.flatMap((c, i) => {
      const parts = entries[i]
      return parts ? [[c, parts[0], parts[1], parts[2], parts[3], parts[4] % c]] : []
    }),
    names: shape.nameClocks.flatMap((c, i) => {
      const parts = names[i]
      return parts ? [[c, parts[0], parts[1], parts[2], parts[3], parts[4]]] : []
    }),
  }))

/** A section that starts beyond a gap and spans a vast range of clocks. */
export const gapSection = fc
  .record({ from: fc.integer({ min: 1, max: 50 }), span: fc.constantFrom(65_537, 1e6, 2 ** 52) })
  .map(({ from, span }) => ({
    from,
    to: from + span,
    extra: [],
    entries: [[from + span, 'room:1', 'gap', 'o', {}, 0]],
    names: [],
  }))

const handover = fc.record({
  name,
  releaseTopic: fc.option(topic),
  graceMs: fc.nat(2_000),
  entries: fc.uniqueArray(fc.tuple(topic, key, meta), {
    maxLength: 3,
    selector: ([t, k]) => `${t}\u0000${k}`,
  }),
})

const call = fc.oneof(
  fc.record({ op: fc.constant('track'), target: fc.record({ name }), topic, key, meta }),
  fc.record({
    op: fc.constant('update'),
    target: fc.record({ name }, { requiredKeys: ['name'] }),
    topic,
    key,
    meta,
  }),
  fc.record({ op: fc.constant('untrack'), target: fc.record({ name }), topic, key }),
)

/** A body of each type that every node accepts. */
export const validBodies: Record<MessageType, fc.Arbitrary<unknown>> = {
  hello: fc.record({ clock }),
  heartbeat: fc.record({ clock }),
  delta: validSection,
  transfer: validSection,
  transfer_req: fc.record({ since: clock }),
  goodbye: fc.record({
    to: fc.oneof(fc.constant(null), fc.constantFrom('n1', 'n2', 'n3')),
    names: fc.uniqueArray(handover, { maxLength: 2, selector: (h) => h.name }),
  }),
  call: fc.record({ id: fc.nat(5), call }),
  reply: fc.oneof(
    fc.record({ id: fc.nat(5), ok: fc.constant(true), ref: fc.option(fc.string()), clock }),
    fc.record({
      id: fc.nat(5),
      ok: fc.constant(false),
      code: fc.constantFrom(...CODES),
      message: fc.string(),
    }),
  ),
}

type Body = Record<string, unknown>
type Breaker = (body: Body) => unknown

const bigMeta = { text: 'x'.repeat(9_000) }

/** Ways to break a valid section so that no node may accept it. */
const sectionBreakers: Breaker[] = [
  (b) => ({ ...b, from: (b.to as number) + 1 }),
  (b) => ({ ...b, to: -1 }),
  (b) => ({ ...b, from: Number.NaN }),
  (b) => ({ ...b, to: 2 ** 53 }),
  (b) => ({ ...b, from: 0.5 }),
  (b) => ({ ...b, extra: [(b.from as number) + 1] }),
  (b) => ({ ...b, extra: [0] }),
  (b) => ({ ...b, entries: 'x' }),
  (b) => ({ ...b, names: undefined }),
  (b) => ({
    ...b,
    entries: [...(b.entries as unknown[]), [(b.to as number) + 1, 't', 'k', 'o', {}, 0]],
  }),
  (b) => ({ ...b, entries: [...(b.entries as unknown[]), [b.to, '', 'k', 'o', {}, 0]], from: 0 }),
  (b) => ({
    ...b,
    entries: [...(b.entries as unknown[]), [b.to, 't', 'k', 'o', { phx_ref: 'r' }, 0]],
    from: 0,
  }),
  (b) => ({
    ...b,
    entries: [...(b.entries as unknown[]), [b.to, 't', 'k', 'o', bigMeta, 0]],
    from: 0,
  }),
  (b) => ({ ...b, entries: [...(b.entries as unknown[]), [b.to, 't', 'k', 'o', [1], 0]], from: 0 }),
  (b) => ({ ...b, entries: [...(b.entries as unknown[]), [b.to, 't', 'k', 'o', {}]], from: 0 }),
  (b) => ({
    ...b,
    entries: [...(b.entries as unknown[]), [b.to, 'x'.repeat(257), 'k', 'o', {}, 0]],
    from: 0,
  }),
  (b) => ({ ...b, names: [...(b.names as unknown[]), [b.to, 'n', 'o', 1, null, 0]], from: 0 }),
  (b) => ({ ...b, names: [...(b.names as unknown[]), [b.to, 'n', 'o', true, null, -1]], from: 0 }),
  // The same dot twice: one of the two could never be removed again.
  (b) => ({
    ...b,
    from: 0,
    to: 1,
    extra: [],
    entries: [
      [1, 't', 'k', 'o', {}, 0],
      [1, 't', 'k2', 'o', {}, 0],
    ],
    names: [],
  }),
  (b) => ({
    ...b,
    from: 0,
    to: 1,
    extra: [],
    entries: [[1, 't', 'k', 'o', {}, 0]],
    names: [[1, 'n', 'o', true, null, 0]],
  }),
]

const clockBreakers = (field: string): Breaker[] => [
  (b) => ({ ...b, [field]: -1 }),
  (b) => ({ ...b, [field]: Number.NaN }),
  (b) => ({ ...b, [field]: 0.5 }),
  (b) => ({ ...b, [field]: 2 ** 53 }),
  (b) => ({ ...b, [field]: String(b[field]) }),
  (b) => ({ ...b, [field]: undefined }),
  () => [0],
]

/** Ways to break a valid body of each type that no node may accept. */
export const breakers: Record<MessageType, Breaker[]> = {
  hello: clockBreakers('clock'),
  heartbeat: clockBreakers('clock'),
  delta: sectionBreakers,
  transfer: sectionBreakers,
  transfer_req: clockBreakers('since'),
  goodbye: [
    (b) => ({ ...b, names: undefined }),
    (b) => ({ ...b, to: '' }),
    (b) => ({ ...b, to: 7 }),
    (b) => ({ ...b, names: [{ name: 'g', releaseTopic: null, graceMs: -1, entries: [] }] }),
    (b) => ({
      ...b,
      names: [
        { name: 'g', releaseTopic: null, graceMs: 0, entries: [['t', 'k', { phx_ref: 'r' }]] },
      ],
    }),
    (b) => ({ ...b, names: [{ name: '', releaseTopic: null, graceMs: 0, entries: [] }] }),
  ],
  call: [
    (b) => ({ ...b, id: -1 }),
    (b) => ({ ...b, call: { ...(b.call as Body), op: 'drop' } }),
    (b) => ({ ...b, call: { ...(b.call as Body), target: 'board:1' } }),
    (b) => ({ ...b, call: { ...(b.call as Body), target: { name: '' } } }),
    (b) => ({ ...b, call: { ...(b.call as Body), topic: 5 } }),
    (b) => ({ ...b, call: { ...(b.call as Body), ifRef: 5 } }),
  ],
  reply: [
    (b) => ({ ...b, ok: 'yes' }),
    (b) => ({ ...b, id: Number.NaN }),
    (b) => ({ ...b, ok: true, ref: 5, clock: 1 }),
    (b) => ({ ...b, ok: false, code: undefined, message: 'm' }),
    (b) => ({ ...b, ok: false, code: 'no_such_code', message: 'm' }),
  ],
}

/** Any value the codec can carry: the body of a message written by someone hostile. */
export const { wireValue } = fc.letrec<{ wireValue: unknown }>((tie) => ({
  wireValue: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    nastyNumber,
    fc.string({ maxLength: 8 }),
    fc.uint8Array({ maxLength: 4 }),
    fc.array(tie('wireValue'), { maxLength: 6 }),
    fc.dictionary(
      fc.oneof(
        fc.string({ maxLength: 6 }),
        fc.constantFrom('__proto__', 'constructor', 'clock', 'from', 'to', 'entries', 'names'),
      ),
      tie('wireValue'),
      { maxKeys: 5 },
    ),
  ),
}))

function nest(depth: number): unknown {
  let value: unknown = { v: 1 }
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

/** Values that are wrong wherever they land: the kinds a hostile sender tries first. */
export const hostileValue = fc.oneof(
  nastyNumber,
  nastyString,
  wireValue,
  fc.constantFrom<unknown>(
    { phx_ref: 'forged' },
    { phx_ref_prev: 'x', a: 1 },
    JSON.parse('{"__proto__":{"polluted":1}}'),
    [],
    {},
    nest(40),
    new Uint8Array(3),
    { text: 'y'.repeat(9_000) },
  ),
)

/** A change to the tree of a body. */
export interface TreeMutation {
  target: number
  op: 'replace' | 'delete' | 'swap' | 'add' | 'wrap'
  value: unknown
  key: string
  other: number
}

export const treeMutation: fc.Arbitrary<TreeMutation> = fc.record({
  target: fc.nat(),
  op: fc.constantFrom('replace', 'replace', 'replace', 'delete', 'swap', 'add', 'wrap'),
  value: hostileValue,
  key: fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'phx_ref', 'phx_ref_prev', 'clock', 'to'),
    fc.string({ maxLength: 4 }),
  ),
  other: fc.nat(),
})

/** A deep copy in which every object has no prototype, as the decoder makes them. */
export function clone(value: unknown): unknown {
  if (value instanceof Uint8Array) return value.slice()
  if (Array.isArray(value)) return value.map(clone)
  if (typeof value !== 'object' || value === null) return value
  const out = Object.create(null) as Record<string, unknown>
  for (const k of Object.keys(value)) out[k] = clone((value as Record<string, unknown>)[k])
  return out
}

type Container = Record<string, unknown> | unknown[]

function containers(value: unknown, out: Container[] = []): Container[] {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return out
  out.push(value as Container)
  for (const child of Object.values(value)) containers(child, out)
  return out
}

/** Applies a mutation to a copy of `body`; the copy is returned. */
export function mutateTree(body: unknown, mutation: TreeMutation): unknown {
  const root = { body: clone(body) } as Record<string, unknown>
  const all = containers(root)
  const node = all[mutation.target % all.length]!
  const record = node as Record<string, unknown>
  const keys = Object.keys(node)
  const pick = keys.length > 0 ? keys[mutation.other % keys.length]! : undefined
  const set = (k: string, value: unknown) => {
    const writable = { value, enumerable: true, writable: true, configurable: true }
    if (Array.isArray(node)) node[Number(k)] = value
    else Object.defineProperty(node, k, writable)
  }
  const { op, value } = mutation
  if (op === 'add') set(Array.isArray(node) ? String(node.length) : mutation.key, value)
  else if (pick === undefined) set('0', value)
  else if (op === 'replace') set(pick, value)
  else if (op === 'wrap') set(pick, [record[pick]])
  else if (op === 'delete' && Array.isArray(node)) node.splice(Number(pick), 1)
  else if (op === 'delete') delete record[pick]
  else {
    const first = record[keys[0]!]
    set(keys[0]!, record[pick])
    set(pick, first)
  }
  return root.body
}

/** A change to an envelope's fields. */
export const envelopeMutation = fc.oneof(
  fc.record({
    field: fc.constant('type' as const),
    value: fc.constantFrom<unknown>(...TYPES, 'nope', ''),
  }),
  fc.record({
    field: fc.constant('from' as const),
    value: fc.oneof(nastyString, fc.constantFrom('n1', 'n3')),
  }),
  fc.record({ field: fc.constant('inc' as const), value: nastyString }),
  fc.record({
    field: fc.constant('to' as const),
    value: fc.constantFrom<unknown>('n1', 'n2', undefined, ''),
  }),
  fc.record({
    field: fc.constant('v' as const),
    value: fc.constantFrom<unknown>(0, 2, 3, 2 ** 40),
  }),
)

export function mutateEnvelope(
  envelope: Envelope,
  mutation: { field: keyof Envelope; value: unknown },
): Envelope {
  return { ...envelope, [mutation.field]: mutation.value } as Envelope
}

/** A change to the encoded bytes. */
export const byteMutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 4 }),
  }),
)

export type ByteMutation = typeof byteMutation extends fc.Arbitrary<infer T> ? T : never

export function mutateBytes(bytes: Uint8Array, mutation: ByteMutation): Uint8Array {
  const at = bytes.length === 0 ? 0 : mutation.at % bytes.length
  const out = Array.from(bytes)
  if (mutation.kind === 'flip' && out.length > 0) out[at] = out[at]! ^ (1 << mutation.bit)
  else if (mutation.kind === 'truncate') out.length = at
  else if (mutation.kind === 'insert') out.splice(at, 0, ...mutation.bytes)
  else if (mutation.kind === 'delete') out.splice(at, mutation.count)
  return Uint8Array.from(out)
}
