import type { TimerHandle } from './clock.js'
import { describe, PresenceError, type PresenceErrorFields } from './errors.js'
import { DEFAULTS, type NamesOptions } from './options.js'
import {
  compareReplicas,
  type Entry,
  type Registration,
  type ReleaseWhenAlone,
} from './state/elements.js'
import { STANDALONE_PREFIX } from './state/set.js'
import type { MetaUpdate, TrackerInternals } from './tracker.js'
import type { Meta, Origin } from './types.js'
import { checkId, checkOwnerId, optionsOf } from './validation.js'

/** A name to act through, and optionally on whose behalf (checked by `canWrite`). */
export interface NameTarget {
  /** The registered name. */
  name: string
  /** The owner on whose behalf the write is made; required when `canWrite` is set. */
  as?: string
}

/** Where a name lives: the node that holds it and the owner it stands for there. */
export interface NameLocation {
  /** The node that holds the name. */
  node: string
  /** The owner id the name stands for on that node. */
  owner: string
}

/** Options of {@link Names.create}. */
export interface CreateNameOptions {
  /**
   * Release the name (and its entries) once no entry of an ordinary owner has been left
   * in this topic for `graceMs` (default 0: within the call that removed the last one).
   */
  releaseWhenAlone?:
    | string
    | {
        /** The topic whose emptiness releases the name. */
        topic: string
        /**
         * How long the topic must stay without an ordinary entry, in ms.
         * @default 0
         */
        graceMs?: number
      }
}

/** Options of {@link Names.update}. */
export interface NameUpdateOptions {
  /** Reject with `stale` unless the entry's current ref is this one. */
  ifRef?: string
}

/**
 * @internal How a call through a name held on another node is carried there. The
 * cluster installs one; without it such a call rejects with `remote_name`.
 */
export interface NameForwarder {
  call(node: string, request: ForwardedCall): Promise<string | undefined>
}

/** @internal A write through a name, as it travels to the node that holds the name. */
export type ForwardedCall =
  | { op: 'track'; target: NameTarget; topic: string; key: string; meta: unknown }
  | { op: 'update'; target: NameTarget; topic: string; key: string; meta: unknown; ifRef?: string }
  | { op: 'untrack'; target: NameTarget; topic: string; key: string }

/**
 * The named-owner registry, `tracker.names`: an alias for an owner, or a standalone owner
 * that belongs to the tracker, so that a shared entry (a game's state, a document lock)
 * can be changed by anyone in the room and outlive whoever created it.
 *
 * @example
 * ```ts
 * const tracker = new Tracker({ names: true })
 * tracker.names.create('game:42', { releaseWhenAlone: 'room:42' })
 * tracker.track({ name: 'game:42' }, 'room:42', 'game', { phase: 'voting' })
 * // any connection may now change it:
 * tracker.update({ name: 'game:42' }, 'room:42', 'game', { phase: 'revealed' })
 * ```
 */
export class Names<M extends object = Meta> {
  readonly #core: TrackerInternals<M>
  readonly #max: number
  readonly #canWrite: ((as: string, name: string) => boolean) | undefined
  /** Own aliases, by the owner they stand for. */
  readonly #aliases = new Map<string, Set<Registration>>()
  /** Own standalone names with `releaseWhenAlone`, by the topic they watch. */
  readonly #watchers = new Map<string, Set<Registration>>()
  readonly #releaseTimers = new Map<Registration, TimerHandle>()
  /** Every name this node holds, of either kind. */
  readonly #own = new Set<Registration>()
  #forwarder: NameForwarder | undefined

  /** @internal */
  constructor(core: TrackerInternals<M>, options: NamesOptions) {
    this.#core = core
    this.#max = options.max ?? DEFAULTS.maxNames
    this.#canWrite = options.canWrite
  }

