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
 * Measured against LRU, SIEVE and the offline bound on the AdaptSize trace: see
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
  value: V;
  bytes: number;
  freq: number;
  inMain: boolean;
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
  readonly #small = new Map<string, Node<V>>();
  readonly #main = new Map<string, Node<V>>();
  readonly #ghost = new Set<string>();
  #smallBytes = 0;
  #mainBytes = 0;
  readonly #onEvict: CacheStoreOptions<V>['onEvict'];
  readonly #stats: CacheStoreStats = { hits: 0, misses: 0, evictions: 0, rejected: 0 };

  constructor(options: CacheStoreOptions<V>) {
    this.maxBytes = checkMaxBytes(options.maxBytes);
    this.#smallTarget = this.maxBytes * SMALL_SHARE;
    this.#onEvict = options.onEvict;
  }

  get bytes(): number {
    return this.#smallBytes + this.#mainBytes;
  }

  get size(): number {
    return this.#small.size + this.#main.size;
  }

  #node(key: string): Node<V> | undefined {
    return this.#small.get(key) ?? this.#main.get(key);
  }

  get(key: string): V | undefined {
    const n = this.#node(key);
    if (!n) {
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    if (n.freq < MAX_FREQ) n.freq++;
    return n.value;
  }

  peek(key: string): V | undefined {
    return this.#node(key)?.value;
  }

  has(key: string): boolean {
    return this.#small.has(key) || this.#main.has(key);
  }

  set(key: string, value: V, bytes: number): boolean {
    checkSize(bytes);
    // An overwrite keeps the key's place and history (a new version of a hot object stays
    // hot), but the old bytes are released first so the accounting never double-counts.
    const old = this.#node(key);
    if (old) this.delete(key);
    if (bytes > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    const toMain = old ? old.inMain : this.#ghost.delete(key);
    while (this.bytes + bytes > this.maxBytes) this.#evictOne();
    const n: Node<V> = { value, bytes, freq: old ? old.freq : 0, inMain: toMain };
    if (toMain) {
      this.#main.set(key, n);
      this.#mainBytes += bytes;
    } else {
      this.#small.set(key, n);
      this.#smallBytes += bytes;
    }
    return true;
  }

  delete(key: string): boolean {
    const n = this.#node(key);
    if (!n) return false;
    this.#unlink(key, n);
    return true;
  }

  *keys(): IterableIterator<string> {
    // Copy first: callers may delete while iterating.
    yield* [...this.#small.keys(), ...this.#main.keys()];
  }

  clear(): void {
    this.#small.clear();
    this.#main.clear();
    this.#ghost.clear();
    this.#smallBytes = 0;
    this.#mainBytes = 0;
  }

  stats(): CacheStoreStats {
    return { ...this.#stats };
  }

  #unlink(key: string, n: Node<V>): void {
    if (n.inMain) {
      this.#main.delete(key);
      this.#mainBytes -= n.bytes;
    } else {
      this.#small.delete(key);
      this.#smallBytes -= n.bytes;
    }
  }

  #evictOne(): void {
    if (this.#small.size > 0 && (this.#smallBytes >= this.#smallTarget || this.#main.size === 0)) {
      this.#evictSmall();
    } else {
      this.#evictMain();
    }
  }

  /** Takes one entry out of small: promoted to main if it was hit, else evicted to ghost. */
  #evictSmall(): void {
    for (const [key, n] of this.#small) {
      this.#small.delete(key);
      this.#smallBytes -= n.bytes;
      if (n.freq > 0) {
        // Promotion frees no bytes overall; the caller's loop then evicts from main if needed.
        n.inMain = true;
        n.freq = 0;
        this.#main.set(key, n);
        this.#mainBytes += n.bytes;
        return;
      }
      this.#remember(key);
      this.#evicted(key, n);
      return;
    }
  }

  /** CLOCK over main: entries with frequency left go round again, one count poorer. */
  #evictMain(): void {
    for (;;) {
      const first = this.#main.entries().next();
      if (first.done) return;
      const [key, n] = first.value;
      this.#main.delete(key);
      if (n.freq > 0) {
        n.freq--;
        this.#main.set(key, n);
        continue;
      }
      this.#mainBytes -= n.bytes;
      this.#evicted(key, n);
      return;
    }
  }

  #remember(key: string): void {
    this.#ghost.add(key);
    const limit = Math.max(MIN_GHOST, this.size);
    while (this.#ghost.size > limit) {
      const first = this.#ghost.values().next();
      if (first.done) break;
      this.#ghost.delete(first.value);
    }
  }

  #evicted(key: string, n: Node<V>): void {
    this.#stats.evictions++;
    this.#onEvict?.(key, n.value, n.bytes);
  }
}
