/**
 * A Map with a cap on its entry count that drops its least recently touched entry when full.
 * The prefetch model keeps one of these per table (keys, clients) so its memory stays bounded
 * for logs of any size: what has not been seen for the longest is the least worth knowing.
 */
export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>();
  readonly capacity: number;
  dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#map.size;
  }

  /** Reads and marks as recently used. */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.capacity) {
      const first = this.#map.keys().next();
      if (first.done) break;
      this.#map.delete(first.value);
      this.dropped++;
    }
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  entries(): IterableIterator<[K, V]> {
    return this.#map.entries();
  }
}
