import type { Meta } from '../types.js'
import { type DotRange, ReplicaContext } from './context.js'
import {
  type Element,
  Entry,
  Registration,
  type ReleaseWhenAlone,
  type Replica,
  replicaOf,
} from './elements.js'
import { RemovalLog } from './removals.js'
import { addToSlot, findInSlot, removeFromSlot, type Slot, slotSize, slotValues } from './slots.js'

/** Owner ids starting with this belong to standalone names; users may not pick them. */
export const STANDALONE_PREFIX = '\u0000name:'

/** An entry on the wire: clock, topic, key, owner, meta, clock of the replaced entry. */
export type EntryData<M extends object = Meta> = [number, string, string, string, M, number]

/** A registration on the wire: clock, name, owner, standalone, release topic, grace. */
export type NameData = [number, string, string, boolean, string | null, number]

/**
 * What one replica contributes to a delta or a full state: every dot in `(from, to]` and
 * in `extra`, and of those the elements still alive. A dot covered but absent was
 * removed. `from` 0 makes it the replica's whole state.
 */
export interface SectionData<M extends object = Meta> extends DotRange {
  node: string
  incarnation: string
  entries: EntryData<M>[]
  names: NameData[]
}

/** What a merge, a hide or a show changed in the visible state. */
export interface Changes<M extends object = Meta> {
  joined: Entry<M>[]
  left: Entry<M>[]
  registered: Registration[]
  unregistered: Registration[]
}

/** The visible entries of one topic, with their counts kept up to date. */
export class TopicView<M extends object = Meta> {
  /** Entries in the topic. */
  size = 0
  /** Of those, entries of standalone names' owners (they do not keep a room alive). */
  standalone = 0
  /** Entries by key, in the order they were added; a lone entry is held as itself. */
  readonly keys = new Map<string, Slot<Entry<M>>>()

  /** The entries of a key (a new array when the key holds one entry). */
  entriesOf(key: string): readonly Entry<M>[] {
    return slotValues(this.keys.get(key))
  }

  /** Every entry of the topic, key by key. */
  *entries(): IterableIterator<Entry<M>> {
    for (const slot of this.keys.values()) {
      if (Array.isArray(slot)) yield* slot
      else yield slot
    }
  }
}

interface ReplicaStore<M extends object> {
  replica: Replica
  elements: Map<number, Element<M>>
  hidden: boolean
}

/** Options of a {@link ReplicatedSet}. */
export interface ReplicatedSetOptions {
  /** Removals remembered for delta transfers before a transfer must be a full one. */
  maxRemovalLog?: number
  /**
   * Whether anyone takes deltas ({@link ReplicatedSet.takeDelta}). A tracker without a
   * cluster does not, and then own changes are not kept for the next delta at all.
   * @default true
   */
  keepDeltas?: boolean
}

function emptyChanges<M extends object>(): Changes<M> {
  return { joined: [], left: [], registered: [], unregistered: [] }
}

/**
 * The replicated state of a tracker: an add-wins set of entries and registrations, each
 * at a dot (replica, clock), with a causal context. Local changes make dots of the own
 * replica; `merge` takes another replica's delta or whole state, idempotently and in any
 * order. Pure: no timers, no I/O, no events.
 */
export class ReplicatedSet<M extends object = Meta> {
  readonly self: Replica
  #clock = 0
  readonly #contexts = new Map<string, ReplicaContext>()
  readonly #stores = new Map<string, ReplicaStore<M>>()
  readonly #topics = new Map<string, TopicView<M>>()
  /** Own entries by owner, a lone entry held as itself. */
  readonly #owners = new Map<string, Slot<Entry<M>>>()
  readonly #names = new Map<string, Registration[]>()
  readonly #removals: RemovalLog
  /** Per replica: complete up to `upTo`; sections merged beyond it wait in `ahead`. */
  readonly #complete = new Map<string, { upTo: number; ahead: Array<[number, number]> }>()
  /** Own elements added since the last {@link takeDelta}; may hold removed ones. */
  #pending: Element<M>[] = []
  #sentClock = 0
  readonly #keepDeltas: boolean

