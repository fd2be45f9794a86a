/**
 * Names across a cluster: registrations replicate, calls through a name held elsewhere
 * are forwarded and resolve once merged here, errors keep their codes, conflicts settle
 * on the lowest (nodeId, incarnation), and standalone names outlive their node.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { PresenceError } from '../../src/errors.js'
import type { Tracker } from '../../src/tracker.js'
import type { Meta } from '../../src/types.js'
import { expectError, expectRejection } from '../core/helpers.js'
import { deafTo, eventsOf, expectConverged, keysIn, SIM_PERIODS, Sim } from '../helpers/cluster.js'

const { broadcastPeriod, downPeriod, callTimeout } = SIM_PERIODS
const GAME = '\u0000name:game'

let sim: Sim

afterEach(async () => {
  await sim.closeAll()
})

/** a holds a standalone name `game` with one entry in `room`; b and c are in the room. */
async function withGame() {
  sim = new Sim()
  const [a, b, c] = await sim.start('a', 'b', 'c')
  a!.names.create('game', { releaseWhenAlone: 'room' })
  const ref = a!.track({ name: 'game' }, 'room', 'game', { phase: 'lobby' })
  b!.track('s1', 'room', 'bob', {})
  c!.track('s1', 'room', 'carol', {})
  await sim.settle()
  return { a: a!, b: b!, c: c!, ref }
}

/** Marks a call's rejection handled at once; awaiting it later still sees it. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined)
  return promise
}

/** What `tracker` shows of `key` in `topic` when `promise` settles. */
function seenWhenSettled<T>(
  promise: Promise<T>,
  tracker: Tracker<Meta>,
  topic: string,
  key: string,
) {
  const seen: { value?: T; error?: unknown; entries?: unknown } = {}
  const settled = promise.then(
    (value) => {
      seen.value = value
      seen.entries = tracker.get(topic, key)
    },
    (error: unknown) => {
      seen.error = error
    },
  )
  return { seen, settled }
}

describe('registrations replicate', () => {
  it('every node can look up a name, alias or standalone, and sees it go', async () => {
    sim = new Sim()
    const trackers = await sim.start('a', 'b', 'c')
    const [a] = trackers
    a!.track('s1', 'room', 'alice', {})
    a!.names.register('alice-tab', 's1')
    a!.names.create('game')
    await sim.settle()

    for (const tracker of trackers) {
      expect(tracker.names.lookup('alice-tab')).toEqual({ node: 'a', owner: 's1' })
      expect(tracker.names.lookup('game')).toEqual({ node: 'a', owner: GAME })
      expect(tracker.names.whereis('game')).toBe(GAME)
      expect(tracker.names.list().sort()).toEqual(['alice-tab', 'game'])
    }

    a!.names.unregister('game')
    a!.untrack('s1', 'room', 'alice')
    await sim.settle()
    for (const tracker of trackers) expect(tracker.names.list()).toEqual([])
  })

  it('a name held elsewhere is taken: create and register throw name_taken', async () => {
    const { b } = await withGame()
    expectError(() => b.names.create('game'), 'name_taken', /held by node "a"/)
    expectError(() => b.names.register('game', 's1'), 'name_taken')
  })
})

