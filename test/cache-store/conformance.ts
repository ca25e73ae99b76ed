/**
 * `cacheStoreTests(name, factory)`: the behaviour every cache-store policy must share, run for
 * each one by stores.test.ts (as undici's `cacheStoreTests` runs for its memory and sqlite
 * stores). Policy-specific behaviour (which entry goes first) is tested per policy elsewhere.
 */
import { describe, expect, it } from 'vitest';
import type { CacheStore, CacheStoreOptions } from '../../src/cache-store/types.js';
import { uniform as rng } from '../../src/ttl/evidence.js';

type Factory = <V>(options: CacheStoreOptions<V>) => CacheStore<V>;

export function cacheStoreTests(name: string, factory: Factory): void {
  describe(`cache store conformance: ${name}`, () => {
    it('stores, reads and reports its policy and bounds', () => {
      const s = factory<string>({ maxBytes: 100 });
      expect(s.policy).toBe(name);
      expect(s.maxBytes).toBe(100);
      expect(s.set('a', 'A', 10)).toBe(true);
      expect(s.get('a')).toBe('A');
      expect(s.has('a')).toBe(true);
      expect(s.has('b')).toBe(false);
      expect(s.bytes).toBe(10);
      expect(s.size).toBe(1);
      expect([...s.keys()]).toEqual(['a']);
    });

    it('never holds more than maxBytes, and its byte count matches its entries, under random load', () => {
      for (const seed of [1, 2, 3]) {
        const rand = rng(seed);
        const held = new Map<string, number>();
        const s = factory<number>({
          maxBytes: 1000,
          onEvict: (key, _v, bytes) => {
            expect(held.get(key)).toBe(bytes);
            held.delete(key);
          },
        });
        for (let i = 0; i < 5000; i++) {
          const key = `k${Math.floor(rand() * 120)}`;
          const op = rand();
          if (op < 0.5) s.get(key);
          else if (op < 0.9) {
            const bytes = Math.floor(rand() * rand() * 400);
            held.delete(key);
            if (s.set(key, i, bytes)) held.set(key, bytes);
          } else if (s.delete(key)) held.delete(key);
          expect(s.bytes).toBeLessThanOrEqual(1000);
          if (i % 97 === 0) {
            expect(new Set(s.keys())).toEqual(new Set(held.keys()));
            expect(s.bytes).toBe([...held.values()].reduce((a, b) => a + b, 0));
            expect(s.size).toBe(held.size);
          }
        }
      }
    });

    it('rejects an entry larger than maxBytes without evicting anything', () => {
      let evicted = 0;
      const s = factory<string>({ maxBytes: 100, onEvict: () => evicted++ });
      s.set('a', 'A', 60);
      expect(s.set('big', 'B', 101)).toBe(false);
      expect(s.has('big')).toBe(false);
      expect(s.get('a')).toBe('A');
      expect(evicted).toBe(0);
      expect(s.stats().rejected).toBe(1);
      // Exactly maxBytes fits.
      expect(s.set('full', 'F', 100)).toBe(true);
      expect(s.bytes).toBe(100);
      expect(s.has('a')).toBe(false);
    });

    it('calls onEvict exactly once per eviction, with the evicted entry, and never for delete, overwrite or clear', () => {
      const calls: Array<[string, number, number]> = [];
      const s = factory<number>({ maxBytes: 50, onEvict: (k, v, b) => calls.push([k, v, b]) });
      for (let i = 0; i < 20; i++) s.set(`k${i}`, i, 10);
      expect(calls).toHaveLength(15);
      expect(s.stats().evictions).toBe(15);
      const evictedKeys = calls.map((c) => c[0]);
      expect(new Set(evictedKeys).size).toBe(15);
      for (const [k, v, b] of calls) {
        expect(k).toBe(`k${v}`);
        expect(b).toBe(10);
        expect(s.has(k)).toBe(false);
      }
      const before = calls.length;
      const [held] = [...s.keys()];
      s.set(held!, 999, 10); // overwrite
      s.delete(held!);
      s.clear();
      expect(calls).toHaveLength(before);
      expect(s.stats().evictions).toBe(before);
    });

    it('accounts an overwrite by its new size and returns the new value', () => {
      const s = factory<string>({ maxBytes: 100 });
      s.set('a', 'v1', 10);
      s.set('b', 'B', 20);
      expect(s.set('a', 'v2', 30)).toBe(true);
      expect(s.bytes).toBe(50);
      expect(s.size).toBe(2);
      expect(s.peek('a')).toBe('v2');
      expect(s.set('a', 'v3', 5)).toBe(true);
      expect(s.bytes).toBe(25);
    });

    it('drops the old value when an overwrite is refused for size', () => {
      const s = factory<string>({ maxBytes: 100 });
      s.set('a', 'old', 10);
      expect(s.set('a', 'huge', 1000)).toBe(false);
      expect(s.has('a')).toBe(false);
      expect(s.peek('a')).toBeUndefined();
      expect(s.bytes).toBe(0);
    });

    it('deletes', () => {
      const s = factory<string>({ maxBytes: 100 });
      s.set('a', 'A', 10);
      s.set('b', 'B', 15);
      expect(s.delete('a')).toBe(true);
      expect(s.delete('a')).toBe(false);
      expect(s.delete('nope')).toBe(false);
      expect(s.has('a')).toBe(false);
      expect(s.bytes).toBe(15);
      expect(s.size).toBe(1);
      // The freed room is usable without evicting b.
      expect(s.set('c', 'C', 85)).toBe(true);
      expect(s.has('b')).toBe(true);
    });

    it('peek and has return without counting a hit or a miss', () => {
      const s = factory<string>({ maxBytes: 100 });
      s.set('a', 'A', 10);
      expect(s.peek('a')).toBe('A');
      expect(s.peek('zz')).toBeUndefined();
      s.has('a');
      s.has('zz');
      expect(s.stats()).toEqual({ hits: 0, misses: 0, evictions: 0, rejected: 0 });
    });

    it('counts hits and misses on get, and returns a copy of its stats', () => {
      const s = factory<string>({ maxBytes: 100 });
      s.set('a', 'A', 10);
      s.get('a');
      s.get('a');
      s.get('b');
      const st = s.stats();
      expect(st).toEqual({ hits: 2, misses: 1, evictions: 0, rejected: 0 });
      st.hits = 99;
      expect(s.stats().hits).toBe(2);
    });

    it('keeps everything while the working set fits', () => {
      let evicted = 0;
      const s = factory<number>({ maxBytes: 1000, onEvict: () => evicted++ });
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 100; i++) {
          if (s.get(`k${i}`) === undefined) s.set(`k${i}`, i, 10);
        }
      }
      expect(evicted).toBe(0);
      expect(s.stats()).toMatchObject({ hits: 200, misses: 100 });
    });

    it('accepts zero-byte entries and clears', () => {
      const s = factory<string>({ maxBytes: 10 });
      expect(s.set('empty', '', 0)).toBe(true);
      s.set('x', 'X', 10);
      expect(s.has('x')).toBe(true);
      s.clear();
      expect(s.size).toBe(0);
      expect(s.bytes).toBe(0);
      expect([...s.keys()]).toEqual([]);
      expect(s.set('y', 'Y', 10)).toBe(true);
    });

    it('allows deleting while iterating keys()', () => {
      const s = factory<number>({ maxBytes: 100 });
      for (let i = 0; i < 5; i++) s.set(`k${i}`, i, 1);
      for (const k of s.keys()) s.delete(k);
      expect(s.size).toBe(0);
    });

    it('refuses a negative, NaN or infinite size or capacity as a programming error', () => {
      const s = factory<string>({ maxBytes: 10 });
      expect(() => s.set('a', 'A', -1)).toThrow(RangeError);
      expect(() => s.set('a', 'A', Number.NaN)).toThrow(RangeError);
      expect(() => factory<string>({ maxBytes: -1 })).toThrow(RangeError);
      expect(() => factory<string>({ maxBytes: Number.POSITIVE_INFINITY })).toThrow(RangeError);
      expect(s.size).toBe(0);
    });
  });
}
