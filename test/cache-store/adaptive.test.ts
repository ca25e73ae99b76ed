import { describe, expect, it } from 'vitest';
import { AdaptiveStore } from '../../src/cache-store/adaptive.js';
import { createCacheStore, type PolicyName } from '../../src/cache-store/index.js';
import type { CacheStore } from '../../src/cache-store/types.js';
import {
  type MemTrace,
  rng,
  socialTrace,
  tracegenTrace,
  uniqueBytes,
} from '../helpers/cache-policy-traces.js';

/** The simulator's loop: get, and set on a miss; returns object hits. */
function replay(t: MemTrace, store: CacheStore<number>): number {
  let hits = 0;
  for (let i = 0; i < t.n; i++) {
    const key = t.keys[t.ids[i]!]!;
    if (store.get(key) !== undefined) hits++;
    else store.set(key, 1, t.sizes[i]!);
  }
  return hits;
}

function hitRatios(
  t: MemTrace,
  maxBytes: number,
): Record<PolicyName, number> & { store: AdaptiveStore<number> } {
  const store = new AdaptiveStore<number>({ maxBytes });
  const out = { store } as Record<PolicyName, number> & { store: AdaptiveStore<number> };
  out.adaptive = replay(t, store) / t.n;
  for (const p of ['lru', 's3fifo'] as const)
    out[p] = replay(t, createCacheStore<number>(p, { maxBytes })) / t.n;
  return out;
}

describe('adaptive cache store', () => {
  it('switches to LRU on a social-media trace where S3-FIFO loses, and scores what LRU scores', () => {
    const t = socialTrace(150_000, 3);
    const r = hitRatios(t, Math.floor(uniqueBytes(t) / 100));
    // The trace does what it is for: S3-FIFO well below LRU.
    expect(r.lru - r.s3fifo).toBeGreaterThan(0.05);
    expect(r.store.mode).toBe('lru');
    expect(r.store.adaptation.switches).toBe(1);
    expect(r.adaptive).toBeGreaterThan(r.lru - 0.005);
  });

  it('stays on S3-FIFO, hit for hit, where S3-FIFO wins', () => {
    const t = tracegenTrace(150_000, 15_000, false, 1);
    const r = hitRatios(t, Math.floor(uniqueBytes(t) / 100));
    expect(r.s3fifo).toBeGreaterThan(r.lru + 0.05);
    expect(r.store.mode).toBe('s3fifo');
    expect(r.store.adaptation.switches).toBe(0);
    expect(r.adaptive).toBe(r.s3fifo);
  });

  it('bounds its miniature simulations by maxSampled entries, lowering the sampling rate', () => {
    const t = socialTrace(100_000, 4);
    const store = new AdaptiveStore<number>(
      { maxBytes: Math.floor(uniqueBytes(t) / 10) },
      { maxSampled: 256 },
    );
    let most = 0;
    for (let i = 0; i < t.n; i++) {
      const key = t.keys[t.ids[i]!]!;
      if (store.get(key) === undefined) store.set(key, 1, t.sizes[i]!);
      most = Math.max(most, store.adaptation.sampled);
    }
    expect(most).toBeLessThanOrEqual(256);
    expect(store.adaptation.rate).toBeLessThan(1 / 8);
    expect(store.size).toBeGreaterThan(8 * 256);
  });

  it('keeps every entry, its value and the byte count through switches, evicting nothing by the move', () => {
    // A hair trigger: the store switches whenever the other mini is ahead over its last few accesses.
    const hair = { minAccesses: 1, warmup: 0, margin: 0, z: 0, halfLife: 20 };
    for (const seed of [1, 2, 3]) {
      const rand = rng(seed);
      const held = new Map<string, number>();
      const store = new AdaptiveStore<number>(
        {
          maxBytes: 5000,
          onEvict: (key, value, bytes) => {
            expect(held.get(key)).toBe(bytes);
            expect(value).toBe(bytes * 7);
            held.delete(key);
          },
        },
        hair,
      );
      let modes = 0;
      let last = store.mode;
      let over = 0;
      for (let i = 0; i < 10_000; i++) {
        // Recency-friendly bursts mixed with one-off keys, so the lead changes hands.
        const key = rand() < 0.5 ? `k${Math.floor(rand() * 60) + Math.floor(i / 200)}` : `once${i}`;
        const op = rand();
        if (op < 0.6) {
          if (store.get(key) === undefined) {
            const bytes = 1 + Math.floor(rand() * 300);
            held.delete(key);
            if (store.set(key, bytes * 7, bytes)) held.set(key, bytes);
          }
        } else if (op < 0.95) {
          const bytes = Math.floor(rand() * 300);
          held.delete(key);
          if (store.set(key, bytes * 7, bytes)) held.set(key, bytes);
        } else if (store.delete(key)) held.delete(key);
        if (store.mode !== last) {
          modes++;
          last = store.mode;
          expect(new Set(store.keys())).toEqual(new Set(held.keys()));
          for (const [k, b] of held) expect(store.peek(k)).toBe(b * 7);
        }
        if (store.bytes > 5000) over++;
      }
      expect(over).toBe(0);
      expect(modes).toBeGreaterThan(2);
      expect(store.adaptation.switches).toBe(modes);
      expect(store.bytes).toBe([...held.values()].reduce((a, b) => a + b, 0));
      expect(store.size).toBe(held.size);
    }
  });
});
