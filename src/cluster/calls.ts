import type { Clock, TimerHandle } from '../clock.js'
import { PresenceError, type PresenceErrorCode } from '../errors.js'

interface PendingCall {
  node: string
  resolve(ref: string | undefined): void
  reject(error: PresenceError): void
  timer: TimerHandle
  /** Set once the holder answered: the clock its change must reach here. */
  awaitClock?: number
  ref?: string | undefined
}

/**
 * @internal Calls forwarded to other nodes, waiting for their answer and then for the
 * answer's change to reach this node's copy. Each has a deadline; none can hang.
 */
export class PendingCalls {
  readonly #clock: Clock
  readonly #timeoutMs: number
  readonly #calls = new Map<number, PendingCall>()
  #nextId = 1

  constructor(clock: Clock, timeoutMs: number) {
    this.#clock = clock
    this.#timeoutMs = timeoutMs
  }

  /** Opens a call to `node`; `send` gets its id. Rejects with `onTimeout()` when late. */
  open(
    node: string,
    onTimeout: () => PresenceError,
    send: (id: number) => void,
  ): Promise<string | undefined> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#calls.delete(id)
        reject(onTimeout())
      }, this.#timeoutMs)
      this.#calls.set(id, { node, resolve, reject, timer })
      send(id)
    })
  }

  /** Whether call `id` to `node` is still open. */
  isOpen(id: number, node: string): boolean {
    return this.#calls.get(id)?.node === node
  }

  /** The holder refused: the call rejects with `error`. */
  refused(id: number, error: PresenceError): void {
    const call = this.#finish(id)
    call?.reject(error)
  }

  /**
   * The holder made the change at its `clock`: the call resolves with `ref` once this
   * node's copy of the holder reaches `clock` (see {@link PendingCalls.settle}).
   */
  answered(id: number, clock: number, ref: string | undefined): void {
    const call = this.#calls.get(id)
    if (!call) return
    call.awaitClock = clock
    call.ref = ref
  }

  /** This node's copy of `node` is at `version`: resolves the calls that waited for it. */
  settle(node: string, version: number): void {
    for (const [id, call] of this.#calls) {
      if (call.node !== node || call.awaitClock === undefined) continue
      if (version < call.awaitClock) continue
      this.#finish(id)
      call.resolve(call.ref)
    }
  }

  /** Rejects every open call to a node `which` picks (all, with no node given). */
  fail(code: PresenceErrorCode, text: string, node?: string): void {
    for (const [id, call] of [...this.#calls]) {
      if (node !== undefined && call.node !== node) continue
      this.#finish(id)
      call.reject(new PresenceError(code, text, { node: call.node }))
    }
  }

  #finish(id: number): PendingCall | undefined {
    const call = this.#calls.get(id)
    if (!call) return undefined
    this.#clock.clearTimeout(call.timer)
    this.#calls.delete(id)
    return call
  }
}
