import v8 from 'node:v8'
import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import { ReplicaContext } from '../../src/state/context.js'
import { Entry, refOf, replicaOf, STANDALONE_PREFIX } from '../../src/state/index.js'
import { RemovalLog } from '../../src/state/removals.js'
import { elementsOf, makeSet, picture } from './helpers.js'

describe('ReplicatedSet, local changes', () => {
  it('gives each change a new dot and keeps topic views and owner index', () => {
    const set = makeSet('a')
    const e1 = set.add('room', 'alice', 's1', { n: 1 })
    const e2 = set.add('room', 'alice', 's2', { n: 2 })
    const e3 = set.add('lobby', 'bob', 's1', { n: 3 })

    expect([e1.clock, e2.clock, e3.clock, set.clock]).toEqual([1, 2, 3, 3])
    expect(set.topic('room')!.size).toBe(2)
    expect(set.topic('room')!.entriesOf('alice')).toEqual([e1, e2])
    expect([...set.topics()]).toEqual(['room', 'lobby'])
    expect([...set.ownedBy('s1')!]).toEqual([e1, e3])
    expect(set.findOwn('s2', 'room', 'alice')).toBe(e2)
    expect(set.findOwn('s3', 'room', 'alice')).toBeUndefined()
  })

  it('replace makes a new entry at a new dot whose prev is the old clock', () => {
    const set = makeSet('a')
    const e1 = set.add('room', 'alice', 's1', { n: 1 })
    const e2 = set.replace(e1, { n: 2 })

    expect(e2.prev).toBe(e1.clock)
    expect(e2.prevRef).toBe(e1.ref)
    expect(e2.wire).toEqual({ n: 2, phx_ref: e2.ref, phx_ref_prev: e1.ref })
    expect(set.topic('room')!.entriesOf('alice')).toEqual([e2])
    expect([...set.ownedBy('s1')!]).toEqual([e2])
  })

  it('remove drops the element from every index, and empty topics disappear', () => {
    const set = makeSet('a')
    const e1 = set.add('room', 'alice', 's1', {})
    set.remove(e1)
    expect(set.topic('room')).toBeUndefined()
    expect(set.ownedBy('s1')).toBeUndefined()
    expect([...set.topics()]).toEqual([])
    expect(set.clock).toBe(2)
  })

  it('counts standalone owners separately in a topic view', () => {
    const set = makeSet('a')
    set.add('room', 'game', `${STANDALONE_PREFIX}g`, {})
    set.add('room', 'alice', 's1', {})
    expect(set.topic('room')).toMatchObject({ size: 2, standalone: 1 })
  })

  it('refuses to remove another replica element', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    expect(a.deltaSince(0)).toBeUndefined()
    a.add('room', 'x', 's', {})
    b.merge(a.takeDelta()!)
    expect(() => b.remove(b.topic('room')!.entriesOf('x')![0]!)).toThrow(/only own elements/)
  })
})

