/**
 * S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023), made
 * byte-bounded. Three FIFO queues:
 * - small (10% of the bytes): every new key lands here. Most objects in a CDN trace are
 *   requested once; they leave from here without ever touching the main queue, which is
 *   what makes the policy scan-resistant (a crawl or a one-off burst cannot flush the hot set).
 * - main (the rest): keys that were hit while in small, or that come back while still
 *   remembered by the ghost queue. Eviction from main is CLOCK-like: an entry with a non-zero
 *   frequency is reinserted with its frequency decremented.
 * - ghost: keys (no values, no bytes) recently evicted from small, as many as the cache holds
 *   entries. A key that returns while in ghost was evicted too early and goes straight to main.
 * Frequencies are 2-bit counters (capped at 3), as in the paper.
 * Measured against LRU, SIEVE and the PFOO bounds on the AdaptSize trace: see
 * bench/prefetch.ts and the README's prefetch section.
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
  freq: number;
  inMain: boolean;
  /** Towards the tail (newer). */
  next: Node<V> | undefined;
  /** Towards the head (older). */
  prev: Node<V> | undefined;
}

/**
 * An intrusive FIFO: O(1) push at the tail, pop at the head and removal from the middle.
 * (A Map's insertion order would do the same, but V8 leaves deleted slots in place until a
 * rehash and every "first entry" lookup walks them, which goes quadratic under churn.)
 */
class Fifo<V> {
  head: Node<V> | undefined;
  tail: Node<V> | undefined;
  bytes = 0;
  count = 0;

  push(n: Node<V>): void {
    n.prev = this.tail;
    n.next = undefined;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    this.bytes += n.bytes;
    this.count++;
  }

  remove(n: Node<V>): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = n.next = undefined;
    this.bytes -= n.bytes;
    this.count--;
  }

  clear(): void {
    this.head = this.tail = undefined;
    this.bytes = 0;
    this.count = 0;
  }
}

/**
 * Keys recently evicted from small, oldest first, bounded by a count that follows the cache's
 * entry count. A ring of keys plus a map from key to its newest sequence number: a key pushed
 * twice is only forgotten when its newest copy leaves the ring.
 */
class Ghost {
  #ring: string[] = [];
  #seqs: number[] = [];
  #head = 0;
  #seq = 0;
  readonly #live = new Map<string, number>();

  get size(): number {
    return this.#live.size;
  }

