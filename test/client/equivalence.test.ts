/**
 * rollcall's client against the `phoenix` npm package's Presence, over random sequences
 * of the messages a Phoenix server sends: same states, same list() output, same callbacks.
 */
import fc from 'fast-check'
import { Presence, type PresenceChannel } from 'phoenix'
import { describe, expect, it } from 'vitest'
import { list, PresenceClient, syncDiff, syncState } from '../../src/client/index.js'
import type { KeyPresence, PresenceDiff } from '../../src/types.js'
import {
  batchesArb,
  diffBetween,
  type ModelEvent,
  opArb,
  RoomModel,
  type TestMeta,
  type TestState,
  timeline,
  wire,
} from './model.js'

type Calls = unknown[]
type Step = { state: TestState } | { diff: PresenceDiff<TestMeta> }

function recorder(calls: Calls) {
  const record =
    (kind: string) => (key: string, a?: KeyPresence<TestMeta>, b?: KeyPresence<TestMeta>) => {
      calls.push(wire([kind, key, a ?? null, b ?? null]))
    }
  return { onJoin: record('join'), onLeave: record('leave') }
}

/** A sequence of states and diffs: reconnects (a state) now and then, missed diffs between. */
const stepsArb = fc
  .tuple(
    batchesArb,
    fc.array(fc.boolean(), { maxLength: 30 }),
    fc.array(fc.boolean(), { maxLength: 30 }),
  )
  .map(([batches, reconnects, missed]) => {
    const { states, diffs } = timeline(batches)
    const steps: Step[] = [{ state: states[0]! }]
    diffs.forEach((diff, i) => {
      if (reconnects[i]) steps.push({ state: states[i + 1]! })
      else if (!missed[i]) steps.push({ diff })
    })
    return { steps, final: states[states.length - 1]! }
  })

describe('syncState / syncDiff against phoenix 1.8.16', () => {
  it('reach the same states, lists and callbacks', () => {
    fc.assert(
      fc.property(stepsArb, ({ steps }) => {
        let ours: TestState = {}
        let theirs: TestState = {}
        const ourCalls: Calls = []
        const theirCalls: Calls = []
        const ourCallbacks = recorder(ourCalls)
        const theirCallbacks = recorder(theirCalls)
        for (const step of steps) {
          if ('state' in step) {
            ours = syncState(ours, wire(step.state), ourCallbacks.onJoin, ourCallbacks.onLeave)
            theirs = Presence.syncState(
              theirs,
              wire(step.state),
              theirCallbacks.onJoin,
              theirCallbacks.onLeave,
            )
          } else {
            ours = syncDiff(ours, wire(step.diff), ourCallbacks.onJoin, ourCallbacks.onLeave)
            theirs = Presence.syncDiff(
              theirs,
              wire(step.diff),
              theirCallbacks.onJoin,
              theirCallbacks.onLeave,
            )
          }
          expect(ours).toEqual(theirs)
          expect(Object.keys(ours)).toEqual(Object.keys(theirs))
        }
        expect(list(ours)).toEqual(Presence.list(theirs))
        expect(ourCalls).toEqual(theirCalls)
      }),
      { numRuns: 300 },
    )
  })

  it('end in the server model’s state when no diff was missed', () => {
    fc.assert(
      fc.property(batchesArb, (batches) => {
        const { states, diffs } = timeline(batches)
        let state = syncState({}, wire(states[0]!))
        for (const diff of diffs) state = syncDiff(state, wire(diff))
        expect(state).toEqual(states[states.length - 1])
      }),
    )
  })
})

/** A channel as phoenix's Presence sees it: handlers by event, and a join ref. */
function fakeChannel() {
  const handlers = new Map<string, (payload: never) => void>()
  let joinRef = 1
  const channel: PresenceChannel = {
    on: (event, callback) => handlers.set(event, callback),
    joinRef: () => String(joinRef),
  }
  const push = (event: string, payload: unknown) => handlers.get(event)!(payload as never)
  return { channel, push, rejoin: () => (joinRef += 1) }
}

/**
 * Connections: each subscribes after some batch, sees some of the diffs after it before its
 * state (as can happen on a Phoenix channel), then the rest until the next connection.
 */
