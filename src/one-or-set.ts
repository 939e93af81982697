/**
 * A collection that is most often a single item: the item itself, and a Set only once there are
 * more. Per-user and per-connection bookkeeping with 10,000s of entries, most of them of one
 * item, saves a Set (about 100 bytes) on each. Items must not be Sets themselves.
 */
export type OneOrSet<T> = T | Set<T> | undefined;

/** The collection with `item` added. */
export function addItem<T>(items: OneOrSet<T>, item: T): OneOrSet<T> {
  if (items === undefined || items === item) return item;
  if (items instanceof Set) return items.add(item);
  return new Set([items, item]);
}

/** The collection without `item`: undefined once empty, the last item itself once one is left. */
export function removeItem<T>(items: OneOrSet<T>, item: T): OneOrSet<T> {
  if (items === item) return undefined;
  if (!(items instanceof Set) || !items.delete(item)) return items;
  return items.size === 1 ? (items.values().next().value as T) : items;
}

export function hasItem<T>(items: OneOrSet<T>, item: T): boolean {
  return items instanceof Set ? items.has(item) : items !== undefined && items === item;
}

/** The items, as an array (a snapshot: safe to change the collection while going through it). */
export function itemsOf<T>(items: OneOrSet<T>): T[] {
  if (items === undefined) return [];
  return items instanceof Set ? [...items] : [items];
}

/** The same trick for items found by a key (a connection's subscriptions, by room): a Map once there are more. */
export type OneOrMap<V> = V | Map<string, V> | undefined;

export function findKeyed<V>(items: OneOrMap<V>, key: string, keyOf: (item: V) => string): V | undefined {
  if (items instanceof Map) return items.get(key);
  return items !== undefined && keyOf(items) === key ? items : undefined;
}

/** The collection with `item` added; an item with the same key is replaced. */
export function addKeyed<V>(items: OneOrMap<V>, item: V, keyOf: (item: V) => string): OneOrMap<V> {
  if (items === undefined) return item;
  if (items instanceof Map) return items.set(keyOf(item), item);
  if (keyOf(items) === keyOf(item)) return item;
  return new Map([
    [keyOf(items), items],
    [keyOf(item), item],
  ]);
}

/** The collection without `item` (if it is the one held under its key). */
export function removeKeyed<V>(items: OneOrMap<V>, item: V, keyOf: (item: V) => string): OneOrMap<V> {
  if (items === item) return undefined;
  if (!(items instanceof Map) || items.get(keyOf(item)) !== item) return items;
  items.delete(keyOf(item));
  return items.size === 1 ? (items.values().next().value as V) : items;
}

/** The items, as an array (a snapshot). */
export function keyedItems<V>(items: OneOrMap<V>): V[] {
  if (items === undefined) return [];
  return items instanceof Map ? [...items.values()] : [items];
}
