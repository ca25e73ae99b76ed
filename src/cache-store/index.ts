/**
 * Cache stores by policy name. `DEFAULT_POLICY` is the one the edge and the simulator use
 * unless configured otherwise: `adaptive` (./adaptive.ts), which holds its entries under LRU or
 * S3-FIFO, whichever its miniature simulations show winning on the traffic. Neither fixed policy
 * wins everywhere: S3-FIFO leads LRU by 2–4 points on the AdaptSize CDN trace and by 7–11 on
 * the generated traces, and trails it by 7–9 on a social-media-like trace; `npm run bench
 * cache-policy` prints all four policies at 0.1%, 1% and 10% of unique bytes, and the adaptive
 * store within noise of the better fixed policy in 22 of 24 cells (the social trace at 10%
 * is 0.35 points below LRU: the one switch, after the cache filled, takes a turnover to pay).
 */
import { ADAPTIVE_ENTRY_BYTES, AdaptiveStore } from './adaptive.js';
import { LruStore } from './lru.js';
import { S3FifoStore } from './s3fifo.js';
import { SieveStore } from './sieve.js';
import type { CacheStore, CacheStoreOptions } from './types.js';

export type { CacheStore, CacheStoreFactory, CacheStoreOptions, CacheStoreStats } from './types.js';
export { AdaptiveStore, LruStore, S3FifoStore, SieveStore };

export const POLICIES = ['lru', 's3fifo', 'sieve', 'adaptive'] as const;
export type PolicyName = (typeof POLICIES)[number];
export const DEFAULT_POLICY: PolicyName = 'adaptive';

/**
 * Bytes per entry a policy's own structures hold beyond what the edge's entry cost counts
 * (src/edge/entry.ts counts an S3-FIFO node and its ghost slot for every policy).
 */
export const POLICY_ENTRY_BYTES = {
  lru: 0,
  s3fifo: 0,
  sieve: 0,
  adaptive: ADAPTIVE_ENTRY_BYTES,
} satisfies Record<PolicyName, number>;

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