const connectionsArb = fc
  .tuple(batchesArb, fc.array(fc.tuple(fc.nat(30), fc.nat(3)), { minLength: 1, maxLength: 4 }))
  .map(([batches, picks]) => {
    const { states, diffs } = timeline(batches)
    const starts = [...new Set(picks.map(([at]) => at % states.length))].sort((a, b) => a - b)
    const connections = starts.map((start, i) => {
      const end = starts[i + 1] ?? diffs.length
      const early = picks[i]![1]
      return { state: states[start]!, diffs: diffs.slice(start, end), early }
    })
    return { connections, final: states[states.length - 1]! }
  })

describe('PresenceClient against phoenix 1.8.16 Presence', () => {
  it('holds early diffs and reconciles reconnects to the same list', () => {
    fc.assert(
      fc.property(connectionsArb, ({ connections, final }) => {
        const { channel, push, rejoin } = fakeChannel()
        const theirs = new Presence<TestMeta>(channel)
        const ours = new PresenceClient<TestMeta>()
        const mirror = mirrorOf(ours)
        const deliver = (event: 'presence_state' | 'presence_diff', payload: unknown) => {
          push(event, wire(payload))
          ours.receive(wire({ event, payload }))
          expect(ours.inPendingSyncState()).toBe(theirs.inPendingSyncState())
        }
        connections.forEach(({ state, diffs, early }, i) => {
          if (i > 0) {
            rejoin()
            ours.reset()
          }
          for (const diff of diffs.slice(0, early)) deliver('presence_diff', diff)
          deliver('presence_state', state)
          for (const diff of diffs.slice(early)) deliver('presence_diff', diff)
          expect(ours.list()).toEqual(theirs.list())
        })
        expect(ours.state).toEqual(final)
        expect(mirror()).toEqual(refsByKey(ours.state))
      }),
      { numRuns: 300 },
    )
  })
})

describe('PresenceClient events', () => {
  it('tell each join, update and leave of a live room exactly once', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const client = new PresenceClient<TestMeta>()
        const seen: ModelEvent[] = []
        client.on('join', (key, meta) => seen.push({ kind: 'join', key, ref: meta.phx_ref }))
        client.on('leave', (key, meta) => seen.push({ kind: 'leave', key, ref: meta.phx_ref }))
        client.on('update', (key, meta, previous) => {
          seen.push({ kind: 'update', key, ref: meta.phx_ref, previous: previous.phx_ref })
        })
        const model = new RoomModel()
        client.receive(wire({ event: 'presence_state', payload: model.snapshot() }))
        const expected: ModelEvent[] = []
        for (const op of ops) {
          const before = model.snapshot()
          const event = model.apply(op)
          if (event) expected.push(event)
          const payload = diffBetween(before, model.snapshot())
          client.receive(wire({ event: 'presence_diff', payload }))
        }
        expect(seen).toEqual(expected)
      }),
    )
  })
})

/** Rebuilds the refs of every key from the client's join/update/leave events alone. */
function mirrorOf(client: PresenceClient<TestMeta>): () => Record<string, string[]> {
  const refs = new Map<string, Set<string>>()
  const of = (key: string) => refs.get(key) ?? refs.set(key, new Set()).get(key)!
  client.on('join', (key, meta) => {
    expect(of(key).has(meta.phx_ref)).toBe(false)
    of(key).add(meta.phx_ref)
  })
  client.on('update', (key, meta, previous) => {
    expect(of(key).delete(previous.phx_ref)).toBe(true)
    of(key).add(meta.phx_ref)
  })
  client.on('leave', (key, meta) => {
    expect(of(key).delete(meta.phx_ref)).toBe(true)
  })
  return () => {
    const result: Record<string, string[]> = Object.create(null)
    for (const [key, set] of refs) if (set.size > 0) result[key] = [...set].sort()
    return result
  }
}

function refsByKey(
  state: Readonly<Record<string, { readonly metas: readonly { phx_ref: string }[] }>>,
) {
  const result: Record<string, string[]> = Object.create(null)
  for (const key of Object.keys(state)) result[key] = state[key]!.metas.map((m) => m.phx_ref).sort()
  return result
}
