/**
 * The harness of the cluster fuzz suites: a live node (the victim) and a reference node
 * on one manual clock, each on its own in-memory network, and the shots fired at them.
 *
 * Whatever comes, nothing may be thrown out of rollcall, every refused message must be
 * logged, and a refused message must change nothing: the victim must end up as the
 * reference, which is sent only what the victim took. Its own connections' entries must
 * be untouched, its state whole and writable, and once every node it knows said goodbye,
 * nothing of theirs may be left.
 */
import fc from 'fast-check'
import { afterAll, beforeAll } from 'vitest'
import { decode, type Envelope, encode, PROTOCOL_VERSION } from '../../src/cluster/codec.js'
import { PresenceError } from '../../src/errors.js'
import type { Meta } from '../../src/index.js'
import { ManualClock, MemoryNetwork, type MemoryTransport } from '../../src/testing/index.js'
import { Tracker } from '../../src/tracker.js'
import { PERIODS, setUpVictim } from './corpus.js'
import { check, checkTracker, checkWritable, entriesOf, isKnownError } from './support.js'
import {
  breakers,
  byteMutation,
  envelopeMutation,
  gapSection,
  hostileValue,
  type MessageType,
  mutateBytes,
  mutateEnvelope,
  mutateTree,
  TYPES,
  treeMutation,
  validBodies,
  wireValue,
} from './wire.js'

/** The secret of the signed runs. */
export const SECRET = 's3cret'

/** What a shot must do: be accepted, be refused, or either (the reference decides). */
type Expect = 'accept' | 'drop' | 'any'

/** One message to fire at the node, built once the run's secret is known. */
type Build = (secret: string | undefined) => { bytes: Uint8Array; expect: Expect } | undefined
export type Shot = Build & { [fc.toStringMethod]?: () => string }

/** Names a shot after what it was made of, for fast-check's counterexamples. */
export function shot(parts: unknown, build: Build): Shot {
  return Object.assign(build, { [fc.toStringMethod]: () => fc.stringify(parts) })
}

/** A node under attack: its tracker, its log, its lost names, and a way to reach it. */
export interface Node {
  tracker: Tracker<Meta>
  logs: Array<{ level: string; message: string }>
  conflicts: string[]
  inject(bytes: Uint8Array): Promise<void>
}

const DROPPED = /^dropped a /

const thrown: unknown[] = []
const rejections: unknown[] = []
const onRejection = (reason: unknown) => rejections.push(reason)

/** Records unhandled rejections while the calling suite runs: none may happen. */
export function watchRejections(): void {
  beforeAll(() => {
    process.on('unhandledRejection', onRejection)
  })
  afterAll(() => {
    process.off('unhandledRejection', onRejection)
    check(rejections.length === 0, () => `unhandled rejections: ${rejections.join(', ')}`)
  })
}

/** How the attacked nodes are set up: signed or not, names on or off. */
export interface Setup {
  secret: string | undefined
  names: boolean
}

/** A node `n1` on a network of its own, holding {@link setUpVictim}'s entries and names. */
export function node(clock: ManualClock, { secret, names }: Setup): Node {
  const network = new MemoryNetwork({ onError: (error) => thrown.push(error) })
  const logs: Node['logs'] = []
  const tracker = new Tracker<Meta>({
    clock,
    names,
    logger: (level, message) => logs.push({ level, message }),
    cluster: {
      transport: network.transport('n1'),
      nodeId: 'n1',
      random: () => 0.5,
      secret,
      ...PERIODS,
    },
  })
  setUpVictim(tracker, names)
  const conflicts: string[] = []
  tracker.on('name_conflict', ({ name }) => conflicts.push(name))
  const attacker: MemoryTransport = network.transport('attacker')
  const inject = async (bytes: Uint8Array) => {
    await attacker.publish('all', bytes)
    await clock.flush()
  }
  return { tracker, logs, conflicts, inject }
}

/** The entries of the node's own connections (not of its standalone names). */
function ownConnections(tracker: Tracker<Meta>): string[] {
  return entriesOf(tracker).filter((line) => {
    const [, , node, owner] = JSON.parse(line) as string[]
    return node === 'n1' && !owner!.startsWith('\u0000')
  })
}

function peersOf(tracker: Tracker<Meta>): string[] {
  return tracker
    .nodes()
    .slice(1)
    .map(({ node: id, incarnation, status }) => JSON.stringify([id, incarnation, status]))
    .sort()
}

