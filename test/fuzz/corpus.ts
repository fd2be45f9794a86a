/**
 * Real cluster messages to mutate: a scenario between nodes `n1` and `n2` (tracks,
 * updates, untracks, names, calls both ways, a missed delta and its transfer, a goodbye
 * that hands a name over), with every message `n2` sends captured in order. The node a
 * fuzz run attacks is a fresh `n1` set up as {@link setUpVictim} sets it up, so the
 * captured messages make sense to it.
 */
import { decode, type Envelope } from '../../src/cluster/codec.js'
import type { Meta } from '../../src/index.js'
import { ManualClock, MemoryNetwork } from '../../src/testing/index.js'
import { Tracker } from '../../src/tracker.js'

/** Short periods, valid for the cluster's checks, so a run needs little simulated time. */
export const PERIODS = {
  broadcastPeriod: 1_000,
  downPeriod: 5_000,
  permdownPeriod: 20_000,
  callTimeout: 3_000,
} as const

/** The entries and names every victim holds before it is attacked. */
export function setUpVictim(tracker: Tracker<Meta>, names = true): void {
  tracker.track('alice-socket', 'room:1', 'alice', { status: 'online' })
  tracker.track('alice-socket', 'room:2', 'alice', { status: 'busy', n: [1, 2] })
  tracker.track('bob-socket', 'room:1', 'bob', { status: 'away' })
  if (!names) return
  tracker.names.register('alice-alias', 'alice-socket')
  tracker.names.create('board:1')
  tracker.track({ name: 'board:1' }, 'room:1', 'board', { phase: 'voting' })
}

/** The envelopes `n2` sent during the scenario, in order. */
export async function captureCorpus(): Promise<Envelope[]> {
  const clock = new ManualClock()
  const network = new MemoryNetwork()
  const captured: Envelope[] = []
  const spy = network.transport('spy')
  const keep = (bytes: Uint8Array) => {
    const result = decode(bytes)
    if (result.ok && result.envelope.from === 'n2') captured.push(result.envelope)
  }
  for (const channel of ['all', 'node:n1', 'node:n2']) await spy.subscribe(channel, keep)

  const node = (id: string) =>
    new Tracker<Meta>({
      clock,
      names: true,
      cluster: { transport: network.transport(id), nodeId: id, random: () => 0.5, ...PERIODS },
    })
  const n1 = node('n1')
  setUpVictim(n1)
  const n2 = node('n2')
  await clock.advance(2_500)
  await play(n1, n2, network, clock)
  return captured
}

async function play(
  n1: Tracker<Meta>,
  n2: Tracker<Meta>,
  network: MemoryNetwork,
  clock: ManualClock,
): Promise<void> {
  n2.track('carol-socket', 'room:1', 'carol', { status: 'online', tags: ['a', 'b'] })
  n2.track('carol-socket', 'room:3', 'carol', { nested: { deep: { x: 1 } } })
  n2.track('dave-socket', 'room:1', '__proto__', { constructor: 'x' })
  n2.names.create('game:7', { releaseWhenAlone: { topic: 'room:1', graceMs: 500 } })
  n2.track({ name: 'game:7' }, 'room:1', 'game', { round: 1 })
  n2.names.register('carol', 'carol-socket')
  await clock.advance(20)
  n2.update('carol-socket', 'room:1', 'carol', { status: 'away' })
  n2.untrack('carol-socket', 'room:3', 'carol')
  await clock.advance(20)

  await Promise.all([
    n2.names.update('board:1', 'room:1', 'board', { phase: 'revealed' }),
    n1.names.update('game:7', 'room:1', 'game', (prev) => ({ ...prev, round: 2 })),
  ])
  await n2.names.untrack('board:1', 'room:1', 'board').catch(() => undefined)

  network.partition(['n1'], ['n2'])
  n2.track('erin-socket', 'room:2', 'erin', { status: 'online' })
  n1.track('frank-socket', 'room:2', 'frank', {})
  await clock.advance(20)
  network.heal()
  await clock.advance(2_500)

  n2.untrackAll('dave-socket')
  await clock.advance(20)
  await n2.close()
  await n1.close()
  await clock.flush()
}
