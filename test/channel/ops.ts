/** Random operations on one topic, with time moving between them, for channel tests. */
import fc from 'fast-check'
import type { ManualClock } from '../../src/testing/index.js'
import type { Tracker } from '../../src/tracker.js'
import type { Meta } from '../../src/types.js'

const OWNERS = ['s1', 's2', 's3']
const KEYS = ['alice', 'bob', '__proto__']
export const TOPIC = 'room'

export type Op =
  | { kind: 'track' | 'update' | 'untrack'; owner: number; key: number; n: number }
  | { kind: 'untrackAll'; owner: number }
  | { kind: 'wait'; ms: number }
  | { kind: 'noise'; owner: number }

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constantFrom('track' as const, 'update' as const, 'untrack' as const),
      owner: fc.nat(OWNERS.length - 1),
      key: fc.nat(KEYS.length - 1),
      n: fc.nat(5),
    }),
  },
  fc.record({ kind: fc.constant('untrackAll' as const), owner: fc.nat(OWNERS.length - 1) }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.nat(120) }) },
  fc.record({ kind: fc.constant('noise' as const), owner: fc.nat(OWNERS.length - 1) }),
)

/** Applies one op, ignoring the refusals a random sequence runs into. */
export async function run(tracker: Tracker<Meta>, clock: ManualClock, op: Op): Promise<void> {
  if (op.kind === 'wait') {
    await clock.advance(op.ms)
    return
  }
  const owner = OWNERS[op.owner]!
  if (op.kind === 'untrackAll') return tracker.untrackAll(owner)
  if (op.kind === 'noise') {
    if (tracker.get('lobby', owner).length === 0) tracker.track(owner, 'lobby', owner, {})
    else tracker.untrack(owner, 'lobby', owner)
    return
  }
  const key = KEYS[op.key]!
  const own = tracker.get(TOPIC, key).some((info) => info.owner === owner)
  if (op.kind === 'track' && !own) tracker.track(owner, TOPIC, key, { n: op.n })
  if (op.kind === 'update' && own) tracker.update(owner, TOPIC, key, { n: op.n })
  if (op.kind === 'untrack') tracker.untrack(owner, TOPIC, key)
}
