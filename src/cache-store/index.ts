/**
 * Cache stores by policy name. `DEFAULT_POLICY` is the one the edge uses unless configured
 * otherwise; it was chosen by measurement on the AdaptSize CDN trace (object hit ratio at
 * 0.1%, 1% and 10% of unique bytes; `npm run bench prefetch`).
 */
import { AdaptiveStore } from './adaptive.js';
import { LruStore } from './lru.js';
import { S3FifoStore } from './s3fifo.js';
import { SieveStore } from './sieve.js';
import type { CacheStore, CacheStoreOptions } from './types.js';

export type { CacheStore, CacheStoreFactory, CacheStoreOptions, CacheStoreStats } from './types.js';
export { AdaptiveStore, LruStore, S3FifoStore, SieveStore };

export const POLICIES = ['lru', 's3fifo', 'sieve', 'adaptive'] as const;
export type PolicyName = (typeof POLICIES)[number];
export const DEFAULT_POLICY: PolicyName = 's3fifo';

const constructors = {
  lru: LruStore,
  s3fifo: S3FifoStore,
  sieve: SieveStore,
  adaptive: AdaptiveStore,
} satisfies Record<PolicyName, new (options: CacheStoreOptions<never>) => CacheStore<never>>;

export function isPolicyName(name: string): name is PolicyName {
  return (POLICIES as readonly string[]).includes(name);
}

/** A new, empty store with the named eviction policy. */
export function createCacheStore<V>(policy: PolicyName, options: CacheStoreOptions<V>): CacheStore<V> {
  const Ctor = constructors[policy];
  if (!Ctor) throw new RangeError(`unknown cache policy "${policy}"; known: ${POLICIES.join(', ')}`);
  return new Ctor<V>(options);
}