function namesOf(tracker: Tracker<Meta>): string[] {
  let names: string[]
  try {
    names = tracker.names.list()
  } catch {
    return []
  }
  return names.sort().map((name) => {
    const where = tracker.names.lookup(name)
    const owner = where?.node === 'n1' ? '' : where?.owner
    return JSON.stringify([name, where?.node, owner])
  })
}

/**
 * Which replicas the victim has seen leave (a goodbye, or a restart under a new
 * incarnation): their later messages are ignored unread, so they cannot be seen dropped.
 */
class Senders {
  readonly #departed = new Set<string>()
  readonly #live = new Map<string, string>()
  /** Whether a call through the alias of a connection was taken: names are open to all. */
  calledAlias = false

  /** Decodes a shot and relaxes its expectation when its sender has left. */
  expected(built: { bytes: Uint8Array; expect: Expect }, secret: string | undefined) {
    const result = decode(built.bytes, secret)
    if (!result.ok) return undefined
    const { from, inc, to } = result.envelope
    if (from === 'n1' || (to !== undefined && to !== 'n1')) return undefined
    if (this.#departed.has(`${inc}@${from}`) && built.expect === 'drop') built.expect = 'any'
    if (built.expect === 'accept' && !this.#possible(from, inc)) built.expect = 'any'
    return result.envelope
  }

  /** Whether a node may speak as (from, inc): ids, and an incarnation of its own. */
  #possible(from: string, inc: string): boolean {
    if (this.#live.get(from) === inc) return true
    const isId = (id: string) => id.length > 0 && id.length <= 256
    if (!isId(from) || !isId(inc) || inc.includes('@')) return false
    for (const [node, incarnation] of this.#live)
      if (incarnation === inc && node !== from) return false
    return true
  }

  /** Follows what a message the victim took does to its peers. */
  took({ from, inc, type, body }: Envelope): void {
    const id = `${inc}@${from}`
    if (this.#departed.has(id)) return
    if (type === 'call' && JSON.stringify(body).includes('"alice-alias"')) this.calledAlias = true
    const live = this.#live.get(from)
    if (type === 'goodbye') {
      this.#departed.add(id)
      if (live === inc) this.#live.delete(from)
      return
    }
    if (live !== undefined && live !== inc) this.#departed.add(`${live}@${from}`)
    this.#live.set(from, inc)
  }
}

/** Fires the shots at a victim and at a reference that gets only what the victim took. */
export async function attack(shots: Shot[], setup: Setup): Promise<void> {
  const { secret } = setup
  thrown.length = 0
  const clock = new ManualClock()
  const victim = node(clock, setup)
  const reference = node(clock, setup)
  await clock.advance(10)
  const connections = ownConnections(victim.tracker)

  const senders = new Senders()
  const calls = setup.names ? await openCalls([victim, reference], senders, secret) : []
  for (const [i, shot] of shots.entries()) {
    const built = shot(secret)
    if (!built) continue
    const envelope = senders.expected(built, secret)
    const before = victim.logs.length
    await victim.inject(built.bytes)
    const logged = victim.logs.slice(before).filter((call) => DROPPED.test(call.message))
    check(logged.length <= 1, `shot ${i} was logged ${logged.length} times`)
    if (built.expect === 'drop') check(logged.length === 1, `shot ${i} should have been dropped`)
    if (built.expect === 'accept') {
      check(logged.length === 0, () => `shot ${i} was dropped: ${JSON.stringify(victim.logs)}`)
    }
    if (logged.length > 0) continue
    await reference.inject(built.bytes)
    if (envelope) senders.took(envelope)
  }
  await clock.advance(PERIODS.callTimeout + 500)
  await checkCalls(calls)

  const errors = victim.logs.filter((call) => call.level === 'error')
  check(errors.length === 0, () => `the victim logged errors: ${JSON.stringify(errors)}`)
  check(thrown.length === 0 && rejections.length === 0, 'something was thrown')
  expectSame(victim.tracker, reference.tracker)
  if (victim.conflicts.length === 0 && !senders.calledAlias) {
    check(
      JSON.stringify(ownConnections(victim.tracker)) === JSON.stringify(connections),
      'a foreign message changed an entry of the node’s own connections',
    )
  }
  checkTracker(victim.tracker)
  checkWritable(victim.tracker)
  await sayGoodbyes(victim, secret)
  check(
    entriesOf(victim.tracker).every((line) => JSON.parse(line)[2] === 'n1'),
    () => `entries of departed nodes are left: ${entriesOf(victim.tracker).join('\n')}`,
  )
  check(victim.tracker.nodes().length === 1, 'departed nodes are still listed')
}

/** A name held by `n2`, which the victim and the reference call through before the shots. */
const HELD = { from: 'n2', inc: 'i1.n2', name: 'shared:1' }

/**
 * Tells both nodes that `n2` holds a name, and has each write through it: a call that
 * waits for `n2`'s reply, which the shots may forge (a reply from `n2` with id 1).
 */
async function openCalls(
  nodes: Node[],
  senders: Senders,
  secret: string | undefined,
): Promise<Array<Promise<unknown>>> {
  const entry = [1, 'room:1', 'shared', `\u0000name:${HELD.name}`, { v: 1 }, 0]
  const registration = [2, HELD.name, `\u0000name:${HELD.name}`, true, null, 0]
  const body = { from: 0, to: 2, extra: [], entries: [entry], names: [registration] }
  const envelope = { v: PROTOCOL_VERSION, from: HELD.from, inc: HELD.inc, type: 'delta', body }
  const bytes = encode(envelope, secret)
  for (const each of nodes) await each.inject(bytes)
  senders.took(envelope)
  return nodes.map((each) =>
    each.tracker.names.update(HELD.name, 'room:1', 'shared', { v: 2 }).then(
      (ref) => ({ ref }),
      (error: unknown) => error,
    ),
  )
}

/** The calls settled (answered, or timed out) alike on both nodes, with known codes. */
async function checkCalls(calls: Array<Promise<unknown>>): Promise<void> {
  const outcomes = await Promise.all(calls)
  for (const outcome of outcomes) {
    const settled = outcome instanceof Error ? isKnownError(outcome) : true
    check(settled, () => `a call through a name failed with ${String(outcome)}`)
  }
  const [a, b] = outcomes.map((outcome) =>
    outcome instanceof PresenceError ? outcome.code : JSON.stringify(outcome),
  )
  check(a === b, `the call ended as ${a} on the victim and as ${b} on the reference`)
}

function expectSame(victim: Tracker<Meta>, reference: Tracker<Meta>): void {
  const a = entriesOf(victim, false)
  const b = entriesOf(reference, false)
  check(
    JSON.stringify(a) === JSON.stringify(b),
    () => `entries differ:\n${a.join('\n')}\n--\n${b.join('\n')}`,
  )
  check(JSON.stringify(namesOf(victim)) === JSON.stringify(namesOf(reference)), 'names differ')
  check(
    JSON.stringify(peersOf(victim)) === JSON.stringify(peersOf(reference)),
    () => `peers differ: ${peersOf(victim)} vs ${peersOf(reference)}`,
  )
}

/** Every node the victim knows says goodbye: none of their entries or names may stay. */
async function sayGoodbyes(victim: Node, secret: string | undefined): Promise<void> {
  for (const info of victim.tracker.nodes().slice(1)) {
    const goodbye = { to: null, names: [] }
    const envelope = {
      v: PROTOCOL_VERSION,
      from: info.node,
      inc: info.incarnation,
      type: 'goodbye',
      body: goodbye,
    }
    await victim.inject(encode(envelope, secret))
  }
}

// ---- shots ------------------------------------------------------------------------------

type Signing = 'match' | 'unsigned' | 'other'

const signing = fc.constantFrom<Signing>('match', 'match', 'match', 'unsigned', 'other')

/** Encodes with the run's secret, none, or a wrong one; what that alone implies. */
function sign(
  envelope: Envelope,
  how: Signing,
  secret: string | undefined,
): { bytes: Uint8Array; refused: boolean } | undefined {
  const key = how === 'match' ? secret : how === 'other' ? 'guess' : undefined
  try {
    const bytes = encode(envelope, key)
    return { bytes, refused: key !== secret }
  } catch {
    return undefined
  }
}

const sender = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('n2', 'n3', 'a') },
  { weight: 1, arbitrary: fc.constantFrom('n1', 'a@b', 'b', 'x'.repeat(300)) },
)
/** Mostly an incarnation of the sender's own, sometimes one another sender uses too. */
const incarnation = (from: string) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom('i1', 'i2').map((inc) => `${inc}.${from.slice(0, 9)}`),
    },
    { weight: 1, arbitrary: fc.constantFrom('i1', 'a', 'b@a', '', 'x@a', 'x') },
  )

