/**
 * Helpers of the state tests: replicas, and a canonical picture of a set (every element,
 * every topic view, every name) so that two sets can be compared with `toEqual`.
 */
import {
  type Element,
  Entry,
  type Replica,
  ReplicatedSet,
  type ReplicatedSetOptions,
  replicaOf,
} from '../../src/state/index.js'

export type M = { [key: string]: number | string }

export function makeSet(node: string, options?: ReplicatedSetOptions): ReplicatedSet<M> {
  return new ReplicatedSet<M>(replicaOf(node, `inc-${node}`), options)
}

/** One element as a stable string: replica, clock, and what it holds. */
export function describeElement(element: Element<M>): string {
  const dot = `${element.replica.id}#${element.clock}`
  if (element instanceof Entry) {
    const { topic, key, owner, meta, prev } = element
    return `${dot} entry ${JSON.stringify([topic, key, owner, meta, prev])}`
  }
  const { name, owner, standalone, release } = element
  return `${dot} name ${JSON.stringify([name, owner, standalone, release ?? null])}`
}

/** The live elements a replica authored, as `set` holds them. */
export function elementsOf(set: ReplicatedSet<M>, replica: Replica): string[] {
  return [...(set.elementsOf(replica.id) ?? [])].map(describeElement).sort()
}

/** Everything a set holds from replicas other than itself, and every index over it. */
export function picture(set: ReplicatedSet<M>, exclude?: Replica) {
  const elements: string[] = []
  for (const replica of set.replicas()) {
    if (replica.id === (exclude ?? set.self).id) continue
    elements.push(...elementsOf(set, replica))
  }
  const topics = [...set.topics()].sort().map((topic) => {
    const view = set.topic(topic)!
    const keys = [...view.keys.keys()]
      .map(
        (key) =>
          [
            key,
            view
              .entriesOf(key)
              .map((entry) => entry.ref)
              .sort(),
          ] as const,
      )
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return { topic, size: view.size, standalone: view.standalone, keys }
  })
  const names = [...set.names()].sort().map((name) => {
    const registrations = set.registrations(name) ?? []
    return [name, registrations.map(describeElement).sort()] as const
  })
  return { elements: elements.sort(), topics, names }
}