  /**
   * Aliases `owner`, which must hold an entry on this node, as `name`. The alias goes
   * when that owner's last entry goes, however it goes.
   */
  register(name: string, owner: string): void {
    checkId('name', name, this.#core.maxId, { name, owner })
    checkOwnerId(owner, this.#core.maxId, { name, owner })
    if (this.#core.set().ownedCount(owner) === 0) {
      throw new PresenceError(
        'nopresence',
        `Expected owner "${owner}" to hold an entry on this node before it is named ` +
          `"${name}", but it holds none. Track something for it first.`,
        { name, owner },
      )
    }
    this.#checkFree(name)
    const registration = this.#core.set().register(name, owner, false)
    addTo(this.#aliases, owner, registration)
    this.#own.add(registration)
    this.#core.commit([], [], 'local')
  }

  /**
   * Creates a standalone owner that belongs to the tracker itself, named `name`, and
   * returns its owner id. Its entries outlive every connection; it lives until
   * {@link Names.unregister}, or with `releaseWhenAlone` until its room empties.
   */
  create(name: string, options?: CreateNameOptions): string {
    checkId('name', name, this.#core.maxId, { name })
    const { releaseWhenAlone } = optionsOf(options, 'names.create options')
    const release = this.#releaseOf(name, releaseWhenAlone)
    this.#checkFree(name)
    const owner = STANDALONE_PREFIX + name
    const registration = this.#core.set().register(name, owner, true, release)
    if (release) addTo(this.#watchers, release.topic, registration)
    this.#own.add(registration)
    this.#core.commit([], [], 'local')
    return owner
  }

  /**
   * @internal Takes over a standalone name from a node that left or went down: the name
   * is registered here as it was there. The caller re-tracks its entries.
   */
  adopt(name: string, release: ReleaseWhenAlone | undefined): string {
    const owner = STANDALONE_PREFIX + name
    const registration = this.#core.set().register(name, owner, true, release)
    if (release) addTo(this.#watchers, release.topic, registration)
    this.#own.add(registration)
    return owner
  }

  /** The owner id behind `name`, or undefined. */
  whereis(name: string): string | undefined {
    return this.#winner(name)?.owner
  }

  /** The node and owner behind `name`, or undefined. */
  lookup(name: string): NameLocation | undefined {
    const winner = this.#winner(name)
    return winner && { node: winner.replica.node, owner: winner.owner }
  }

  /** Every registered name this node can see, on any node. */
  list(): string[] {
    return [...this.#core.set().names()]
  }

  /** Removes a name held on this node. A standalone name's entries leave with it. */
  unregister(name: string): void {
    checkId('name', name, this.#core.maxId, { name })
    const registration = this.#localWinner(name, {})
    this.#release(registration, 'local')
  }

  /**
   * Tracks through a name, wherever in the cluster it is held. Resolves with the new ref.
   */
  async track(target: string | NameTarget, topic: string, key: string, meta: M): Promise<string> {
    const call = { op: 'track' as const, target: targetOf(target), topic, key, meta }
    return (await this.#route(call)) as string
  }

  /**
   * Updates an entry through a name, wherever in the cluster it is held. With `ifRef`,
   * rejects with `stale` unless the entry's current ref is `ifRef`. Resolves with the new
   * ref once the change is in this node's copy.
   */
  async update(
    target: string | NameTarget,
    topic: string,
    key: string,
    meta: MetaUpdate<M>,
    options?: NameUpdateOptions,
  ): Promise<string> {
    const { ifRef } = optionsOf(options, 'names.update options')
    if (ifRef !== undefined && typeof ifRef !== 'string') {
      throw new PresenceError(
        'invalid_argument',
        `Expected ifRef to be a ref string, got ${describe(ifRef)}.`,
      )
    }
    const call = { op: 'update' as const, target: targetOf(target), topic, key, meta }
    return (await this.#route({ ...call, ifRef })) as string
  }

  /** Untracks through a name, wherever in the cluster it is held. */
  async untrack(target: string | NameTarget, topic: string, key: string): Promise<void> {
    await this.#route({ op: 'untrack', target: targetOf(target), topic, key })
  }

  // ---- used by the tracker and the cluster ---------------------------------------------

  /** @internal Resolves a name to the local owner behind it, checking `canWrite`. */
  resolveLocal(target: NameTarget, fields: PresenceErrorFields): string {
    return this.#localWinner(this.#checkTarget(target, fields), fields).owner
  }

  /** @internal Runs a write through a name that is held here (maybe forwarded to us). */
  perform(call: ForwardedCall): string | undefined {
    const fields = { topic: call.topic, key: call.key }
    const owner = this.resolveLocal(call.target, fields)
    if (call.op === 'untrack') {
      this.#core.untrack(owner, call.topic, call.key)
      return undefined
    }
    const writer = call.target.as ?? owner
    if (call.op === 'track') {
      return this.#core.track(owner, call.topic, call.key, call.meta, writer)
    }
    const entry = this.#core.ownEntry(owner, call.topic, call.key)
    if (call.ifRef !== undefined && entry.ref !== call.ifRef) throw stale(entry, call.ifRef)
    return this.#core.replace(entry, call.meta as MetaUpdate<M>, writer)
  }

  /** @internal Installs the cluster's way to reach other nodes. */
  setForwarder(forwarder: NameForwarder): void {
    this.#forwarder = forwarder
  }

  /** @internal After entries joined or left: release aliases and lonely names. */
  afterChange(joined: Entry<M>[], left: Entry<M>[]): void {
    const self = this.#core.set().self
    for (const entry of left) {
      if (entry.replica === self && this.#core.set().ownedCount(entry.owner) === 0) {
        this.ownerGone(entry.owner)
      }
      if (this.#watchers.has(entry.topic)) this.#checkAlone(entry.topic)
    }
    for (const entry of joined) {
      if (this.#watchers.has(entry.topic) && !isStandalone(entry.owner)) {
        this.#cancelRelease(entry.topic)
      }
    }
  }

  /** @internal The owner has no entry left here: its aliases go. */
  ownerGone(owner: string): void {
    const aliases = this.#aliases.get(owner)
    if (!aliases) return
    for (const registration of [...aliases]) this.#release(registration, 'local')
  }

  /** @internal Registrations came or went through a merge: settle conflicts. */
  registrationsChanged(registered: Registration[], _gone: Registration[], origin: Origin): void {
    for (const registration of registered) this.#settle(registration.name, origin)
  }

  // ---- internals ----------------------------------------------------------------------

  async #route(call: ForwardedCall): Promise<string | undefined> {
    checkId('topic', call.topic, this.#core.maxId, {})
    checkId('key', call.key, this.#core.maxId, { topic: call.topic })
    const name = this.#checkTarget(call.target, { topic: call.topic, key: call.key })
    const winner = this.#winner(name)
    if (!winner || winner.replica === this.#core.set().self || !this.#forwarder) {
      return this.perform(call)
    }
    return this.#forwarder.call(winner.replica.node, call)
  }

  #checkTarget(target: NameTarget, fields: PresenceErrorFields): string {
    if (typeof target !== 'object' || target === null) {
      throw new PresenceError(
        'invalid_argument',
        `Expected a name target such as { name: "game:42" }, got ${describe(target)}.`,
        fields,
      )
    }
    const read = readTarget(target, fields)
    const name = checkId('name', read.name, this.#core.maxId, fields)
    if (this.#canWrite) this.#checkWriter(read, name, fields)
    return name
  }

  #checkWriter(target: NameTarget, name: string, fields: PresenceErrorFields): void {
    if (target.as === undefined) {
      throw new PresenceError(
        'forbidden',
        `Writes through name "${name}" must say on whose behalf they act: ` +
          `pass { name: "${name}", as: ownerId }.`,
        { ...fields, name },
      )
    }
    const as = checkId('owner', target.as, this.#core.maxId, { ...fields, name })
    let allowed = false
    try {
      allowed = this.#canWrite!(as, name) === true
    } catch (error) {
      this.#core.log('error', 'canWrite threw; the write is refused', { name, as, error })
    }
    if (!allowed) {
      throw new PresenceError(
        'forbidden',
        `Owner "${as}" may not write through name "${name}": canWrite refused it.`,
        { ...fields, name, owner: as },
      )
    }
  }

  #winner(name: string): Registration | undefined {
    const registrations = this.#core.set().registrations(name)
    if (!registrations) return undefined
    let winner = registrations[0]!
    for (const candidate of registrations) {
      if (compareReplicas(candidate.replica, winner.replica) < 0) winner = candidate
    }
    return winner
  }

  #localWinner(name: string, fields: PresenceErrorFields): Registration {
    const winner = this.#winner(name)
    if (!winner) {
      throw new PresenceError(
        'unknown_name',
        `Expected a registered name, got "${name}", which no node holds. ` +
          'Create it with tracker.names.create() or register() first.',
        { ...fields, name },
      )
    }
    if (winner.replica !== this.#core.set().self) {
      throw new PresenceError(
        'remote_name',
        `Name "${name}" is held by node "${winner.replica.node}", not this one. ` +
          'Use the async tracker.names.update()/track()/untrack(), which forward the call.',
        { ...fields, name, node: winner.replica.node },
      )
    }
    return winner
  }

  #checkFree(name: string): void {
    const holder = this.#winner(name)
    if (holder) {
      throw new PresenceError(
        'name_taken',
        `Expected a free name, but "${name}" is held by node "${holder.replica.node}". ` +
          'Pick another name, or unregister the old one first.',
        { name, node: holder.replica.node },
      )
    }
    if (this.#own.size >= this.#max) {
      throw new PresenceError(
        'names_full',
        `Expected room for another name, but this node already holds ${this.#max}. ` +
          'Unregister names that are no longer used, or raise names.max.',
        { name },
      )
    }
  }

  #releaseOf(name: string, option: CreateNameOptions['releaseWhenAlone']) {
    if (option === undefined) return undefined
    const spec = typeof option === 'string' ? { topic: option } : option
    const topic = checkId('topic', spec?.topic, this.#core.maxId, { name })
    const graceMs = spec.graceMs ?? 0
    if (typeof graceMs !== 'number' || !(graceMs >= 0) || !Number.isFinite(graceMs)) {
      throw new PresenceError(
        'invalid_argument',
        `Expected releaseWhenAlone.graceMs to be a finite number >= 0, got ${describe(graceMs)}.`,
        { name, topic },
      )
    }
    return { topic, graceMs }
  }

  #release(registration: Registration, origin: Origin): void {
    const set = this.#core.set()
    if (registration.standalone) {
      this.#core.removeOwner(registration.owner, origin)
      const release = registration.release
      if (release) removeFrom(this.#watchers, release.topic, registration)
      this.#cancelTimer(registration)
    } else {
      removeFrom(this.#aliases, registration.owner, registration)
    }
    this.#own.delete(registration)
    set.remove(registration)
    this.#core.commit([], [], origin)
  }

  #checkAlone(topic: string): void {
    const view = this.#core.set().topic(topic)
    const ordinary = view ? view.size - view.standalone : 0
    if (ordinary > 0 || this.#core.set().hiddenOrdinaryIn(topic)) return
    for (const registration of [...(this.#watchers.get(topic) ?? [])]) {
      const graceMs = registration.release!.graceMs
      if (graceMs === 0) this.#release(registration, 'local')
      else if (!this.#releaseTimers.has(registration)) this.#startTimer(registration, graceMs)
    }
  }

  #startTimer(registration: Registration, graceMs: number): void {
    const timer = this.#core.clock.setTimeout(() => {
      this.#releaseTimers.delete(registration)
      const view = this.#core.set().topic(registration.release!.topic)
      const ordinary = view ? view.size - view.standalone : 0
      if (ordinary === 0 && !this.#core.set().hiddenOrdinaryIn(registration.release!.topic)) {
        this.#release(registration, 'timeout')
      }
    }, graceMs)
    this.#releaseTimers.set(registration, timer)
  }

  #cancelRelease(topic: string): void {
    for (const registration of this.#watchers.get(topic) ?? []) this.#cancelTimer(registration)
  }

  #cancelTimer(registration: Registration): void {
    const timer = this.#releaseTimers.get(registration)
    if (timer === undefined) return
    this.#core.clock.clearTimeout(timer)
    this.#releaseTimers.delete(registration)
  }

  /** More than one replica holds `name`: the lowest (node, incarnation) keeps it. */
  #settle(name: string, origin: Origin): void {
    const registrations = this.#core.set().registrations(name)
    if (!registrations || registrations.length < 2) return
    const winner = this.#winner(name)!
    const self = this.#core.set().self
    for (const registration of [...registrations]) {
      if (registration === winner || registration.replica !== self) continue
      this.#core.emit('name_conflict', {
        name,
        winner: { node: winner.replica.node, owner: winner.owner },
        loser: { node: self.node, owner: registration.owner },
      })
      this.#release(registration, origin)
    }
  }
}

/** Reads a target's fields once: a getter that throws is bad input, not a crash. */
function readTarget(target: NameTarget, fields: PresenceErrorFields): NameTarget {
  try {
    return { name: target.name, as: target.as }
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'an exception'
    throw new PresenceError(
      'invalid_argument',
      `Expected a name target with readable fields, but reading one threw: ${reason}.`,
      fields,
    )
  }
}

function targetOf(target: string | NameTarget): NameTarget {
  return typeof target === 'string' ? { name: target } : target
}

function isStandalone(owner: string): boolean {
  return owner.startsWith(STANDALONE_PREFIX)
}

function stale<M extends object>(entry: Entry<M>, ifRef: string): PresenceError {
  return new PresenceError(
    'stale',
    `Expected the entry's ref to be "${ifRef}", but it is "${entry.ref}": it changed since ` +
      'you read it. Read it again, decide again, and retry with the new ref.',
    { topic: entry.topic, key: entry.key },
  )
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key)
  if (set) set.add(value)
  else map.set(key, new Set([value]))
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key)
  if (!set) return
  set.delete(value)
  if (set.size === 0) map.delete(key)
}