  constructor(self: Replica, options: ReplicatedSetOptions = {}) {
    this.self = self
    this.#removals = new RemovalLog(options.maxRemovalLog ?? 65_536)
    this.#keepDeltas = options.keepDeltas ?? true
    this.#storeOf(self)
    this.#contextOf(self.id)
  }

  /** The own replica's clock: the number of changes it has made. */
  get clock(): number {
    return this.#clock
  }

  // ---- reads --------------------------------------------------------------------------

  /** The visible entries of a topic, or undefined when it has none. */
  topic(topic: string): TopicView<M> | undefined {
    return this.#topics.get(topic)
  }

  /** Topics with at least one visible entry. */
  topics(): IterableIterator<string> {
    return this.#topics.keys()
  }

  /** The own entries of an owner, as a new array; undefined when it has none. */
  ownedBy(owner: string): Entry<M>[] | undefined {
    const slot = this.#owners.get(owner)
    return slot === undefined ? undefined : [...slotValues(slot)]
  }

  /** How many own entries an owner holds. */
  ownedCount(owner: string): number {
    return slotSize(this.#owners.get(owner))
  }

  /** Every owner with an own entry. */
  owners(): IterableIterator<string> {
    return this.#owners.keys()
  }

  /** The own entry of (owner, topic, key), if tracked. */
  findOwn(owner: string, topic: string, key: string): Entry<M> | undefined {
    const slot = this.#topics.get(topic)?.keys.get(key)
    return findInSlot(slot, (entry) => entry.owner === owner && entry.replica === this.self)
  }

  /** Visible registrations of a name, oldest first (more than one only in a conflict). */
  registrations(name: string): readonly Registration[] | undefined {
    return this.#names.get(name)
  }

  /** Every name with a visible registration. */
  names(): IterableIterator<string> {
    return this.#names.keys()
  }

  /** Every element of a replica, hidden or not, in clock order. */
  elementsOf(replicaId: string): IterableIterator<Element<M>> | undefined {
    return this.#stores.get(replicaId)?.elements.values()
  }

  /** The replicas this set holds elements or dots of. */
  replicas(): Replica[] {
    return [...this.#stores.values()].map((store) => store.replica)
  }

  /** How far each replica's dots are known without a gap: the version vector. */
  versionOf(replicaId: string): number {
    return this.#contexts.get(replicaId)?.max ?? 0
  }

  /** Whether dots of this replica were seen beyond a gap (a transfer would close it). */
  hasGap(replicaId: string): boolean {
    return this.#contexts.get(replicaId)?.hasGap ?? false
  }

  /**
   * How far this replica's changes are known completely, removals included: a transfer
   * since this clock brings the rest. It can lag {@link versionOf}: a dot learned only as
   * removed (in a section's `extra`) counts as seen there, but the event that made it was
   * not received, and that event may have removed an older dot held here (an update does).
   */
  completeUpTo(replicaId: string): number {
    return this.#complete.get(replicaId)?.upTo ?? 0
  }

  // ---- local changes ------------------------------------------------------------------

  /** Adds an own entry at a new dot. `prev` is the clock of the entry it replaces. */
  add(topic: string, key: string, owner: string, meta: Readonly<M>, prev = 0): Entry<M> {
    const clock = this.#tick()
    const entry = new Entry<M>(this.self, clock, topic, key, owner, meta, prev)
    this.#store(entry)
    this.#addPending(entry)
    return entry
  }

  /** Removes an own element; the removal is a dot of its own. */
  remove(element: Element<M>): void {
    this.#removeOwn(element, this.#tick())
  }

  /**
   * Replaces an own entry with a new version at a new dot, in one change. The new version
   * is indexed before the old one goes, so that the key, owner and topic indexes are not
   * emptied and rebuilt on every update.
   */
  replace(entry: Entry<M>, meta: Readonly<M>): Entry<M> {
    if (entry.replica !== this.self) throw new Error('only own elements can be replaced')
    const clock = this.#tick()
    const next = new Entry<M>(
      this.self,
      clock,
      entry.topic,
      entry.key,
      entry.owner,
      meta,
      entry.clock,
    )
    this.#store(next)
    this.#addPending(next)
    this.#removeOwn(entry, clock)
    return next
  }

  /** Registers a name for an owner of this replica. */
  register(
    name: string,
    owner: string,
    standalone: boolean,
    release?: ReleaseWhenAlone,
  ): Registration {
    const clock = this.#tick()
    const registration = new Registration(this.self, clock, name, owner, standalone, release)
    this.#store(registration)
    this.#addPending(registration)
    return registration
  }

  /**
   * Remembers an own element for the next delta. Without a cluster nobody takes deltas, so
   * removed elements are dropped now and then: the list stays within twice the live own
   * elements instead of growing with every change.
   */
  #addPending(element: Element<M>): void {
    if (!this.#keepDeltas) return
    const pending = this.#pending
    pending.push(element)
    const live = this.#storeOf(this.self).elements.size
    if (pending.length > 1024 && pending.length > 2 * live) {
      this.#pending = pending.filter((each) => this.#isAlive(each))
    }
  }

  #tick(): number {
    this.#clock++
    this.#contextOf(this.self.id).add(this.#clock)
    return this.#clock
  }

  #removeOwn(element: Element<M>, eventClock: number): void {
    if (element.replica !== this.self) throw new Error('only own elements can be removed')
    if (!this.#unstore(element)) return
    this.#removals.record(eventClock, element.clock)
  }

  // ---- deltas -------------------------------------------------------------------------

  /**
   * The own changes since the last call, or undefined when there were none. When the
   * removal log overflowed meanwhile, some removals are no longer known: then it is the
   * own replica's whole state.
   */
  takeDelta(): SectionData<M> | undefined {
    if (this.#sentClock === this.#clock) return undefined
    const from = this.#sentClock
    const alive = this.#pending.filter((element) => this.#isAlive(element))
    this.#pending = []
    this.#sentClock = this.#clock
    if (!this.#removals.covers(from)) return this.deltaSince(0)
    return this.#section(from, this.#removals.removedSince(from), alive)
  }

  /**
   * The own changes since `since`: a delta when the removal log reaches back that far,
   * otherwise the own replica's whole state.
   */
  deltaSince(since: number): SectionData<M> | undefined {
    if (since >= this.#clock) return undefined
    const full = !this.#removals.covers(since) || since < 0
    const from = full ? 0 : since
    const alive: Element<M>[] = []
    for (const element of this.#storeOf(this.self).elements.values()) {
      if (element.clock > from) alive.push(element)
    }
    return this.#section(from, full ? [] : this.#removals.removedSince(from), alive)
  }

  #isAlive(element: Element<M>): boolean {
    return this.#storeOf(this.self).elements.get(element.clock) === element
  }

  #section(from: number, extra: number[], elements: Element<M>[]): SectionData<M> {
    const section: SectionData<M> = {
      node: this.self.node,
      incarnation: this.self.incarnation,
      from,
      to: this.#clock,
      extra,
      entries: [],
      names: [],
    }
    for (const element of elements) {
      if (element instanceof Entry) section.entries.push(entryData(element))
      else section.names.push(nameData(element))
    }
    return section
  }

  /**
   * Merges another replica's delta or whole state. Idempotent, commutative: the same
   * sections in any order, any number of times, give the same set. Sections of the own
   * replica are ignored (this replica is their only author).
   */
  merge(section: SectionData<M>): Changes<M> {
    const changes = emptyChanges<M>()
    const replica = this.#replicaFor(section)
    if (replica === this.self) return changes
    const store = this.#storeOf(replica)
    const context = this.#contextOf(replica.id)

    this.#applyRemovals(store, section, changes)
    for (const data of section.entries) {
      if (context.has(data[0])) continue
      const [clock, topic, key, owner, meta, prev] = data
      const entry = new Entry<M>(replica, clock, topic, key, owner, meta, prev)
      this.#storeRemote(store, entry, changes)
    }
    for (const data of section.names) {
      if (context.has(data[0])) continue
      this.#storeRemote(store, registrationOf(replica, data), changes)
    }
    context.addRange(section)
    this.#advanceComplete(replica.id, section)
    return changes
  }

  /** A section is complete news to a set that knew every change up to its `from`. */
  #advanceComplete(replicaId: string, range: DotRange): void {
    let known = this.#complete.get(replicaId)
    if (!known) {
      known = { upTo: 0, ahead: [] }
      this.#complete.set(replicaId, known)
    }
    known.ahead.push([range.from, range.to])
    for (let grew = true; grew; ) {
      grew = false
      known.ahead = known.ahead.filter(([from, to]) => {
        if (from > known.upTo) return true
        if (to > known.upTo) {
          known.upTo = to
          grew = true
        }
        return false
      })
    }
  }

  #applyRemovals(store: ReplicaStore<M>, section: SectionData<M>, changes: Changes<M>): void {
    const kept = new Set<number>()
    for (const data of section.entries) kept.add(data[0])
    for (const data of section.names) kept.add(data[0])
    const doomed: Element<M>[] = []
    const rangeSize = section.to - section.from
    if (rangeSize < store.elements.size) {
      for (let clock = section.from + 1; clock <= section.to; clock++) {
        const element = store.elements.get(clock)
        if (element && !kept.has(clock)) doomed.push(element)
      }
    } else {
      for (const element of store.elements.values()) {
        const inRange = element.clock > section.from && element.clock <= section.to
        if (inRange && !kept.has(element.clock)) doomed.push(element)
      }
    }
    for (const clock of section.extra) {
      const element = store.elements.get(clock)
      if (element && !kept.has(clock)) doomed.push(element)
    }
    for (const element of doomed) {
      const visible = !store.hidden
      this.#unstore(element)
      if (visible) recordChange(changes, element, false)
    }
  }

