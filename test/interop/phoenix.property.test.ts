/**
 * Interop: the messages rollcall's tracker sends, fed to the official `phoenix` client's
 * Presence.syncState/syncDiff and to rollcall's own client, end with exactly the state
 * `tracker.list` returns, over random operations (with and without a diff window).
 */
import fc from 'fast-check'
import { Presence } from 'phoenix'
import { describe, expect, it } from 'vitest'
import { PresenceClient, syncDiff, syncState } from '../../src/client/index.js'
import { Tracker } from '../../src/index.js'
import { ManualClock } from '../../src/testing/index.js'
import type { PresenceMessage, PresenceState } from '../../src/types.js'

type Meta = { status: string }

const owners = ['o1', 'o2', 'o3', '__proto__']
const keys = ['alice', 'bob', 'constructor', '__proto__', 'toString']

const op = fc.oneof(
  fc.record({
    kind: fc.constant('track' as const),
    owner: fc.constantFrom(...owners),
    key: fc.constantFrom(...keys),
    status: fc.string({ maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('update' as const),
    owner: fc.constantFrom(...owners),
    key: fc.constantFrom(...keys),
    status: fc.string({ maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('untrack' as const),
    owner: fc.constantFrom(...owners),
    key: fc.constantFrom(...keys),
  }),
  fc.record({ kind: fc.constant('leaveAll' as const), owner: fc.constantFrom(...owners) }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 40 }) }),
)

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never

function apply(tracker: Tracker<Meta>, step: Op): void {
  const topic = 'room:1'
  if (step.kind === 'track') {
    if (tracker.get(topic, step.key).some((e) => e.owner === step.owner)) return
    tracker.track(step.owner, topic, step.key, { status: step.status })
  } else if (step.kind === 'update') {
    if (!tracker.get(topic, step.key).some((e) => e.owner === step.owner)) return
    tracker.update(step.owner, topic, step.key, { status: step.status })
  } else if (step.kind === 'untrack') {
    tracker.untrack(step.owner, topic, step.key)
  } else if (step.kind === 'leaveAll') {
    tracker.untrackAll(step.owner)
  }
}

/**
 * Compares states by key and by the set of metas (order of metas within a key aside).
 * A coalesced diff may skip the middle version of an entry, and then its join carries no
 * `phx_ref_prev` (DESIGN: it must name a ref the same diff leaves), so with a window the
 * clients' metas are compared without it.
 */
function normalise(state: PresenceState<Meta>, dropPrev = false): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const key of Object.keys(state).sort()) {
    out[`k:${key}`] = state[key]!.metas.map(({ phx_ref_prev, ...rest }) =>
      JSON.stringify(dropPrev ? rest : { ...rest, phx_ref_prev }),
    ).sort()
  }
  return out
}

async function run(ops: Op[], windowMs: number, splitAt: number) {
  const clock = new ManualClock()
  const tracker = new Tracker<Meta>({ clock })
  let phoenixState: PresenceState<Meta> = {}
  let ownState: PresenceState<Meta> = Object.create(null)
  const client = new PresenceClient<Meta>()
  const errors: unknown[] = []
  client.on('error', (error) => errors.push(error))
  const receive = (message: PresenceMessage<Meta>) => {
    // Through JSON, as a socket would carry it.
    const wire = JSON.parse(JSON.stringify(message)) as PresenceMessage<Meta>
    client.receive(JSON.parse(JSON.stringify(message)))
    if (wire.event === 'presence_state') {
      phoenixState = Presence.syncState(phoenixState, wire.payload)
      ownState = syncState(ownState, JSON.parse(JSON.stringify(message.payload)))
    } else if (wire.event === 'presence_diff') {
      phoenixState = Presence.syncDiff(phoenixState, wire.payload)
      ownState = syncDiff(ownState, JSON.parse(JSON.stringify(message.payload)))
    }
  }
  // Some operations happen before the subscriber arrives, so its first state is not empty.
  for (const step of ops.slice(0, splitAt)) apply(tracker, step)
  tracker.subscribe('room:1', receive, { diffWindowMs: windowMs })
  for (const step of ops.slice(splitAt)) {
    if (step.kind === 'tick') await clock.advance(step.ms)
    else apply(tracker, step)
  }
  await clock.advance(windowMs + 1)
  return { tracker, phoenixState, ownState, client, errors }
}

describe('interop with the phoenix client', () => {
  for (const windowMs of [0, 25]) {
    it(`phoenix and rollcall clients end equal to tracker.list (diffWindowMs ${windowMs})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 60 }), fc.nat(20), async (ops, splitAt) => {
          const { tracker, phoenixState, ownState, client, errors } = await run(
            ops,
            windowMs,
            splitAt,
          )
          const coalesced = windowMs > 0
          const expected = normalise(tracker.list('room:1'), coalesced)
          expect(normalise(phoenixState, coalesced)).toEqual(expected)
          expect(normalise(ownState, coalesced)).toEqual(expected)
          expect(normalise(client.state as PresenceState<Meta>, coalesced)).toEqual(expected)
          expect(errors).toEqual([])
          expect(Object.prototype).not.toHaveProperty('status')
        }),
        { numRuns: 300 },
      )
    })
  }

  it('a key named __proto__ reaches both clients as an ordinary key', async () => {
    const { phoenixState, ownState } = await run(
      [{ kind: 'track', owner: 'o1', key: '__proto__', status: 'here' }],
      0,
      0,
    )
    expect(Object.keys(ownState)).toEqual(['__proto__'])
    expect(Object.hasOwn(phoenixState, '__proto__')).toBe(true)
    expect(Object.getPrototypeOf(ownState)).toBe(null)
  })
})
