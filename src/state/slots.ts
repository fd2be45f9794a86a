/**
 * Maps from a key to the few values filed under it, holding a lone value as itself and
 * only two or more in an array. Most keys hold one entry (one tab, one socket), and an
 * array per key cost about a quarter of the memory of an entry.
 */
export type Slot<T extends object> = T | T[]

/** Files `value` under `key`. */
export function addToSlot<T extends object>(map: Map<string, Slot<T>>, key: string, value: T) {
  const slot = map.get(key)
  if (slot === undefined) map.set(key, value)
  else if (Array.isArray(slot)) slot.push(value)
  else map.set(key, [slot, value])
}

/** Removes `value` from under `key`; false when it was not there. */
export function removeFromSlot<T extends object>(
  map: Map<string, Slot<T>>,
  key: string,
  value: T,
): boolean {
  const slot = map.get(key)
  if (slot === value) return map.delete(key)
  if (!Array.isArray(slot)) return false
  const index = slot.indexOf(value)
  if (index < 0) return false
  slot.splice(index, 1)
  if (slot.length === 1) map.set(key, slot[0]!)
  return true
}

/** How many values a slot holds. */
export function slotSize<T extends object>(slot: Slot<T> | undefined): number {
  if (slot === undefined) return 0
  return Array.isArray(slot) ? slot.length : 1
}

/** A slot's values as an array (a new one for a lone value, which callers may keep). */
export function slotValues<T extends object>(slot: Slot<T> | undefined): readonly T[] {
  if (slot === undefined) return []
  return Array.isArray(slot) ? slot : [slot]
}

/** Finds the first value of a slot that passes `test`, without allocating. */
export function findInSlot<T extends object>(
  slot: Slot<T> | undefined,
  test: (value: T) => boolean,
): T | undefined {
  if (slot === undefined) return undefined
  if (!Array.isArray(slot)) return test(slot) ? slot : undefined
  return slot.find(test)
}
