import { describe, expect, it } from 'vitest';
import { createCacheStore, DEFAULT_POLICY, isPolicyName, POLICIES } from '../../src/cache-store/index.js';
import type { CacheStore } from '../../src/cache-store/types.js';
import { cacheStoreTests } from './conformance.js';

for (const policy of POLICIES) {
  cacheStoreTests(policy, (options) => createCacheStore(policy, options));
}

/** Hot keys requested between long one-off scans: how many of the hot requests hit. */
function hotHitsUnderScan(store: CacheStore<number>): number {
  let hotHits = 0;
  let scan = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 20; i++) {
      const k = `hot${i}`;
      if (store.get(k) !== undefined) hotHits++;
      else store.set(k, i, 10);
    }
    // A crawler touching 60 never-again keys: 1.5x the cache.
    for (let i = 0; i < 60; i++) {
      const k = `scan${scan++}`;
      if (store.get(k) === undefined) store.set(k, i, 10);
    }
  }
  return hotHits;
}

describe('policy behaviour', () => {
  it('LRU evicts the least recently used entry', () => {
    const s = createCacheStore<number>('lru', { maxBytes: 30 });
    s.set('a', 1, 10);
    s.set('b', 2, 10);
    s.set('c', 3, 10);
    s.get('a');
    s.set('d', 4, 10);
    expect([...s.keys()].sort()).toEqual(['a', 'c', 'd']);
  });

  it('S3-FIFO keeps a hot set through scans that flush LRU', () => {
    const lru = hotHitsUnderScan(createCacheStore('lru', { maxBytes: 400 }));
    const s3 = hotHitsUnderScan(createCacheStore('s3fifo', { maxBytes: 400 }));
    expect(lru).toBe(0);
    // 49 rounds after the first could hit all 20 hot keys.
    expect(s3).toBeGreaterThan(0.9 * 49 * 20);
  });

  it('SIEVE spares an entry that was hit when the hand passes it', () => {
    const s = createCacheStore<number>('sieve', { maxBytes: 30 });
    s.set('a', 1, 10);
    s.set('b', 2, 10);
    s.set('c', 3, 10);
    s.get('a');
    s.set('d', 4, 10); // hand: a visited (spared), b evicted
    expect([...s.keys()].sort()).toEqual(['a', 'c', 'd']);
    s.set('e', 5, 10); // hand continues at c
    expect([...s.keys()].sort()).toEqual(['a', 'd', 'e']);
  });

  it('S3-FIFO admits a key remembered by its ghost straight to the main queue', () => {
    const s = createCacheStore<number>('s3fifo', { maxBytes: 100 });
    // Fill with one-hit keys: they pass through small and are evicted to ghost.
    for (let i = 0; i < 30; i++) s.set(`k${i}`, i, 10);
    expect(s.has('k0')).toBe(false);
    s.set('k0', 0, 10); // back from the ghost: main
    for (let i = 100; i < 130; i++) s.set(`k${i}`, i, 10); // another scan
    expect(s.has('k0')).toBe(true);
  });

  it('names policies and refuses unknown ones', () => {
    expect(isPolicyName(DEFAULT_POLICY)).toBe(true);
    expect(isPolicyName('arc')).toBe(false);
    expect(() => createCacheStore('arc' as never, { maxBytes: 1 })).toThrow(/unknown cache policy/);
  });
});