  add(key: string, limit: number): void {
    this.#seq++;
    this.#live.set(key, this.#seq);
    this.#ring.push(key);
    this.#seqs.push(this.#seq);
    while (this.#live.size > limit && this.#head < this.#ring.length) this.#dropOldest();
    // Ring entries that no longer stand for a live key are skipped lazily; compact when the
    // consumed prefix is most of the array.
    if (this.#head > 1024 && this.#head * 2 > this.#ring.length) {
      this.#ring = this.#ring.slice(this.#head);
      this.#seqs = this.#seqs.slice(this.#head);
      this.#head = 0;
    }
    if (this.#ring.length - this.#head > 4 * Math.max(limit, 64)) this.#compact();
  }

  /** True when the key was remembered; it is forgotten either way. */
  take(key: string): boolean {
    return this.#live.delete(key);
  }

  clear(): void {
    this.#ring = [];
    this.#seqs = [];
    this.#head = 0;
    this.#live.clear();
  }

  #dropOldest(): void {
    const key = this.#ring[this.#head]!;
    const seq = this.#seqs[this.#head]!;
    this.#head++;
    if (this.#live.get(key) === seq) this.#live.delete(key);
  }

  /** Drops ring entries whose key was taken or re-added since, so the ring tracks the map. */
  #compact(): void {
    const ring: string[] = [];
    const seqs: number[] = [];
    for (let i = this.#head; i < this.#ring.length; i++) {
      const key = this.#ring[i]!;
      if (this.#live.get(key) === this.#seqs[i]) {
        ring.push(key);
        seqs.push(this.#seqs[i]!);
      }
    }
    this.#ring = ring;
    this.#seqs = seqs;
    this.#head = 0;
  }
}

/** Share of the bytes given to the small queue (the paper's 10%). */
const SMALL_SHARE = 0.1;
const MAX_FREQ = 3;
/** The ghost remembers at least this many keys, so a tiny cache still learns. */
const MIN_GHOST = 64;

export class S3FifoStore<V> implements CacheStore<V> {
  readonly policy = 's3fifo';
  readonly maxBytes: number;
  readonly #smallTarget: number;
  readonly #index = new Map<string, Node<V>>();
  readonly #small = new Fifo<V>();
  readonly #main = new Fifo<V>();
  readonly #ghost = new Ghost();
  readonly #onEvict: CacheStoreOptions<V>['onEvict'];
  readonly #stats: CacheStoreStats = { hits: 0, misses: 0, evictions: 0, rejected: 0 };

  constructor(options: CacheStoreOptions<V>) {
    this.maxBytes = checkMaxBytes(options.maxBytes);
    this.#smallTarget = this.maxBytes * SMALL_SHARE;
    this.#onEvict = options.onEvict;
  }

  get bytes(): number {
    return this.#small.bytes + this.#main.bytes;
  }

  get size(): number {
    return this.#index.size;
  }

  get(key: string): V | undefined {
    const n = this.#index.get(key);
    if (!n) {
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    if (n.freq < MAX_FREQ) n.freq++;
    return n.value;
  }

  peek(key: string): V | undefined {
    return this.#index.get(key)?.value;
  }

  has(key: string): boolean {
    return this.#index.has(key);
  }

  set(key: string, value: V, bytes: number): boolean {
    checkSize(bytes);
    // An overwrite keeps the key's queue and frequency (a new version of a hot object stays
    // hot), but the old bytes are released first so the accounting never double-counts.
    const old = this.#index.get(key);
    if (old) this.#unlink(old);
    if (bytes > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    const toMain = old ? old.inMain : this.#ghost.take(key);
    while (this.bytes + bytes > this.maxBytes) this.#evictOne();
    const n: Node<V> = {
      key,
      value,
      bytes,
      freq: old ? old.freq : 0,
      inMain: toMain,
      next: undefined,
      prev: undefined,
    };
    this.#index.set(key, n);
    (toMain ? this.#main : this.#small).push(n);
    return true;
  }

  delete(key: string): boolean {
    const n = this.#index.get(key);
    if (!n) return false;
    this.#unlink(n);
    return true;
  }

  *keys(): IterableIterator<string> {
    // Copy first: callers may delete while iterating.
    yield* [...this.#index.keys()];
  }

  clear(): void {
    this.#index.clear();
    this.#small.clear();
    this.#main.clear();
    this.#ghost.clear();
  }

  stats(): CacheStoreStats {
    return { ...this.#stats };
  }

  #unlink(n: Node<V>): void {
    (n.inMain ? this.#main : this.#small).remove(n);
    this.#index.delete(n.key);
  }

  #evictOne(): void {
    if (this.#small.head && (this.#small.bytes >= this.#smallTarget || !this.#main.head)) this.#evictSmall();
    else this.#evictMain();
  }

  /** Takes one entry out of small: promoted to main if it was hit, else evicted to ghost. */
  #evictSmall(): void {
    const n = this.#small.head;
    if (!n) return;
    this.#small.remove(n);
    if (n.freq > 0) {
      // Promotion frees no bytes overall; the caller's loop then evicts from main if needed.
      n.inMain = true;
      n.freq = 0;
      this.#main.push(n);
      return;
    }
    this.#index.delete(n.key);
    this.#ghost.add(n.key, Math.max(MIN_GHOST, this.#index.size));
    this.#evicted(n);
  }

  /** CLOCK over main: entries with frequency left go round again, one count poorer. */
  #evictMain(): void {
    for (let n = this.#main.head; n; n = this.#main.head) {
      this.#main.remove(n);
      if (n.freq > 0) {
        n.freq--;
        this.#main.push(n);
        continue;
      }
      this.#index.delete(n.key);
      this.#evicted(n);
      return;
    }
  }

  #evicted(n: Node<V>): void {
    this.#stats.evictions++;
    this.#onEvict?.(n.key, n.value, n.bytes);
  }
}
