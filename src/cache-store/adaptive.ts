/**
 * An adaptive store: holds its entries under LRU or S3-FIFO, whichever is winning on the
 * traffic it sees. Neither policy wins everywhere: S3-FIFO beats LRU on CDN traces full of
 * one-hit wonders (the AdaptSize trace), and loses to it by several points where new content
 * is requested two or three times at medium reuse distances and then forgotten (a social-media
 * workload: the second request comes after S3-FIFO's small queue has dropped the object, so
 * LRU hits and S3-FIFO misses). `npm run bench cache-policy` measures both cases.
 *
 * How it decides: miniature simulations (Waldspurger et al., "Efficient MRC construction with
 * SHARDS", FAST 2015). A key is sampled when a hash of it falls under a threshold (spatial
 * sampling: a sampled key is sampled on every request). Two small stores, a real LruStore and
 * a real S3FifoStore of `maxBytes × rate` bytes, see every get, set and delete of the sampled
 * keys, so each one's hit count estimates what its policy would score here at full size. The
 * rate starts at 1 (the minis are exact shadows while the cache holds few entries) and halves
 * whenever a mini would hold more than a quarter of the store's entries (at least
 * `minSampled`, at most `maxSampled`); the survivors keep their place (SHARDS-adj's
 * downsampling), so the minis' memory follows the store's entry count and is counted per entry
 * (`ADAPTIVE_ENTRY_BYTES`).
 *
 * The real store follows the winner with hysteresis: it switches only when the other policy's
 * decayed hit ratio leads the current one's by `margin`, over at least `minAccesses` sampled
 * accesses since the minis were (re)built, and not again within a cooldown. A switch moves
 * every entry into a new store of the other policy, least recently used first (O(n log n) in
 * the entries, rare by construction); values, sizes and the caller's onEvict are kept, and nothing is evicted by
 * the move (the same bytes fit the same bound).
 *
 * Cost on the hit path: one extra object load and a compare per get (the sampled flag is the
 * entry's stored hash); only sampled keys (the rate) touch the minis. A miss hashes the key.
 */
import { LruStore } from './lru.js';
import { S3FifoStore } from './s3fifo.js';
import {
  type CacheStore,
  type CacheStoreOptions,
  type CacheStoreStats,
  checkMaxBytes,
  checkSize,
} from './types.js';

/** The policies the adaptive store chooses between. */
export type AdaptiveMode = 'lru' | 's3fifo';

export interface AdaptiveTuning {
  /**
   * Each mini holds at most this many entries, and at most a quarter as many as the store holds
   * (but always `minSampled`); above that the sampling rate halves.
   */
  maxSampled: number;
  minSampled: number;
  /** Lead (in hit ratio, 0–1) the other policy needs before the store switches. */
  margin: number;
  /** Sampled accesses since the last switch (or the start) before the next. */
  minAccesses: number;
  /** Sampled accesses after the minis are rebuilt (at a new rate) before they are trusted. */
  warmup: number;
  /** Standard deviations of the paired difference the lead must exceed. */
  z: number;
  /** Half-life of the hit counts, in sampled accesses. */
  halfLife: number;
  /** Policy the store starts with. */
  initial: AdaptiveMode;
  /** Hash seed (the bench varies it to measure the sampling's own spread). */
  seed: number;
}

export const ADAPTIVE_DEFAULTS: Readonly<AdaptiveTuning> = {
  maxSampled: 2048,
  minSampled: 128,
  margin: 0.005,
  minAccesses: 1000,
  warmup: 500,
  z: 3,
  halfLife: 20_000,
  // S3-FIFO: the measured winner on the AdaptSize CDN trace.
  initial: 's3fifo',
  seed: 0x811c9dc5,
};

/**
 * What the adaptive store holds per entry beyond an S3FifoStore (whose node and ghost slot the
 * edge's entry cost already counts, src/edge/entry.ts): the entry's slot (value, size, hash)
 * and its share of the minis, which hold at most a quarter as many sampled entries as the store
 * each (an LruStore entry, an S3FifoStore node and its ghost slot: ≈ 660 B a sampled entry).
 * Measured (V8 heap after forced GCs, 4 stores of N entries of 1000-byte weight after 6N
 * accesses, keys shared with the caller): 216 / 90 / 70 B an entry more than S3-FIFO at
 * N = 1,000 / 20,000 / 100,000. Below 512 entries the minis' floor (`minSampled` = 128
 * sampled entries, ≈ 85 KB) is more than this counts.
 */
export const ADAPTIVE_ENTRY_BYTES = 256;

/** What the real store holds per entry: the value, its size, its key's hash and when it was last used. */
interface Slot<V> {
  value: V;
  bytes: number;
  hash: number;
  /** The store's access counter at the entry's last set or hit (LRU order for a switch). */
  used: number;
}

const RATE_BITS = 32;
const FULL = 2 ** RATE_BITS;