const envelopeOf = (type: unknown, body: unknown) =>
  sender
    .chain((from) =>
      fc.record({
        from: fc.constant(from),
        inc: incarnation(from),
        to: fc.constantFrom(undefined, undefined, 'n1', 'n2'),
      }),
    )
    .map(({ from, inc, to }): Envelope => {
      const envelope: Envelope = { v: PROTOCOL_VERSION, from, inc, type: type as string, body }
      if (to !== undefined) envelope.to = to
      return envelope
    })

/** Whether a well-formed message from `envelope` reaches a handler at all. */
function isHandled(envelope: Envelope): boolean {
  return envelope.from !== 'n1' && (envelope.to === undefined || envelope.to === 'n1')
}

export const randomBytes: fc.Arbitrary<Shot> = fc
  .oneof(
    fc.uint8Array({ maxLength: 80 }),
    fc
      .tuple(fc.constantFrom(0, 1, 2, 3), fc.uint8Array({ maxLength: 80 }))
      .map(([flags, rest]) => Uint8Array.from([0xc7, PROTOCOL_VERSION, flags, ...rest])),
  )
  .map((bytes) => shot(bytes, () => ({ bytes, expect: bytes[0] === 0xc7 ? 'any' : 'drop' })))

const typeOrUnknown = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom<string>(...TYPES) },
  { weight: 1, arbitrary: fc.constantFrom('', 'takeover', '__proto__', 'constructor') },
)

