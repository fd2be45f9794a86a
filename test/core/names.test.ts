import { describe, expect, it, vi } from 'vitest'
import { expectError, expectRejection, setup, snapshot } from './helpers.js'

const STANDALONE = '\u0000name:'

describe('names off', () => {
  it('tracker.names and { name } owners throw names_disabled', () => {
    const { tracker } = setup()
    expectError(() => tracker.names, 'names_disabled', /new Tracker\(\{ names: true \}\)/)
    expectError(() => tracker.update({ name: 'g' }, 'r', 'k', {}), 'names_disabled')
    expectError(() => tracker.untrack({ name: 'g' }, 'r', 'k'), 'names_disabled')
  })
})

describe('register (aliases)', () => {
  it('needs the owner to hold an entry on this node', () => {
    const { tracker } = setup({ names: true })
    const error = expectError(
      () => tracker.names.register('alice-tab', 's1'),
      'nopresence',
      /Expected owner "s1" to hold an entry on this node before it is named "alice-tab"/,
    )
    expect(error.ownerName).toBe('alice-tab')
    expect(tracker.names.whereis('alice-tab')).toBeUndefined()
  })

  it('lets anyone update the owner entries through { name }', () => {
    const { tracker, events } = setup({ names: true })
    tracker.track('s1', 'r', 'alice', { status: 'online' })
    tracker.names.register('alice', 's1')
    expect(tracker.names.whereis('alice')).toBe('s1')
    expect(tracker.names.lookup('alice')).toEqual({ node: tracker.nodeId, owner: 's1' })
    expect(tracker.names.list()).toEqual(['alice'])
    events.length = 0

    tracker.update({ name: 'alice' }, 'r', 'alice', { status: 'away' })

    expect(tracker.get('r', 'alice')).toMatchObject([{ owner: 's1', meta: { status: 'away' } }])
    expect(events[0]).toMatchObject({ event: 'update', payload: { owner: 's1' } })
  })

  it('is released when the owner last entry goes, however it goes', () => {
    const { tracker } = setup({ names: true })
    tracker.track('s1', 'r', 'a', {})
    tracker.track('s1', 'q', 'a', {})
    tracker.names.register('n1', 's1')
    tracker.untrack('s1', 'r', 'a')
    expect(tracker.names.whereis('n1')).toBe('s1')
    tracker.untrack('s1', 'q', 'a')
    expect(tracker.names.whereis('n1')).toBeUndefined()

    tracker.track('s2', 'r', 'b', {})
    tracker.names.register('n2', 's2')
    tracker.untrackAll('s2')
    expect(tracker.names.whereis('n2')).toBeUndefined()
    expect(tracker.names.list()).toEqual([])
  })

  it('unregister drops only the alias, never the owner entries', () => {
    const { tracker } = setup({ names: true })
    tracker.track('s1', 'r', 'a', {})
    tracker.names.register('n', 's1')
    tracker.names.unregister('n')
    expect(tracker.names.whereis('n')).toBeUndefined()
    expect(tracker.count('r')).toBe(1)
    expectError(() => tracker.update({ name: 'n' }, 'r', 'a', {}), 'unknown_name')
  })
})