/** FNV-1a over the key's UTF-16 code units, 32 bits; a non-zero seed varies the sample. */
export function keyHash(key: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // A final avalanche, so keys differing only in their last characters spread over the range.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

export class AdaptiveStore<V> implements CacheStore<V> {
  readonly policy = 'adaptive';
  readonly maxBytes: number;
  readonly #tuning: AdaptiveTuning;
  /** Per sampled access, the factor that halves the counts over `halfLife` accesses. */
  readonly #decay: number;
  readonly #onEvict: CacheStoreOptions<V>['onEvict'];
  readonly #stats: CacheStoreStats = { hits: 0, misses: 0, evictions: 0, rejected: 0 };
  #mode: AdaptiveMode;
  #inner: CacheStore<Slot<V>>;
  /** Keys whose hash is below this are sampled (rate = threshold / 2^32). */
  #threshold = FULL;
  /** 1 ÷ the sampling rate: what a sampled entry's size is multiplied by in the minis. */
  #scale = 1;
  /** The miniature simulations; each value is the entry's real size. */
  #miniLru!: LruStore<number>;
  #miniS3!: S3FifoStore<number>;
  /** Decayed sampled accesses and each mini's decayed hits. */
  #acc = 0;
  #hitLru = 0;
  #hitS3 = 0;
  /** Decayed count of sampled accesses where exactly one mini hit (the paired test's variance). */
  #disagree = 0;
  /** Sampled accesses since the minis were built, and since the last switch. */
  #sinceBuild = 0;
  #sinceSwitch = 0;
  #switches = 0;
  /** Counts sets and hits: an entry's `used` orders the entries by recency. */
  #clock = 0;

  constructor(options: CacheStoreOptions<V>, tuning: Partial<AdaptiveTuning> = {}) {
    this.maxBytes = checkMaxBytes(options.maxBytes);
    this.#onEvict = options.onEvict;
    this.#tuning = { ...ADAPTIVE_DEFAULTS, ...tuning };
    this.#decay = 0.5 ** (1 / this.#tuning.halfLife);
    this.#mode = this.#tuning.initial;
    this.#inner = this.#newInner(this.#mode);
    this.#buildMinis();
  }

  /** The policy the entries are held under now. */
  get mode(): AdaptiveMode {
    return this.#mode;
  }

  /** How often the store changed policy, and the minis' sampling rate. */
  get adaptation(): { switches: number; rate: number; sampled: number } {
    return {
      switches: this.#switches,
      rate: this.#threshold / FULL,
      sampled: Math.max(this.#miniLru.size, this.#miniS3.size),
    };
  }

  get bytes(): number {
    return this.#inner.bytes;
  }

  get size(): number {
    return this.#inner.size;
  }

  get(key: string): V | undefined {
    const slot = this.#inner.get(key);
    if (slot) {
      this.#stats.hits++;
      slot.used = ++this.#clock;
      if (slot.hash < this.#threshold) this.#sample(key, slot.bytes);
      return slot.value;
    }
    this.#stats.misses++;
    if (keyHash(key, this.#tuning.seed) < this.#threshold) this.#sample(key, -1);
    return undefined;
  }

  peek(key: string): V | undefined {
    return this.#inner.peek(key)?.value;
  }

  has(key: string): boolean {
    return this.#inner.has(key);
  }

  set(key: string, value: V, bytes: number): boolean {
    checkSize(bytes);
    const hash = keyHash(key, this.#tuning.seed);
    if (hash < this.#threshold) {
      // Each mini stores what its policy would (a refused size is refused there too).
      this.#miniLru.set(key, bytes, bytes * this.#scale);
      this.#miniS3.set(key, bytes, bytes * this.#scale);
      this.#checkMiniSize();
    }
    // The inner store drops an old entry under `key` even when it refuses the new one.
    if (this.#inner.set(key, { value, bytes, hash, used: ++this.#clock }, bytes)) return true;
    this.#stats.rejected++;
    return false;
  }

  delete(key: string): boolean {
    if (keyHash(key, this.#tuning.seed) < this.#threshold) {
      this.#miniLru.delete(key);
      this.#miniS3.delete(key);
    }
    return this.#inner.delete(key);
  }

  keys(): IterableIterator<string> {
    // A copy: callers may delete (or set, which may switch the inner store) while iterating.
    return [...this.#inner.keys()][Symbol.iterator]();
  }

  clear(): void {
    this.#inner.clear();
    this.#buildMinis();
  }

  stats(): CacheStoreStats {
    return { ...this.#stats };
  }

  #newInner(mode: AdaptiveMode): CacheStore<Slot<V>> {
    const options: CacheStoreOptions<Slot<V>> = {
      maxBytes: this.maxBytes,
      onEvict: (key, slot) => {
        this.#stats.evictions++;
        this.#onEvict?.(key, slot.value, slot.bytes);
      },
    };
    return mode === 'lru' ? new LruStore(options) : new S3FifoStore(options);
  }

  /**
   * The minis hold the real capacity, and a sampled entry weighs its size ÷ rate (SHARDS'
   * scaling; rates are powers of two, so the weights and their sums stay exact integers).
   */
  #buildMinis(): void {
    this.#threshold = FULL;
    this.#scale = 1;
    this.#miniLru = new LruStore<number>({ maxBytes: this.maxBytes });
    this.#miniS3 = new S3FifoStore<number>({ maxBytes: this.maxBytes });
    this.#acc = this.#hitLru = this.#hitS3 = this.#disagree = 0;
    this.#sinceBuild = 0;
  }

  /** A get of a sampled key; `bytes` is the real entry's size, or -1 when the real store missed. */
  #sample(key: string, bytes: number): void {
    const lruHit = this.#miniLru.get(key) !== undefined;
    const s3Hit = this.#miniS3.get(key) !== undefined;
    // A mini that missed while the real store hit fetches the object as its policy would;
    // when the real store missed too, the caller's set stores it in both.
    if (bytes >= 0) {
      if (!lruHit) this.#miniLru.set(key, bytes, bytes * this.#scale);
      if (!s3Hit) this.#miniS3.set(key, bytes, bytes * this.#scale);
      this.#checkMiniSize();
    }
    const decay = this.#decay;
    this.#acc = this.#acc * decay + 1;
    this.#hitLru = this.#hitLru * decay + (lruHit ? 1 : 0);
    this.#hitS3 = this.#hitS3 * decay + (s3Hit ? 1 : 0);
    this.#disagree = this.#disagree * decay + (lruHit !== s3Hit ? 1 : 0);
    this.#sinceBuild++;
    this.#sinceSwitch++;
    this.#decide();
  }

  #decide(): void {
    const t = this.#tuning;
    if (this.#sinceBuild < t.warmup || this.#sinceSwitch < t.minAccesses) return;
    const lead = this.#mode === 'lru' ? this.#hitS3 - this.#hitLru : this.#hitLru - this.#hitS3;
    // Paired sign test: the lead must exceed `z` standard deviations of the disagreements,
    // not only the margin, so a few lucky hits on a small sample do not move the store.
    if (lead > t.margin * this.#acc && lead > t.z * Math.sqrt(this.#disagree))
      this.#switchTo(this.#mode === 'lru' ? 's3fifo' : 'lru');
  }

  #switchTo(mode: AdaptiveMode): void {
    const old = this.#inner;
    const next = this.#newInner(mode);
    // Least recently used first, so LRU's order is exact after a switch to it, and S3-FIFO's
    // first victims are the entries idle longest. (S3-FIFO's own order is by insertion: it
    // would put the oldest hot objects first in line.) Peek, not get: the move is no access.
    const slots: Array<[string, Slot<V>]> = [];
    for (const key of old.keys()) slots.push([key, old.peek(key)!]);
    slots.sort((a, b) => a[1].used - b[1].used);
    for (const [key, slot] of slots) next.set(key, slot, slot.bytes);
    this.#inner = next;
    this.#mode = mode;
    this.#switches++;
    this.#sinceSwitch = 0;
  }

  /**
   * Halves the sampling rate when a mini would outgrow its bound: keys no longer sampled leave
   * both minis, and the rest are stored again at twice their weight, oldest first, which keeps
   * LRU's recency order and S3-FIFO's queue and frequency of each key (SHARDS-adj's
   * downsampling), so the minis' history survives the change.
   */
  #checkMiniSize(): void {
    const t = this.#tuning;
    const limit = Math.min(t.maxSampled, Math.max(t.minSampled, this.#inner.size >> 2));
    if (Math.max(this.#miniLru.size, this.#miniS3.size) <= limit) return;
    this.#threshold /= 2;
    this.#scale *= 2;
    const sampled = (key: string) => keyHash(key, this.#tuning.seed) < this.#threshold;
    // LRU: a new mini fed the survivors oldest first is exactly LRU's order, and any overflow
    // of the doubled weights evicts the oldest, as LRU would.
    const lru = new LruStore<number>({ maxBytes: this.maxBytes });
    for (const key of this.#miniLru.keys()) {
      const bytes = this.#miniLru.peek(key)!;
      if (sampled(key)) lru.set(key, bytes, bytes * this.#scale);
    }
    this.#miniLru = lru;
    // S3-FIFO in place: a set of a held key keeps its queue and frequency. The dropped keys go
    // first so the doubled weights mostly fit; an overflow evicts by S3-FIFO's own rule.
    const keys = [...this.#miniS3.keys()];
    for (const key of keys) if (!sampled(key)) this.#miniS3.delete(key);
    for (const key of keys) {
      const bytes = this.#miniS3.peek(key);
      if (bytes !== undefined) this.#miniS3.set(key, bytes, bytes * this.#scale);
    }
  }
}