describe('calls forwarded to the holder', () => {
  it('names.update resolves with the ref once the change is in the caller copy', async () => {
    const { a, b, c } = await withGame()
    const call = seenWhenSettled(
      b.names.update('game', 'room', 'game', { phase: 'vote' }),
      b,
      'room',
      'game',
    )
    await sim.settle()
    await call.settled

    const ref = call.seen.value
    expect(ref).toEqual(expect.any(String))
    expect(call.seen.entries).toEqual([{ node: 'a', owner: GAME, meta: { phase: 'vote' }, ref }])
    expect(a.get('room', 'game')[0]!.ref).toBe(ref)
    expectConverged([a, b, c])
  })

  it('a function update reads the caller copy, and is retried when it went stale', async () => {
    const { a, b } = await withGame()
    const bump = (prev: Readonly<Meta>) => ({ ...prev, n: ((prev.n as number) ?? 0) + 1 })
    const first = handled(b.names.update('game', 'room', 'game', bump))
    // A write on the holder that b has not seen yet makes b's first attempt stale.
    a.update({ name: 'game' }, 'room', 'game', { phase: 'vote', n: 10 })
    await sim.settle()
    await first
    expect(b.get('room', 'game')[0]!.meta).toEqual({ phase: 'vote', n: 11 })
  })

  it('names.track and names.untrack are forwarded too', async () => {
    const { a, b } = await withGame()
    const tracked = seenWhenSettled(
      b.names.track('game', 'room', 'deck', { cards: 3 }),
      b,
      'room',
      'deck',
    )
    await sim.settle()
    await tracked.settled
    expect(tracked.seen.entries).toEqual([
      { node: 'a', owner: GAME, meta: { cards: 3 }, ref: tracked.seen.value },
    ])

    const untracked = seenWhenSettled(b.names.untrack('game', 'room', 'deck'), b, 'room', 'deck')
    await sim.settle()
    await untracked.settled
    expect(untracked.seen).toEqual({ value: undefined, entries: [] })
    expect(keysIn(a, 'room')).toEqual(['bob', 'carol', 'game'])
  })

  it('a reply that overtakes the delta waits for it: the caller asks for a transfer', async () => {
    sim = new Sim()
    let deaf = false
    const a = sim.add('a').tracker
    const b = sim.add('b', { wrap: deafTo('all', () => deaf) }).tracker
    await sim.advance(2 * broadcastPeriod)
    a.names.create('game')
    a.track({ name: 'game' }, 'room', 'game', { phase: 'lobby' })
    await sim.settle()

    deaf = true
    const call = seenWhenSettled(
      b.names.update('game', 'room', 'game', { phase: 'vote' }),
      b,
      'room',
      'game',
    )
    await sim.advance(100)
    expect(call.seen.error).toBeUndefined()
    expect(call.seen.entries).toMatchObject([{ meta: { phase: 'vote' }, ref: call.seen.value }])
  })

  it('a call follows a name that moved while the caller still saw it on the old node', async () => {
    sim = new Sim()
    let deaf = false
    const a = sim.add('a').tracker
    const b = sim.add('b').tracker
    const c = sim.add('c', { wrap: deafTo('all', () => deaf) }).tracker
    await sim.advance(2 * broadcastPeriod)
    a.names.create('game')
    a.track({ name: 'game' }, 'room', 'game', { v: 0 })
    b.track('s1', 'room', 'bob', {})
    await sim.settle()

    // c misses a's goodbye (which hands the name to b) and a's restart.
    deaf = true
    await a.close()
    sim.nodes.delete('a')
    const restarted = sim.add('a').tracker
    await sim.settle()
    expect(restarted.names.lookup('game')?.node).toBe('b')
    expect(c.names.lookup('game')?.node).toBe('a')

    const update = c.names.update('game', 'room', 'game', { v: 1 })
    const call = seenWhenSettled(update, c, 'room', 'game')
    await sim.advance(100)
    expect(call.seen.error).toBeUndefined()
    expect(call.seen.entries).toContainEqual(expect.objectContaining({ node: 'b', meta: { v: 1 } }))
    expect(b.get('room', 'game')).toMatchObject([{ node: 'b', meta: { v: 1 } }])
  })

  it('a synchronous update({ name }) of a name held elsewhere throws remote_name', async () => {
    const { b } = await withGame()
    const error = expectError(
      () => b.update({ name: 'game' }, 'room', 'game', { phase: 'x' }),
      'remote_name',
      /held by node "a".*tracker\.names\.update/,
    )
    expect(error.node).toBe('a')
    expectError(() => b.track({ name: 'game' }, 'room', 'k', {}), 'remote_name')
    expectError(() => b.untrack({ name: 'game' }, 'room', 'game'), 'remote_name')
  })
})