describe('create (standalone names)', () => {
  it('returns an owner id that users cannot pick, and the name resolves to it', () => {
    const { tracker } = setup({ names: true })
    const owner = tracker.names.create('game:1')
    expect(owner).toBe(`${STANDALONE}game:1`)
    expect(tracker.names.whereis('game:1')).toBe(owner)
    expectError(() => tracker.track(owner, 'r', 'k', {}), 'invalid_argument', /reserved/)
  })

  it('its entry survives its creator and is updatable by two owners', async () => {
    const { tracker, events } = setup({ names: true })
    tracker.track('alice', 'room:1', 'alice', {})
    tracker.track('bob', 'room:1', 'bob', {})
    tracker.names.create('game:1')
    const first = tracker.track({ name: 'game:1' }, 'room:1', 'game', { phase: 'voting' })
    tracker.untrackAll('alice')

    expect(tracker.get('room:1', 'game')).toMatchObject([{ meta: { phase: 'voting' } }])
    const second = tracker.update({ name: 'game:1', as: 'bob' }, 'room:1', 'game', (prev) => ({
      ...prev,
      phase: 'revealed',
    }))
    const third = await tracker.names.update(
      'game:1',
      'room:1',
      'game',
      { phase: 'done' },
      {
        ifRef: second,
      },
    )

    expect(new Set([first, second, third]).size).toBe(3)
    expect(tracker.list('room:1').game!.metas).toEqual([
      { phase: 'done', phx_ref: third, phx_ref_prev: second },
    ])
    const updates = events.filter((e) => e.event === 'update').map((e) => e.payload.prevRef)
    expect(updates).toEqual([first, second])
  })

  it('names.update with a stale ifRef rejects with stale and changes nothing', async () => {
    const { tracker, events } = setup({ names: true })
    tracker.names.create('g')
    const first = tracker.track({ name: 'g' }, 'r', 'game', { n: 1 })
    const second = tracker.update({ name: 'g' }, 'r', 'game', { n: 2 })
    const before = snapshot(tracker)
    events.length = 0

    const error = await expectRejection(
      tracker.names.update('g', 'r', 'game', { n: 3 }, { ifRef: first }),
      'stale',
      new RegExp(`Expected the entry's ref to be "${first}", but it is "${second}"`),
    )
    expect([error.topic, error.key]).toEqual(['r', 'game'])
    expect(snapshot(tracker)).toEqual(before)
    expect(events).toEqual([])
  })

  it('names.track and names.untrack act through the name', async () => {
    const { tracker } = setup({ names: true })
    tracker.names.create('g')
    const ref = await tracker.names.track('g', 'r', 'game', { n: 1 })
    expect(tracker.get('r', 'game')).toMatchObject([{ ref, owner: `${STANDALONE}g` }])
    await tracker.names.untrack({ name: 'g' }, 'r', 'game')
    expect(tracker.count('r')).toBe(0)
  })

  it('unregister makes its entries leave', () => {
    const { tracker, events } = setup({ names: true })
    tracker.names.create('g')
    tracker.track({ name: 'g' }, 'r', 'game', {})
    tracker.track({ name: 'g' }, 'q', 'game', {})
    events.length = 0

    tracker.names.unregister('g')

    expect(tracker.topics()).toEqual([])
    expect(events.filter((e) => e.event === 'leave')).toHaveLength(2)
    expect(tracker.names.whereis('g')).toBeUndefined()
  })
})

describe('registry errors', () => {
  it('name_taken for a name held by an alias or a standalone owner', () => {
    const { tracker } = setup({ names: true })
    tracker.track('s1', 'r', 'a', {})
    tracker.names.register('n', 's1')
    tracker.names.create('g')
    const pattern = /Expected a free name, but "(n|g)" is held by node/
    expectError(() => tracker.names.create('n'), 'name_taken', pattern)
    expectError(() => tracker.names.register('g', 's1'), 'name_taken', pattern)
    expect(tracker.names.whereis('n')).toBe('s1')
  })

  it('names_full past max, and a freed slot can be used again', () => {
    const { tracker } = setup({ names: { max: 2 } })
    tracker.names.create('a')
    tracker.names.create('b')
    expectError(
      () => tracker.names.create('c'),
      'names_full',
      /already holds 2\. Unregister names that are no longer used, or raise names\.max/,
    )
    expect(tracker.names.list().sort()).toEqual(['a', 'b'])
    tracker.names.unregister('a')
    expect(tracker.names.create('c')).toBe(`${STANDALONE}c`)
  })

  it('unknown_name for a name nobody holds', async () => {
    const { tracker } = setup({ names: true })
    const pattern = /Expected a registered name, got "ghost", which no node holds/
    expectError(() => tracker.track({ name: 'ghost' }, 'r', 'k', {}), 'unknown_name', pattern)
    expectError(() => tracker.names.unregister('ghost'), 'unknown_name', pattern)
    await expectRejection(tracker.names.update('ghost', 'r', 'k', {}), 'unknown_name', pattern)
    expect(tracker.topics()).toEqual([])
  })

  it('invalid names and targets are invalid_argument', () => {
    const { tracker } = setup({ names: true })
    expectError(() => tracker.names.create(''), 'invalid_argument', /Expected name to be/)
    expectError(() => tracker.update({ name: 5 } as never, 'r', 'k', {}), 'invalid_argument')
    expectError(
      () => tracker.names.create('g', { releaseWhenAlone: { topic: 'r', graceMs: -1 } }),
      'invalid_argument',
      /graceMs to be a finite number >= 0, got number -1/,
    )
    expect(tracker.names.list()).toEqual([])
  })

  it('update through a name of an entry the name does not own is nopresence', () => {
    const { tracker } = setup({ names: true })
    tracker.track('s1', 'r', 'alice', {})
    tracker.names.create('g')
    expectError(() => tracker.update({ name: 'g' }, 'r', 'alice', {}), 'nopresence')
    expect(tracker.get('r', 'alice')[0]!.meta).toEqual({})
  })
})