describe('ReplicatedSet, deltas and merge', () => {
  it('takeDelta returns the changes since the last call, then undefined', () => {
    const a = makeSet('a')
    expect(a.takeDelta()).toBeUndefined()
    const e1 = a.add('room', 'alice', 's1', { n: 1 })
    const d1 = a.takeDelta()!
    expect(d1).toMatchObject({ node: 'a', from: 0, to: 1, extra: [] })
    expect(d1.entries).toEqual([[1, 'room', 'alice', 's1', { n: 1 }, 0]])
    expect(a.takeDelta()).toBeUndefined()

    a.replace(e1, { n: 2 })
    const d2 = a.takeDelta()!
    expect(d2).toMatchObject({ from: 1, to: 2, extra: [1] })
    expect(d2.entries).toEqual([[2, 'room', 'alice', 's1', { n: 2 }, 1]])
  })

  it('merge reports joins and leaves and builds the same views', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    const e1 = a.add('room', 'alice', 's1', { n: 1 })
    let changes = b.merge(a.takeDelta()!)
    expect(changes.joined.map((entry) => entry.ref)).toEqual([e1.ref])
    expect(b.topic('room')!.entriesOf('alice')![0]!.meta).toEqual({ n: 1 })
    expect(b.ownedBy('s1')).toBeUndefined()
    expect(b.findOwn('s1', 'room', 'alice')).toBeUndefined()

    const e2 = a.replace(e1, { n: 2 })
    changes = b.merge(a.takeDelta()!)
    expect(changes.left.map((entry) => entry.ref)).toEqual([e1.ref])
    expect(changes.joined.map((entry) => entry.ref)).toEqual([e2.ref])
    expect(picture(b)).toEqual(picture(a, b.self))
  })

  it('merge is idempotent: a section applied twice changes nothing the second time', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    a.add('room', 'alice', 's1', {})
    const delta = a.takeDelta()!
    b.merge(delta)
    const again = b.merge(delta)
    expect(again).toEqual({ joined: [], left: [], registered: [], unregistered: [] })
    expect(b.topic('room')!.size).toBe(1)
  })

  it('an old delta arriving after the removal it preceded does not revive the element', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    const e1 = a.add('room', 'alice', 's1', {})
    const d1 = a.takeDelta()!
    a.remove(e1)
    const d2 = a.takeDelta()!

    b.merge(d2)
    expect(b.hasGap(a.self.id)).toBe(false)
    const changes = b.merge(d1)
    expect(changes.joined).toEqual([])
    expect(b.topic('room')).toBeUndefined()
  })

  it('a gap is visible until the missing delta arrives', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    a.add('room', 'x', 's', {})
    const d1 = a.takeDelta()!
    a.add('room', 'y', 's', {})
    const d2 = a.takeDelta()!

    b.merge(d2)
    expect(b.hasGap(a.self.id)).toBe(true)
    expect(b.versionOf(a.self.id)).toBe(0)
    b.merge(d1)
    expect(b.hasGap(a.self.id)).toBe(false)
    expect(b.versionOf(a.self.id)).toBe(2)
  })

  it('ignores sections of its own replica', () => {
    const a = makeSet('a')
    a.add('room', 'x', 's', {})
    const own = a.deltaSince(0)!
    const changes = a.merge(own)
    expect(changes.joined).toEqual([])
    expect(a.topic('room')!.size).toBe(1)
  })

  it('deltaSince(k) is a delta while the removal log reaches back, else the whole state', () => {
    const a = makeSet('a', { maxRemovalLog: 2 })
    const e1 = a.add('r', 'k1', 's', {})
    const e2 = a.add('r', 'k2', 's', {})
    a.add('r', 'k3', 's', {})
    expect(a.deltaSince(2)).toMatchObject({ from: 2, to: 3, extra: [] })
    a.remove(e1)
    expect(a.deltaSince(3)).toMatchObject({ from: 3, to: 4, extra: [1] })
    a.remove(e2)
    a.add('r', 'k4', 's', {})
    a.add('r', 'k5', 's', {})
    a.remove(a.findOwn('s', 'r', 'k4')!)
    // The log holds at most two removals: asking from before the oldest one kept is full.
    const full = a.deltaSince(1)!
    expect(full.from).toBe(0)
    expect(full.entries.map((data) => data[2]).sort()).toEqual(['k3', 'k5'])
    expect(a.deltaSince(a.clock)).toBeUndefined()
  })

  it('takeDelta after the removal log overflowed is the whole state, losing no removal', () => {
    const a = makeSet('a', { maxRemovalLog: 1 })
    const b = makeSet('b')
    const e1 = a.add('r', 'k1', 's', {})
    b.merge(a.takeDelta()!)
    const e2 = a.replace(e1, { n: 2 })
    a.replace(e2, { n: 3 })
    const delta = a.takeDelta()!
    expect(delta.from).toBe(0)
    b.merge(delta)
    expect(
      b
        .topic('r')!
        .entriesOf('k1')
        .map((entry) => entry.meta),
    ).toEqual([{ n: 3 }])
    expect(picture(b)).toEqual(picture(a, b.self))
  })

  it('registrations travel with deltas and keep their release option', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    a.register('game', `${STANDALONE_PREFIX}game`, true, { topic: 'room', graceMs: 500 })
    a.register('alias', 's1', false)
    const changes = b.merge(a.takeDelta()!)
    expect(changes.registered.map((r) => r.name)).toEqual(['game', 'alias'])
    expect(b.registrations('game')![0]).toMatchObject({
      owner: `${STANDALONE_PREFIX}game`,
      standalone: true,
      release: { topic: 'room', graceMs: 500 },
    })
    expect(elementsOf(b, a.self)).toEqual(elementsOf(a, a.self))
  })
})