describe('errors come back with the codes a local call throws', () => {
  it('nopresence, for an entry the name does not hold', async () => {
    const { b } = await withGame()
    const remote = handled(b.names.update('game', 'room', 'nothing', { x: 1 }))
    const local = handled(b.names.update('game', 'room', 'nothing', (prev) => prev))
    await sim.settle()
    const error = await expectRejection(remote, 'nopresence', /key "nothing"/)
    expect(error.node).toBe('a')
    await expectRejection(local, 'nopresence')
  })

  it('stale, when ifRef is not the current ref', async () => {
    const { b, ref } = await withGame()
    const moved = await (async () => {
      const p = b.names.update('game', 'room', 'game', { phase: 'vote' }, { ifRef: ref })
      await sim.settle()
      return p
    })()
    const stale = handled(b.names.update('game', 'room', 'game', { phase: 'x' }, { ifRef: ref }))
    await sim.settle()
    await expectRejection(stale, 'stale', new RegExp(`"${ref}", but it is "${moved}"`))
    expect(b.get('room', 'game')[0]!.meta).toEqual({ phase: 'vote' })
  })

  it('forbidden, when the holder canWrite refuses the writer', async () => {
    sim = new Sim()
    const strict = { canWrite: (as: string) => as.startsWith('player') }
    const a = sim.add('a', { tracker: { names: strict } }).tracker
    // b lets anyone through, so only the holder's rule can refuse.
    const b = sim.add('b', { tracker: { names: { canWrite: () => true } } }).tracker
    await sim.advance(2 * broadcastPeriod)
    a.names.create('game')
    a.track({ name: 'game', as: 'player1' }, 'room', 'game', {})
    await sim.settle()

    const refused = handled(
      b.names.update({ name: 'game', as: 'spectator' }, 'room', 'game', { x: 1 }),
    )
    const allowed = handled(
      b.names.update({ name: 'game', as: 'player2' }, 'room', 'game', { x: 2 }),
    )
    await sim.settle()
    await expectRejection(refused, 'forbidden', /"spectator" may not write through name "game"/)
    await expect(allowed).resolves.toEqual(expect.any(String))
    await expectRejection(
      b.names.update('game', 'room', 'game', {}),
      'forbidden',
      /on whose behalf/,
    )
    expect(a.get('room', 'game')[0]!.meta).toEqual({ x: 2 })
  })

  it('unknown_name, for a name nobody holds, or one released before the call arrived', async () => {
    const { a, b } = await withGame()
    await expectRejection(b.names.update('nope', 'room', 'k', {}), 'unknown_name')

    a.names.unregister('game')
    const late = handled(b.names.update('game', 'room', 'game', { phase: 'x' }))
    await sim.settle()
    const error = await expectRejection(late, 'unknown_name')
    expect(error.node).toBe('a')
  })
})

describe('calls to a node that stops answering', () => {
  it('reject with timeout after callTimeout while the holder is silent but not down', async () => {
    const { b } = await withGame()
    sim.crash('a')
    const call = seenWhenSettled(
      b.names.update('game', 'room', 'game', { x: 1 }),
      b,
      'room',
      'game',
    )
    await sim.advance(callTimeout - 1)
    expect(call.seen).toEqual({})
    await sim.advance(1)
    await call.settled
    expect((call.seen.error as PresenceError).code).toBe('timeout')
    expect((call.seen.error as PresenceError).message).toMatch(`within ${callTimeout} ms`)
    expect(b.nodes().find((n) => n.node === 'a')!.status).toBe('up')
  })

  it('reject with nodedown as soon as the holder is found down', async () => {
    sim = new Sim({ cluster: { callTimeout: 60_000 } })
    const [a, b] = await sim.start('a', 'b')
    a!.names.create('game')
    a!.track({ name: 'game' }, 'room', 'game', {})
    await sim.settle()
    sim.crash('a')
    const crashedAt = sim.clock.now()
    const call = seenWhenSettled(b!.names.update('game', 'room', 'game', { x: 1 }), b!, 'r', 'k')

    await sim.advance(downPeriod - broadcastPeriod)
    expect(call.seen).toEqual({})
    await sim.advance(2 * broadcastPeriod)
    await call.settled
    expect((call.seen.error as PresenceError).code).toBe('nodedown')
    expect(sim.clock.now() - crashedAt).toBeLessThan(60_000)
  })

  it('reject with closed when the caller closes first', async () => {
    const { b } = await withGame()
    sim.crash('a')
    const call = handled(b.names.update('game', 'room', 'game', { x: 1 }))
    await b.close()
    sim.nodes.delete('b')
    await expectRejection(call, 'closed')
  })
})

