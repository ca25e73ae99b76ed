import { describe, expect, it } from 'vitest';
import type { PolicyName } from '../../src/cache-store/index.js';
import { intervals, nextUses, pfooLower, pfooUpper } from '../../src/prefetch/bounds.js';
import { runStore } from '../../src/prefetch/simulate.js';
import type { Trace } from '../../src/prefetch/trace.js';

/** A trace from (key, size) pairs, one request per time unit. */
function traceOf(reqs: Array<[string, number]>): Trace {
  const keys: string[] = [];
  const index = new Map<string, number>();
  const ids = new Int32Array(reqs.length);
  reqs.forEach(([k], i) => {
    let id = index.get(k);
    if (id === undefined) {
      id = keys.length;
      keys.push(k);
      index.set(k, id);
    }
    ids[i] = id;
  });
  return {
    n: reqs.length,
    times: Float64Array.from(reqs, (_, i) => i),
    ids,
    sizes: Float64Array.from(reqs, ([, s]) => s),
    clients: new Int32Array(reqs.length),
    keys,
    unitsPerSecond: 1,
    format: 'trace',
    malformed: 0,
  };
}

/**
 * The offline optimum of the interval model by exhaustion: every subset of intervals whose
 * sizes fit at every request time. Returns the best object hits and, separately, byte hits.
 */
function bruteForceOpt(trace: Trace, cache: number): { hits: number; hitBytes: number } {
  const next = nextUses(trace);
  const iv: number[] = [];
  for (let i = 0; i < trace.n; i++) if (next[i]! < trace.n) iv.push(i);
  expect(iv.length).toBeLessThanOrEqual(16);
  let hits = 0;
  let hitBytes = 0;
  const load = new Float64Array(trace.n);
  for (let mask = 0; mask < 1 << iv.length; mask++) {
    load.fill(0);
    let ok = true;
    let h = 0;
    let b = 0;
    for (let j = 0; j < iv.length && ok; j++) {
      if (!(mask & (1 << j))) continue;
      const s = iv[j]!;
      const e = next[s]!;
      for (let t = s; t < e; t++) {
        load[t]! += trace.sizes[s]!;
        if (load[t]! > cache) ok = false;
      }
      h++;
      b += trace.sizes[e]!;
    }
    if (!ok) continue;
    hits = Math.max(hits, h);
    hitBytes = Math.max(hitBytes, b);
  }
  return { hits, hitBytes };
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('PFOO bounds', () => {
  it('computes the hand-worked example exactly', () => {
    // a(2) b(1) a(2) b(1) c(3) a(2), cache 3. Intervals: a[0,2) w=4, b[1,3) w=2, a[2,5) w=6.
    // OPT holds b then a (a's first interval overlaps b at time 1: 2 + 1 = 3 fits too), so all
    // three intervals fit: 3 hits. PFOO-U's averaged budget 3 × 6 = 18 ≥ 12 takes all three.
    const t = traceOf([
      ['a', 2],
      ['b', 1],
      ['a', 2],
      ['b', 1],
      ['c', 3],
      ['a', 2],
    ]);
    const iv = intervals(t);
    expect(pfooUpper(iv, 3)).toEqual({ hits: 3, hitBytes: 5 });
    expect(pfooLower(iv, 3)).toEqual({ hits: 3, hitBytes: 5 });
    expect(bruteForceOpt(t, 3)).toEqual({ hits: 3, hitBytes: 5 });
    // Cache 2: b overlaps both a intervals (3 > 2), so OPT keeps a[0,2) + a[2,5): 2 hits.
    // PFOO-U's budget 2 × 6 = 12 takes b (2), a (4) and a (6): 3, above OPT, as a relaxation
    // may be. PFOO-L takes the cheapest, b, first, and then neither a fits: 1, below OPT.
    expect(bruteForceOpt(t, 2)).toEqual({ hits: 2, hitBytes: 4 });
    expect(pfooUpper(iv, 2).hits).toBe(3);
    expect(pfooLower(iv, 2).hits).toBe(1);
  });

  it('brackets the brute-force optimum on random traces: PFOO-U ≥ OPT ≥ PFOO-L, and every store ≤ OPT', () => {
    const rand = rng(7);
    let strictUpper = 0;
    let strictLower = 0;
    for (let round = 0; round < 150; round++) {
      const objects = 3 + Math.floor(rand() * 3);
      const sizes = Array.from({ length: objects }, () => 1 + Math.floor(rand() * 5));
      const reqs: Array<[string, number]> = [];
      while (reqs.length < 18) {
        const o = Math.floor(rand() * objects);
        reqs.push([`o${o}`, sizes[o]!]);
        const t0 = traceOf(reqs);
        const nx = nextUses(t0);
        let m = 0;
        for (let i = 0; i < t0.n; i++) if (nx[i]! < t0.n) m++;
        if (m >= 13) break;
      }
      const t = traceOf(reqs);
      const cache = 2 + Math.floor(rand() * 8);
      const iv = intervals(t);
      const opt = bruteForceOpt(t, cache);
      const up = pfooUpper(iv, cache);
      const low = pfooLower(iv, cache);
      const at = `round ${round}: ${reqs.map(([k, s]) => `${k}:${s}`).join(' ')} cache ${cache}`;
      expect(up.hits, at).toBeGreaterThanOrEqual(opt.hits - 1e-9);
      expect(up.hitBytes, at).toBeGreaterThanOrEqual(opt.hitBytes - 1e-9);
      expect(low.hits, at).toBeLessThanOrEqual(opt.hits);
      expect(low.hitBytes, at).toBeLessThanOrEqual(opt.hitBytes);
      if (up.hits > opt.hits + 1e-9) strictUpper++;
      if (low.hits < opt.hits) strictLower++;
      for (const p of ['lru', 's3fifo', 'sieve'] as PolicyName[]) {
        const r = runStore(t, cache, p);
        expect(r.hits, `${at} ${p}`).toBeLessThanOrEqual(opt.hits);
        expect(r.hitBytes, `${at} ${p}`).toBeLessThanOrEqual(opt.hitBytes);
      }
    }
    // The bounds are not OPT itself: on some traces each one is strictly off.
    expect(strictUpper).toBeGreaterThan(0);
    expect(strictLower).toBeGreaterThan(0);
  });

  it('leaves out objects larger than the cache, and equals the infinite cache when everything fits', () => {
    const t = traceOf([
      ['big', 10],
      ['s', 1],
      ['big', 10],
      ['s', 1],
    ]);
    const iv = intervals(t);
    expect(pfooUpper(iv, 5)).toEqual({ hits: 1, hitBytes: 1 });
    expect(pfooLower(iv, 5)).toEqual({ hits: 1, hitBytes: 1 });
    expect(pfooUpper(iv, 100)).toEqual({ hits: 2, hitBytes: 11 });
    expect(pfooLower(iv, 100)).toEqual({ hits: 2, hitBytes: 11 });
  });
});
