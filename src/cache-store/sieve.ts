/**
 * SIEVE (Zhang et al., "SIEVE is simpler than LRU", NSDI 2024), byte-bounded. One FIFO queue
 * with a "visited" bit per entry and a hand that walks from the oldest entry towards the
 * newest: a visited entry is spared (its bit cleared) and stays in place, an unvisited one is
 * evicted. New entries go to the head; a hit only sets a bit, so reads never reorder the queue.
 * Kept beside S3-FIFO because the simulator measures both; the edge's default is chosen by
 * that measurement (see ./index.ts).
 */
import {
  type CacheStore,
  type CacheStoreOptions,
  type CacheStoreStats,
  checkMaxBytes,
  checkSize,
} from './types.js';

interface Node<V> {
  key: string;
  value: V;
  bytes: number;
  visited: boolean;
  /** Towards the head (newer). */
  newer: Node<V> | undefined;
  /** Towards the tail (older). */
  older: Node<V> | undefined;
}

export class SieveStore<V> implements CacheStore<V> {
  readonly policy = 'sieve';
  readonly maxBytes: number;
  #bytes = 0;
  readonly #map = new Map<string, Node<V>>();
  #head: Node<V> | undefined;
  #tail: Node<V> | undefined;
  #hand: Node<V> | undefined;
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
    const n = this.#map.get(key);
    if (!n) {
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    n.visited = true;
    return n.value;
  }

  peek(key: string): V | undefined {
    return this.#map.get(key)?.value;
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  set(key: string, value: V, bytes: number): boolean {
    checkSize(bytes);
    this.delete(key);
    if (bytes > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    while (this.#bytes + bytes > this.maxBytes) this.#evictOne();
    const n: Node<V> = { key, value, bytes, visited: false, newer: undefined, older: this.#head };
    if (this.#head) this.#head.newer = n;
    this.#head = n;
    if (!this.#tail) this.#tail = n;
    this.#map.set(key, n);
    this.#bytes += bytes;
    return true;
  }

  delete(key: string): boolean {
    const n = this.#map.get(key);
    if (!n) return false;
    this.#unlink(n);
    return true;
  }

  keys(): IterableIterator<string> {
    return [...this.#map.keys()][Symbol.iterator]();
  }

  clear(): void {
    this.#map.clear();
    this.#head = this.#tail = this.#hand = undefined;
    this.#bytes = 0;
  }

  stats(): CacheStoreStats {
    return { ...this.#stats };
  }

  #unlink(n: Node<V>): void {
    if (this.#hand === n) this.#hand = n.newer;
    if (n.newer) n.newer.older = n.older;
    else this.#head = n.older;
    if (n.older) n.older.newer = n.newer;
    else this.#tail = n.newer;
    n.newer = n.older = undefined;
    this.#map.delete(n.key);
    this.#bytes -= n.bytes;
  }

  #evictOne(): void {
    let n = this.#hand ?? this.#tail;
    // At most one full lap clears every bit, so the second lap finds a victim.
    while (n?.visited) {
      n.visited = false;
      n = n.newer ?? this.#tail;
    }
    if (!n) return;
    this.#hand = n.newer;
    this.#unlink(n);
    this.#stats.evictions++;
    this.#onEvict?.(n.key, n.value, n.bytes);
  }
}