describe('conflicts', () => {
  it('after a partition heals, every node keeps the lowest (nodeId, incarnation)', async () => {
    sim = new Sim()
    const trackers = await sim.start('a', 'b', 'c')
    const [a, b, c] = trackers
    c!.track('s1', 'room', 'carol', {})
    await sim.settle()
    sim.network.partition(['a'], ['b', 'c'])
    await sim.advance(broadcastPeriod)

    a!.names.create('game')
    a!.track({ name: 'game' }, 'room', 'game', { side: 'a' })
    b!.names.create('game')
    b!.track({ name: 'game' }, 'room', 'game', { side: 'b' })
    b!.track({ name: 'game' }, 'room', 'extra', {})
    await sim.settle()
    expect(c!.names.lookup('game')).toEqual({ node: 'b', owner: GAME })

    sim.network.heal()
    await sim.advance(2 * broadcastPeriod)
    for (const tracker of trackers) {
      expect(tracker.names.lookup('game')).toEqual({ node: 'a', owner: GAME })
      expect(tracker.get('room', 'game')).toMatchObject([{ node: 'a', meta: { side: 'a' } }])
    }
    expectConverged(trackers)
    expect(keysIn(c!, 'room')).toEqual(['carol', 'game'])
    expect(eventsOf(sim.node('b'), 'name_conflict')).toEqual([
      { name: 'game', winner: { node: 'a', owner: GAME }, loser: { node: 'b', owner: GAME } },
    ])
    expect(eventsOf(sim.node('a'), 'name_conflict')).toEqual([])
    await expect(
      c!.names.update('game', 'room', 'game', { side: 'c' }).then(() => 'ok'),
    ).resolves.toBe('ok')
  })

  it('a losing alias loses only the alias: the connection keeps its entries', async () => {
    sim = new Sim()
    const trackers = await sim.start('a', 'b')
    const [a, b] = trackers
    sim.network.partition(['a'], ['b'])
    a!.track('s1', 'room', 'alice', {})
    a!.names.register('host', 's1')
    b!.track('s7', 'room', 'bob', {})
    b!.track('s7', 'lobby', 'bob', {})
    b!.names.register('host', 's7')
    await sim.settle()

    sim.network.heal()
    await sim.advance(2 * broadcastPeriod)
    for (const tracker of trackers) {
      expect(tracker.names.lookup('host')).toEqual({ node: 'a', owner: 's1' })
      expect(keysIn(tracker, 'room')).toEqual(['alice', 'bob'])
      expect(keysIn(tracker, 'lobby')).toEqual(['bob'])
    }
    expect(eventsOf(sim.node('b'), 'name_conflict')).toMatchObject([
      { name: 'host', loser: { node: 'b', owner: 's7' } },
    ])
    expect(eventsOf(sim.node('b'), 'leave')).toEqual([])
    expectConverged(trackers)
  })

  it('two nodes that create one name at the same moment settle the same way', async () => {
    sim = new Sim()
    const trackers = await sim.start('a', 'b', 'c')
    trackers[2]!.names.create('game')
    trackers[1]!.names.create('game')
    await sim.settle()
    for (const tracker of trackers) expect(tracker.names.lookup('game')?.node).toBe('b')
    expect(eventsOf(sim.node('c'), 'name_conflict')).toHaveLength(1)
  })
})

