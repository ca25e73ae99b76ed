/**
 * The cache-store seam shared by the local edge (src/edge) and the prefetch simulator
 * (src/prefetch): a byte-bounded map with an eviction policy. Values are opaque to the store;
 * the caller says how many bytes each one costs. Every implementation passes
 * test/cache-store/conformance.ts (`cacheStoreTests`).
 */
export interface CacheStoreStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Entries refused by `set` (too large, or not admitted by the policy). */
  rejected: number;
}

export interface CacheStoreOptions<V> {
  /** Upper bound on the sum of entry sizes; the store never holds more. */
  maxBytes: number;
  /** Called once for every entry the policy evicts (not for delete or overwrite). */
  onEvict?: ((key: string, value: V, bytes: number) => void) | undefined;
}

export interface CacheStore<V> {
  readonly policy: string;
  readonly maxBytes: number;
  /** Sum of the sizes of the entries held. */
  readonly bytes: number;
  /** Number of entries held. */
  readonly size: number;
  /** Returns the value and records an access (counts a hit or a miss). */
  get(key: string): V | undefined;
  /** Returns the value without recording an access. */
  peek(key: string): V | undefined;
  has(key: string): boolean;
  /**
   * Stores or replaces; returns false when the entry was not stored (larger than maxBytes, or
   * refused). An existing entry under `key` is always removed first (without `onEvict`), so a
   * refused overwrite never leaves the old value behind. `bytes` must be a finite number ≥ 0.
   */
  set(key: string, value: V, bytes: number): boolean;
  delete(key: string): boolean;
  keys(): IterableIterator<string>;
  clear(): void;
  stats(): CacheStoreStats;
}

export type CacheStoreFactory = <V>(options: CacheStoreOptions<V>) => CacheStore<V>;

/** Throws a RangeError unless `maxBytes` is a finite number ≥ 0 (a programming error, not input). */
export function checkMaxBytes(maxBytes: number): number {
  if (!Number.isFinite(maxBytes) || maxBytes < 0)
    throw new RangeError(`maxBytes must be a finite number >= 0, got ${maxBytes}`);
  return maxBytes;
}

/** Throws a RangeError unless an entry size is a finite number ≥ 0. */
export function checkSize(bytes: number): void {
  if (!Number.isFinite(bytes) || bytes < 0)
    throw new RangeError(`entry bytes must be a finite number >= 0, got ${bytes}`);
}
