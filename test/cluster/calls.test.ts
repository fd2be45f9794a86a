import { describe, expect, it } from 'vitest'
import { PendingCalls } from '../../src/cluster/calls.js'
import { PresenceError } from '../../src/errors.js'
import { ManualClock } from '../../src/testing/index.js'

function setup() {
  const clock = new ManualClock()
  const calls = new PendingCalls(clock, 100)
  const sent: number[] = []
  const open = (node: string) =>
    calls.open(
      node,
      () => new PresenceError('timeout', `late: ${node}`),
      (id) => sent.push(id),
    )
  return { clock, calls, sent, open }
}

async function outcome(promise: Promise<unknown>) {
  return promise.then(
    (value) => ({ value }),
    (error: PresenceError) => ({ code: error.code, node: error.node }),
  )
}

describe('PendingCalls', () => {
  it('resolves an answered call only once the copy here reaches its clock', async () => {
    const { calls, sent, open } = setup()
    const result = outcome(open('b'))
    calls.answered(sent[0]!, 7, 'ref-7')
    calls.settle('b', 6)
    expect(calls.isOpen(sent[0]!, 'b')).toBe(true)
    calls.settle('a', 9)
    expect(calls.isOpen(sent[0]!, 'b')).toBe(true)
    calls.settle('b', 7)
    expect(await result).toEqual({ value: 'ref-7' })
    expect(calls.isOpen(sent[0]!, 'b')).toBe(false)
  })

  it('rejects with the timeout error after the deadline, answered or not', async () => {
    const { clock, calls, sent, open } = setup()
    const silent = outcome(open('b'))
    const answered = outcome(open('c'))
    calls.answered(sent[1]!, 3, undefined)
    await clock.advance(100)
    expect(await silent).toEqual({ code: 'timeout', node: undefined })
    expect(await answered).toEqual({ code: 'timeout', node: undefined })
    expect(clock.pending()).toBe(0)
  })

  it('fails the calls of one node, or of every node, and clears their timers', async () => {
    const { clock, calls, open } = setup()
    const toB = outcome(open('b'))
    const toC = outcome(open('c'))
    calls.fail('nodedown', 'b went', 'b')
    expect(await toB).toEqual({ code: 'nodedown', node: 'b' })
    expect(clock.pending()).toBe(1)
    calls.fail('closed', 'closing')
    expect(await toC).toEqual({ code: 'closed', node: 'c' })
    expect(clock.pending()).toBe(0)
  })

  it('a refusal rejects with the given error; a reply for another node is not its own', async () => {
    const { calls, sent, open } = setup()
    const result = outcome(open('b'))
    expect(calls.isOpen(sent[0]!, 'c')).toBe(false)
    calls.refused(sent[0]!, new PresenceError('stale', 'changed', { node: 'b' }))
    expect(await result).toEqual({ code: 'stale', node: 'b' })
  })
})