describe('standalone names outlive their node', () => {
  it('close() hands them over: the others see an update, and the entry lives on', async () => {
    const { a, b, c } = await withGame()
    await b.names.update('game', 'room', 'game', { phase: 'vote' }).finally(() => undefined)
    for (const id of ['b', 'c']) sim.node(id).events.length = 0

    const settled = a.close()
    await sim.settle()
    await settled
    sim.nodes.delete('a')

    for (const tracker of [b, c]) {
      expect(tracker.names.lookup('game')).toEqual({ node: 'b', owner: GAME })
      expect(tracker.get('room', 'game')).toMatchObject([{ node: 'b', meta: { phase: 'vote' } }])
    }
    for (const id of ['b', 'c']) {
      expect(eventsOf(sim.node(id), 'leave')).toEqual([])
      expect(eventsOf(sim.node(id), 'update')).toMatchObject([
        { key: 'game', node: 'b', meta: { phase: 'vote' }, prevMeta: { phase: 'vote' } },
      ])
    }
    const ref = await (async () => {
      const p = c.names.update('game', 'room', 'game', { phase: 'done' })
      await sim.settle()
      return p
    })()
    expect(b.get('room', 'game')[0]).toMatchObject({ ref, meta: { phase: 'done' } })
    expectConverged([b, c])
  })

  it('when the holder crashes, the top-ranked live node takes over after downPeriod', async () => {
    const { b, c } = await withGame()
    await (async () => {
      const p = c.names.update('game', 'room', 'game', { phase: 'vote' })
      await sim.settle()
      return p
    })()
    sim.crash('a')
    await sim.advance(downPeriod - broadcastPeriod)
    expect(b.names.lookup('game')?.node).toBe('a')

    await sim.advance(2 * broadcastPeriod + 10)
    for (const tracker of [b, c]) {
      expect(tracker.names.lookup('game')).toEqual({ node: 'b', owner: GAME })
      expect(tracker.get('room', 'game')).toMatchObject([{ node: 'b', meta: { phase: 'vote' } }])
    }
    expect(eventsOf(sim.node('b'), 'update')).toContainEqual(
      expect.objectContaining({ key: 'game', node: 'b', origin: 'takeover' }),
    )
    expect(eventsOf(sim.node('c'), 'name_conflict')).toEqual([])
    expectConverged([b, c])
  })

  it('a holder that restarts before it is found down has its name taken over at once', async () => {
    const { a, b, c } = await withGame()
    await handled(b.names.update('game', 'room', 'game', { phase: 'vote' }))
    await sim.settle()
    sim.crash('a')
    await a.close()
    const restarted = sim.add('a').tracker
    await sim.settle()

    for (const tracker of [b, c, restarted]) {
      expect(tracker.names.lookup('game')).toEqual({ node: 'b', owner: GAME })
      expect(tracker.get('room', 'game')).toMatchObject([{ node: 'b', meta: { phase: 'vote' } }])
    }
    expect(eventsOf(sim.node('b'), 'update')).toContainEqual(
      expect.objectContaining({ key: 'game', node: 'b', origin: 'takeover' }),
    )
    expectConverged([b, c, restarted])
  })

  it('an alias whose node goes down is released', async () => {
    sim = new Sim()
    const [a, b] = await sim.start('a', 'b')
    a!.track('s1', 'room', 'alice', {})
    a!.names.register('host', 's1')
    await sim.settle()
    sim.crash('a')
    await sim.advance(downPeriod + broadcastPeriod)
    expect(b!.names.lookup('host')).toBeUndefined()
    await expectRejection(b!.names.update('host', 'room', 'alice', {}), 'unknown_name')
  })

  it('a holder cut off by a partition gets its name back when it heals', async () => {
    const { a, b, c } = await withGame()
    sim.network.isolate('a')
    await sim.advance(downPeriod + broadcastPeriod)
    expect(b.names.lookup('game')?.node).toBe('b')

    sim.network.heal()
    await sim.advance(2 * broadcastPeriod)
    for (const tracker of [a, b, c]) {
      expect(tracker.names.lookup('game')).toEqual({ node: 'a', owner: GAME })
      expect(tracker.get('room', 'game')).toHaveLength(1)
    }
    expectConverged([a, b, c])
  })
})