  #storeRemote(store: ReplicaStore<M>, element: Element<M>, changes: Changes<M>): void {
    this.#store(element)
    if (!store.hidden) recordChange(changes, element, true)
  }

  #replicaFor(section: SectionData<M>): Replica {
    const id = `${section.incarnation}@${section.node}`
    if (id === this.self.id) return this.self
    return this.#stores.get(id)?.replica ?? replicaOf(section.node, section.incarnation)
  }

  // ---- liveness -----------------------------------------------------------------------

  /** Hides a replica's elements (its node is down); they stay, invisible. */
  hide(replicaId: string): Changes<M> {
    return this.#setHidden(replicaId, true)
  }

  /** Shows a hidden replica's elements again (its node came back). */
  show(replicaId: string): Changes<M> {
    return this.#setHidden(replicaId, false)
  }

  /** Forgets a replica: its elements and its causal context. */
  purge(replicaId: string): Changes<M> {
    const changes = emptyChanges<M>()
    const store = this.#stores.get(replicaId)
    if (!store || store.replica === this.self) return changes
    for (const element of [...store.elements.values()]) {
      if (!store.hidden) recordChange(changes, element, false)
      this.#unstore(element)
    }
    this.#stores.delete(replicaId)
    this.#contexts.delete(replicaId)
    this.#complete.delete(replicaId)
    return changes
  }

  /** Whether a hidden replica holds an entry in `topic` whose owner is not standalone. */
  hiddenOrdinaryIn(topic: string): boolean {
    for (const store of this.#stores.values()) {
      if (!store.hidden) continue
      for (const element of store.elements.values()) {
        const ordinary = element instanceof Entry && !element.owner.startsWith(STANDALONE_PREFIX)
        if (ordinary && element.topic === topic) return true
      }
    }
    return false
  }

  /** Whether a replica's elements are hidden. */
  isHidden(replicaId: string): boolean {
    return this.#stores.get(replicaId)?.hidden ?? false
  }

  #setHidden(replicaId: string, hidden: boolean): Changes<M> {
    const changes = emptyChanges<M>()
    const store = this.#stores.get(replicaId)
    if (!store || store.hidden === hidden || store.replica === this.self) return changes
    for (const element of store.elements.values()) {
      if (hidden) this.#unindex(element)
      recordChange(changes, element, !hidden)
    }
    store.hidden = hidden
    if (!hidden) for (const element of store.elements.values()) this.#index(element)
    return changes
  }

  // ---- storage and indexes ------------------------------------------------------------

  #store(element: Element<M>): void {
    const store = this.#storeOf(element.replica)
    store.elements.set(element.clock, element)
    if (!store.hidden) this.#index(element)
  }

  /** Removes an element from its store and the indexes; false when it was not there. */
  #unstore(element: Element<M>): boolean {
    const store = this.#stores.get(element.replica.id)
    if (store?.elements.get(element.clock) !== element) return false
    store.elements.delete(element.clock)
    if (!store.hidden) this.#unindex(element)
    return true
  }

  #index(element: Element<M>): void {
    if (element instanceof Registration) {
      const list = this.#names.get(element.name)
      if (list) list.push(element)
      else this.#names.set(element.name, [element])
      return
    }
    let view = this.#topics.get(element.topic)
    if (!view) {
      view = new TopicView<M>()
      this.#topics.set(element.topic, view)
    }
    addToSlot(view.keys, element.key, element)
    view.size++
    if (element.owner.startsWith(STANDALONE_PREFIX)) view.standalone++
    if (element.replica === this.self) this.#indexOwner(element)
  }

  #indexOwner(entry: Entry<M>): void {
    addToSlot(this.#owners, entry.owner, entry)
  }

  #unindex(element: Element<M>): void {
    if (element instanceof Registration) {
      removeFromList(this.#names, element.name, element)
      return
    }
    const view = this.#topics.get(element.topic)
    if (!view || !removeFromSlot(view.keys, element.key, element)) return
    view.size--
    if (element.owner.startsWith(STANDALONE_PREFIX)) view.standalone--
    if (view.size === 0) this.#topics.delete(element.topic)
    if (element.replica === this.self) removeFromSlot(this.#owners, element.owner, element)
  }

  #storeOf(replica: Replica): ReplicaStore<M> {
    let store = this.#stores.get(replica.id)
    if (!store) {
      store = { replica, elements: new Map(), hidden: false }
      this.#stores.set(replica.id, store)
    }
    return store
  }

  #contextOf(replicaId: string): ReplicaContext {
    let context = this.#contexts.get(replicaId)
    if (!context) {
      context = new ReplicaContext()
      this.#contexts.set(replicaId, context)
    }
    return context
  }
}