/** A well-formed envelope of any type with a random body. */
export const randomBody: fc.Arbitrary<Shot> = fc
  .tuple(typeOrUnknown, fc.oneof(wireValue, hostileValue, gapSection), signing)
  .chain(([type, body, how]) => envelopeOf(type, body).map((envelope) => ({ envelope, how })))
  .map(({ envelope, how }) =>
    shot({ envelope, how }, (secret) => {
      const signed = sign(envelope, how, secret)
      return signed && { bytes: signed.bytes, expect: signed.refused ? 'drop' : 'any' }
    }),
  )

const typeArb = fc.constantFrom<MessageType>(...TYPES)

/** A body valid by construction (accepted), or one broken on purpose (refused). */
export const constructedBody: fc.Arbitrary<Shot> = typeArb
  .chain((type) =>
    fc.record({
      type: fc.constant(type),
      body: validBodies[type],
      breaker: fc.option(fc.nat(breakers[type].length - 1), { freq: 2 }),
      how: signing,
    }),
  )
  .chain(({ type, body, breaker, how }) => {
    const final =
      breaker === null ? body : breakers[type][breaker]!(body as Record<string, unknown>)
    return envelopeOf(type, final).map((envelope) => ({ envelope, how, broken: breaker !== null }))
  })
  .map(({ envelope, how, broken }) =>
    shot({ envelope, how, broken }, (secret) => {
      const signed = sign(envelope, how, secret)
      if (!signed) return undefined
      if (signed.refused) return { bytes: signed.bytes, expect: 'drop' }
      if (!isHandled(envelope)) return { bytes: signed.bytes, expect: 'any' }
      return { bytes: signed.bytes, expect: broken ? 'drop' : 'accept' }
    }),
  )

/** A real message from the corpus, as it was or mutated. */
export function capturedShot(messages: Envelope[], at?: number): fc.Arbitrary<Shot> {
  return fc
    .record({
      index: at === undefined ? fc.nat(messages.length - 1) : fc.constant(at),
      tree: fc.option(treeMutation, { freq: 2 }),
      field: fc.option(envelopeMutation, { freq: 5 }),
      bytes: fc.option(byteMutation, { freq: 4 }),
      how: signing,
    })
    .map((parts) => {
      const { index, tree, field, bytes, how } = parts
      const original = messages[index]!
      return shot({ type: original.type, ...parts }, (secret) => {
        let envelope = original
        if (tree) envelope = { ...envelope, body: mutateTree(envelope.body, tree) }
        if (field) envelope = mutateEnvelope(envelope, field as MutatedField)
        const signed = sign(envelope, how, secret)
        if (!signed) return undefined
        const out = bytes ? mutateBytes(signed.bytes, bytes) : signed.bytes
        if (signed.refused && !bytes) return { bytes: out, expect: 'drop' }
        return { bytes: out, expect: !tree && !field && !bytes ? 'accept' : 'any' }
      })
    })
}

/** The scenario in its order, each message kept or not, as it was or mutated. */
export function capturedFlow(messages: Envelope[]): fc.Arbitrary<Shot[]> {
  const plan = fc.tuple(...messages.map((_, index) => fc.option(capturedShot(messages, index))))
  return plan.map((shots) => shots.filter((each): each is Shot => each !== null))
}

type MutatedField = { field: keyof Envelope; value: unknown }

/** Signed or not; names mostly on, sometimes off (a cluster where one node forgot them). */
export const setupArb: fc.Arbitrary<Setup> = fc.record({
  secret: fc.constantFrom(undefined, SECRET),
  names: fc.constantFrom(true, true, true, false),
})