describe('canWrite', () => {
  const options = {
    names: { canWrite: (as: string, name: string) => as.startsWith('player') && name === 'g' },
  }

  it('allows a write that says whose it is and passes', () => {
    const { tracker } = setup(options)
    tracker.names.create('g')
    tracker.track({ name: 'g', as: 'player-1' }, 'r', 'game', { n: 1 })
    tracker.update({ name: 'g', as: 'player-2' }, 'r', 'game', { n: 2 })
    expect(tracker.get('r', 'game')[0]!.meta).toEqual({ n: 2 })
  })

  it('refuses an anonymous write with forbidden', async () => {
    const { tracker } = setup(options)
    tracker.names.create('g')
    tracker.track({ name: 'g', as: 'player-1' }, 'r', 'game', { n: 1 })
    const before = snapshot(tracker)
    const pattern = /must say on whose behalf they act: pass \{ name: "g", as: ownerId \}/
    expectError(() => tracker.update({ name: 'g' }, 'r', 'game', { n: 9 }), 'forbidden', pattern)
    await expectRejection(tracker.names.update('g', 'r', 'game', { n: 9 }), 'forbidden', pattern)
    expect(snapshot(tracker)).toEqual(before)
  })

  it('refuses a write canWrite refuses with forbidden', () => {
    const { tracker } = setup(options)
    tracker.names.create('g')
    tracker.track({ name: 'g', as: 'player-1' }, 'r', 'game', { n: 1 })
    const before = snapshot(tracker)
    const error = expectError(
      () => tracker.update({ name: 'g', as: 'spectator' }, 'r', 'game', { n: 9 }),
      'forbidden',
      /Owner "spectator" may not write through name "g": canWrite refused it/,
    )
    expect(error.owner).toBe('spectator')
    expect(snapshot(tracker)).toEqual(before)
  })

  it('a canWrite that throws refuses the write and is logged', () => {
    const boom = new Error('policy bug')
    const canWrite = vi.fn(() => {
      throw boom
    })
    const { tracker, logs } = setup({ names: { canWrite } })
    tracker.names.create('g')
    expectError(() => tracker.track({ name: 'g', as: 'p' }, 'r', 'game', {}), 'forbidden')
    expect(canWrite).toHaveBeenCalledWith('p', 'g')
    expect(tracker.count('r')).toBe(0)
    expect(logs).toContainEqual({
      level: 'error',
      message: 'canWrite threw; the write is refused',
      data: { name: 'g', as: 'p', error: boom },
    })
  })

  it('a canWrite returning a truthy non-boolean does not allow', () => {
    const { tracker } = setup({ names: { canWrite: () => 1 as never } })
    tracker.names.create('g')
    expectError(() => tracker.track({ name: 'g', as: 'p' }, 'r', 'game', {}), 'forbidden')
  })
})

