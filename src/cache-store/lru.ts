/**
 * Least-recently-used, byte-bounded: the baseline every other policy is measured against.
 * A JavaScript Map iterates in insertion order, so "delete then set" moves a key to the
 * most-recent end and the first key is always the eviction candidate.
 */
import {
  type CacheStore,
  type CacheStoreOptions,
  type CacheStoreStats,
  checkMaxBytes,
  checkSize,
} from './types.js';

interface Entry<V> {
  value: V;
  bytes: number;
}

export class LruStore<V> implements CacheStore<V> {
  readonly policy = 'lru';
  readonly maxBytes: number;
  #bytes = 0;
  readonly #map = new Map<string, Entry<V>>();
  readonly #onEvict: CacheStoreOptions<V>['onEvict'];
  readonly #stats: CacheStoreStats = { hits: 0, misses: 0, evictions: 0, rejected: 0 };

  constructor(options: CacheStoreOptions<V>) {
    this.maxBytes = checkMaxBytes(options.maxBytes);
    this.#onEvict = options.onEvict;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    const e = this.#map.get(key);
    if (!e) {
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    this.#map.delete(key);
    this.#map.set(key, e);
    return e.value;
  }

  peek(key: string): V | undefined {
    return this.#map.get(key)?.value;
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  set(key: string, value: V, bytes: number): boolean {
    checkSize(bytes);
    // An overwrite replaces the old entry even when the new one is refused: serving the old
    // value after the caller tried to replace it would be serving stale content.
    this.delete(key);
    if (bytes > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    while (this.#bytes + bytes > this.maxBytes) this.#evictOne();
    this.#map.set(key, { value, bytes });
    this.#bytes += bytes;
    return true;
  }

  delete(key: string): boolean {
    const e = this.#map.get(key);
    if (!e) return false;
    this.#map.delete(key);
    this.#bytes -= e.bytes;
    return true;
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }

  stats(): CacheStoreStats {
    return { ...this.#stats };
  }

  #evictOne(): void {
    const first = this.#map.entries().next();
    if (first.done) return;
    const [key, e] = first.value;
    this.#map.delete(key);
    this.#bytes -= e.bytes;
    this.#stats.evictions++;
    this.#onEvict?.(key, e.value, e.bytes);
  }
}