function removeFromList<K, V>(map: Map<K, V[]>, key: K, value: V): boolean {
  const list = map.get(key)
  const index = list ? list.indexOf(value) : -1
  if (!list || index < 0) return false
  if (list.length === 1) map.delete(key)
  else list.splice(index, 1)
  return true
}

function recordChange<M extends object>(
  changes: Changes<M>,
  element: Element<M>,
  added: boolean,
): void {
  if (element instanceof Registration) {
    ;(added ? changes.registered : changes.unregistered).push(element)
  } else {
    ;(added ? changes.joined : changes.left).push(element)
  }
}

function entryData<M extends object>(entry: Entry<M>): EntryData<M> {
  return [entry.clock, entry.topic, entry.key, entry.owner, entry.meta as M, entry.prev]
}

function nameData(registration: Registration): NameData {
  const release = registration.release
  return [
    registration.clock,
    registration.name,
    registration.owner,
    registration.standalone,
    release ? release.topic : null,
    release ? release.graceMs : 0,
  ]
}

function registrationOf(replica: Replica, data: NameData): Registration {
  const [clock, name, owner, standalone, releaseTopic, graceMs] = data
  const release = releaseTopic === null ? undefined : { topic: releaseTopic, graceMs }
  return new Registration(replica, clock, name, owner, standalone, release)
}