describe('releaseWhenAlone', () => {
  function room(graceMs?: number) {
    const context = setup({ names: true })
    const { tracker } = context
    const releaseWhenAlone = graceMs === undefined ? 'room' : { topic: 'room', graceMs }
    tracker.names.create('game', { releaseWhenAlone })
    tracker.track({ name: 'game' }, 'room', 'game', { phase: 'voting' })
    tracker.track('alice', 'room', 'alice', {})
    tracker.track('bob', 'room', 'bob', {})
    context.events.length = 0
    return context
  }

  it('with graceMs 0, releases within the call that removed the last ordinary entry', () => {
    const { tracker, events } = room()
    tracker.untrackAll('alice')
    expect(tracker.names.whereis('game')).toBeDefined()
    expect(tracker.count('room')).toBe(2)

    tracker.untrack('bob', 'room', 'bob')

    expect(tracker.names.whereis('game')).toBeUndefined()
    expect(tracker.topics()).toEqual([])
    const leaves = events.filter((e) => e.event === 'leave').map((e) => e.payload.key)
    expect(leaves).toEqual(['alice', 'bob', 'game'])
  })

  it('standalone entries do not keep each other alive', () => {
    const { tracker } = room()
    tracker.names.create('board', { releaseWhenAlone: 'room' })
    tracker.track({ name: 'board' }, 'room', 'board', {})
    tracker.names.create('unwatched')
    tracker.track({ name: 'unwatched' }, 'room', 'extra', {})
    tracker.untrackAll('alice')
    tracker.untrackAll('bob')

    expect(tracker.names.list()).toEqual(['unwatched'])
    expect(Object.keys(tracker.list('room'))).toEqual(['extra'])
  })

  it('with graceMs, releases after the grace with origin timeout', async () => {
    const { tracker, clock, events } = room(1000)
    tracker.untrackAll('alice')
    tracker.untrackAll('bob')
    await clock.advance(999)
    expect(tracker.names.whereis('game')).toBeDefined()
    expect(tracker.count('room')).toBe(1)

    await clock.advance(1)

    expect(tracker.names.whereis('game')).toBeUndefined()
    expect(tracker.count('room')).toBe(0)
    expect(events.filter((e) => e.event === 'leave').at(-1)!.payload).toMatchObject({
      key: 'game',
      origin: 'timeout',
    })
    expect(clock.pending()).toBe(0)
  })

  it('a rejoin within the grace cancels the release; the next emptying starts over', async () => {
    const { tracker, clock } = room(1000)
    tracker.untrackAll('alice')
    tracker.untrackAll('bob')
    await clock.advance(500)
    tracker.track('carol', 'room', 'carol', {})
    await clock.advance(5000)
    expect(tracker.names.whereis('game')).toBeDefined()

    tracker.untrack('carol', 'room', 'carol')
    await clock.advance(999)
    expect(tracker.names.whereis('game')).toBeDefined()
    await clock.advance(1)
    expect(tracker.names.whereis('game')).toBeUndefined()
  })

  it('a rejoin and a leave again within the grace restart the grace', async () => {
    const { tracker, clock } = room(1000)
    tracker.untrackAll('alice')
    tracker.untrackAll('bob')
    await clock.advance(500)
    tracker.track('carol', 'room', 'carol', {})
    await clock.advance(100)
    tracker.untrackAll('carol')
    await clock.advance(900)
    expect(tracker.names.whereis('game')).toBeDefined()
    await clock.advance(100)
    expect(tracker.names.whereis('game')).toBeUndefined()
  })

  it('an update of an ordinary entry does not count as the room emptying', () => {
    const { tracker } = room()
    tracker.untrackAll('alice')
    tracker.update('bob', 'room', 'bob', { status: 'away' })
    expect(tracker.names.whereis('game')).toBeDefined()
  })

  it('entries in other topics do not matter', () => {
    const { tracker } = room()
    tracker.track('alice', 'lobby', 'alice', {})
    tracker.untrack('alice', 'room', 'alice')
    tracker.untrack('bob', 'room', 'bob')
    expect(tracker.names.whereis('game')).toBeUndefined()
    expect(tracker.topics()).toEqual(['lobby'])
  })
})
