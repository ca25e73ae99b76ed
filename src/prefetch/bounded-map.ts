/**
 * A Map with a cap on its entry count that forgets its least recently touched entries when
 * full. The prefetch model keeps one of these per table (keys, clients) so its memory stays
 * bounded for logs of any size: what has not been seen for the longest is the least worth
 * knowing. Reads only stamp a counter (no reordering, so no Map churn on the hot path); when
 * the map overflows it drops the oldest tenth at once, so the sort is paid once per
 * capacity/10 insertions.
 */
interface Slot<V> {
  value: V;
  touched: number;
}

export class BoundedMap<K, V> {
  readonly #map = new Map<K, Slot<V>>();
  readonly capacity: number;
  #clock = 0;
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
    const s = this.#map.get(key);
    if (s === undefined) return undefined;
    s.touched = ++this.#clock;
    return s.value;
  }

  peek(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  set(key: K, value: V): void {
    const s = this.#map.get(key);
    if (s) {
      s.value = value;
      s.touched = ++this.#clock;
      return;
    }
    this.#map.set(key, { value, touched: ++this.#clock });
    if (this.#map.size > this.capacity) this.#shrink();
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [k, s] of this.#map) yield [k, s.value];
  }

  /** Drops the least recently touched entries down to 90% of the capacity. */
  #shrink(): void {
    const keep = Math.floor(this.capacity * 0.9);
    const drop = this.#map.size - keep;
    const ticks = new Float64Array(this.#map.size);
    let i = 0;
    for (const s of this.#map.values()) ticks[i++] = s.touched;
    ticks.sort();
    const cutoff = ticks[drop - 1]!;
    // Ticks are unique, so exactly `drop` entries are at or below the cutoff.
    for (const [k, s] of this.#map) {
      if (s.touched <= cutoff) {
        this.#map.delete(k);
        this.dropped++;
      }
    }
  }
}