describe('ReplicatedSet, memory', () => {
  function forceGc(): () => void {
    v8.setFlagsFromString('--expose-gc')
    return vm.runInNewContext('gc') as () => void
  }

  it('a set whose deltas nobody takes does not grow with every change', () => {
    const gc = forceGc()
    const set = makeSet('a')
    const churn = (times: number) => {
      for (let i = 0; i < times; i++) set.remove(set.add('room', 'alice', 's1', { i }))
    }
    churn(20_000)
    gc()
    const before = process.memoryUsage().heapUsed
    churn(200_000)
    gc()
    const grown = process.memoryUsage().heapUsed - before
    // Each change kept would cost well over 50 bytes: 200,000 of them over 10 MB.
    expect(grown).toBeLessThan(4_000_000)
  })

  it('a delta taken after much churn still holds every live element', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    for (let i = 0; i < 5000; i++) {
      const entry = a.add('room', `k${i % 50}`, `s${i}`, { i })
      if (i % 7 !== 0) a.remove(entry)
    }
    b.merge(a.takeDelta()!)
    expect(picture(b)).toEqual(picture(a, b.self))
    expect(b.topic('room')!.size).toBe(Math.ceil(5000 / 7))
  })
})

describe('ReplicatedSet, liveness', () => {
  it('hide and show take a replica out of the views and back, unchanged', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    a.add('room', 'alice', 's1', {})
    b.merge(a.takeDelta()!)
    const shown = picture(b)

    const hidden = b.hide(a.self.id)
    expect(hidden.left).toHaveLength(1)
    expect(b.topic('room')).toBeUndefined()
    expect(b.isHidden(a.self.id)).toBe(true)
    expect(b.hiddenOrdinaryIn('room')).toBe(true)
    expect(b.hide(a.self.id).left).toEqual([])

    const back = b.show(a.self.id)
    expect(back.joined.map((entry) => entry.ref)).toEqual(hidden.left.map((entry) => entry.ref))
    expect(picture(b)).toEqual(shown)
  })

  it('a delta merged while hidden applies, but shows only on show', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    const e1 = a.add('room', 'alice', 's1', {})
    b.merge(a.takeDelta()!)
    b.hide(a.self.id)
    a.replace(e1, { n: 2 })
    const changes = b.merge(a.takeDelta()!)
    expect(changes).toEqual({ joined: [], left: [], registered: [], unregistered: [] })
    b.show(a.self.id)
    expect(picture(b)).toEqual(picture(a, b.self))
  })

  it('purge forgets a replica, its elements and its context', () => {
    const a = makeSet('a')
    const b = makeSet('b')
    a.add('room', 'alice', 's1', {})
    b.merge(a.takeDelta()!)
    const changes = b.purge(a.self.id)
    expect(changes.left).toHaveLength(1)
    expect(b.versionOf(a.self.id)).toBe(0)
    expect(b.replicas().map((replica) => replica.id)).toEqual([b.self.id])
  })
})

describe('ReplicaContext', () => {
  it('tracks a contiguous prefix plus a cloud beyond a gap', () => {
    const context = new ReplicaContext()
    context.add(1)
    context.add(3)
    context.add(5)
    expect([context.max, context.top, context.hasGap]).toEqual([1, 5, true])
    expect([context.has(2), context.has(3)]).toEqual([false, true])
    context.add(2)
    expect([context.max, context.hasGap]).toEqual([3, true])
    context.addRange({ from: 3, to: 4, extra: [] })
    expect([context.max, context.top, context.hasGap]).toEqual([5, 5, false])
  })

  it('takes extra clocks below a range', () => {
    const context = new ReplicaContext()
    context.addRange({ from: 2, to: 4, extra: [1, 2] })
    expect([context.max, context.hasGap]).toEqual([4, false])
  })
})

describe('RemovalLog', () => {
  it('returns the removed dots at or below k whose removal came after k', () => {
    const log = new RemovalLog(100)
    log.record(5, 2)
    log.record(6, 5)
    log.record(9, 1)
    expect(log.removedSince(4)).toEqual([2, 1])
    expect(log.removedSince(5)).toEqual([5, 1])
    expect(log.removedSince(9)).toEqual([])
    expect(log.covers(0)).toBe(true)
  })

  it('forgets the older half when full and says from where it is complete', () => {
    const log = new RemovalLog(4)
    for (let clock = 1; clock <= 5; clock++) log.record(clock * 10, clock)
    expect(log.covers(19)).toBe(false)
    expect(log.covers(20)).toBe(true)
    expect(log.removedSince(20)).toEqual([3, 4, 5])
    expect(log.removedSince(40)).toEqual([5])
  })
})

describe('elements', () => {
  it('a ref is the incarnation and the clock in base 36', () => {
    const replica = replicaOf('node', 'abc')
    expect(replica.id).toBe('abc@node')
    expect(refOf(replica, 36)).toBe('abc.10')
    const entry = new Entry(replica, 1, 't', 'k', 'o', Object.freeze({ a: 1 }), 0)
    expect(entry.wire).toEqual({ a: 1, phx_ref: 'abc.1' })
    expect(entry.wire).toBe(entry.wire)
    expect(Object.isFrozen(entry.wire)).toBe(true)
  })
})
