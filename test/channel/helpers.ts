/**
 * Helpers of the channel tests: a subscriber that records its messages, and a reference
 * apply of Phoenix's `presence_state` / `presence_diff` (joins first, then leaves, by ref).
 */
import { expect } from 'vitest'
import type { Meta, PresenceMessage, PresenceState, WireMeta } from '../../src/types.js'

export type Msg = PresenceMessage<Meta>

/** A `send` that keeps every message it gets, as JSON would carry it. */
export function recorder() {
  const messages: Msg[] = []
  const send = (message: Msg) => {
    messages.push(JSON.parse(JSON.stringify(message)) as Msg)
  }
  return { messages, send }
}

/** A client's view: key to metas by ref. Joins first, then leaves, as Phoenix applies. */
export class ReferenceClient {
  readonly keys = new Map<string, WireMeta<Meta>[]>()
  #hasState = false

  receive(message: Msg): void {
    if (message.event === 'presence_state') {
      this.keys.clear()
      this.#join(message.payload)
      this.#hasState = true
      return
    }
    if (message.event !== 'presence_diff') return
    expect(this.#hasState, 'a diff came before the state').toBe(true)
    this.#join(message.payload.joins)
    for (const key of Object.keys(message.payload.leaves)) {
      const gone = new Set(message.payload.leaves[key]!.metas.map((meta) => meta.phx_ref))
      const left = (this.keys.get(key) ?? []).filter((meta) => !gone.has(meta.phx_ref))
      if (left.length > 0) this.keys.set(key, left)
      else this.keys.delete(key)
    }
  }

  #join(state: PresenceState<Meta>): void {
    for (const key of Object.keys(state)) {
      const joined = state[key]!.metas
      const refs = new Set(joined.map((meta) => meta.phx_ref))
      const kept = (this.keys.get(key) ?? []).filter((meta) => !refs.has(meta.phx_ref))
      this.keys.set(key, [...kept, ...joined])
    }
  }

  /** The view in a canonical form: keys sorted, metas sorted by ref. */
  canonical(): Array<[string, WireMeta<Meta>[]]> {
    const state = Object.create(null) as PresenceState<Meta>
    for (const [key, metas] of this.keys) state[key] = { metas }
    return canonical(state)
  }
}

/**
 * A presence state in a canonical form, to compare two states whatever their order. A
 * `phx_ref_prev` is left out: a coalesced diff may skip the version it names.
 */
export function canonical(state: PresenceState<Meta>): Array<[string, WireMeta<Meta>[]]> {
  return Object.keys(state)
    .sort()
    .map((key) => [
      key,
      state[key]!.metas.map(({ phx_ref_prev: _prev, ...meta }) => meta as WireMeta<Meta>).sort(
        (a, b) => (a.phx_ref < b.phx_ref ? -1 : 1),
      ),
    ])
}

/**
 * What DESIGN asks of every diff: no ref both joins and leaves, and a join's
 * `phx_ref_prev` names a ref that the same diff's leaves hold for that key.
 */
export function expectWellFormedDiff(message: Msg): void {
  if (message.event !== 'presence_diff') return
  const { joins, leaves } = message.payload
  const leftRefs = new Set<string>()
  for (const key of Object.keys(leaves)) {
    for (const meta of leaves[key]!.metas) leftRefs.add(meta.phx_ref)
  }
  for (const key of Object.keys(joins)) {
    const leftOfKey = new Set((leaves[key]?.metas ?? []).map((meta) => meta.phx_ref))
    for (const meta of joins[key]!.metas) {
      expect(leftRefs.has(meta.phx_ref), `ref ${meta.phx_ref} joins and leaves`).toBe(false)
      if (meta.phx_ref_prev !== undefined) expect(leftOfKey.has(meta.phx_ref_prev)).toBe(true)
    }
  }
}
