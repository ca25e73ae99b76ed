/**
 * The simulator's follow mode runs the edge's own Follower (src/prefetch/follow.ts) on the
 * request: on page → asset traffic with browser timing it turns asset misses into hits, and its
 * fills are origin bytes; on traffic with no order it sends next to nothing. A missed page
 * delays its assets by its own fetch (trace.after), and a landed fill is stored as one access,
 * as the edge stores it.
 */
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import {
  deployedOptions,
  NO_PREFETCH,
  objectHitRatio,
  runDeployed,
  runStore,
  uniqueBytes,
} from '../../src/prefetch/simulate.js';
import type { Trace } from '../../src/prefetch/trace.js';
import { generateTrace, TRACEGEN_DEFAULTS } from '../../src/prefetch/tracegen.js';

const config = buildConfig({}, undefined).config;
const gen = (correlated: boolean) =>
  generateTrace({ ...TRACEGEN_DEFAULTS, requests: 40_000, objects: 16_000, correlated });

describe('runDeployed with follow', () => {
  it('fills what follows a page on the page request: hits, joins and origin bytes counted', () => {
    const trace = gen(true);
    const cache = Math.floor(uniqueBytes(trace) * 0.01);
    const d = deployedOptions(config);
    // On the browser's clock too: a missed page delays its assets in the store alone as well.
    const store = runDeployed(trace, cache, 's3fifo', config, d, NO_PREFETCH);
    expect(store.name).toBe('s3fifo');
    expect(store.follows + store.prefetches).toBe(0);
    const f = runDeployed(trace, cache, 's3fifo', config, d, { worker: false, follow: true });
    expect(f.name).toBe('s3fifo+follow');
    expect(f.prefetches).toBe(0);
    expect(f.follows).toBeGreaterThan(1000);
    expect(f.followUsed).toBeGreaterThan(0);
    expect(f.followJoined).toBeGreaterThan(0);
    expect(objectHitRatio(f) - objectHitRatio(store)).toBeGreaterThan(0.03);
    // Every fill is an origin fetch: those not used are bytes on top of the store's.
    expect(f.originBytes).toBeGreaterThan(store.originBytes - f.followBytes);
    expect(f.followStats?.started).toBe(f.follows);
    // A fill lands as one access, so S3-FIFO's small queue does not drop it to the ghost before
    // the browser asks: nearly every fill is used or joined (stored as plain misses, over a third were not).
    expect(f.follows - f.followUsed - f.followJoined).toBeLessThan(f.follows * 0.03);
    // A fill that lands after the browser asked is a join, not a hit: with a slow origin, fewer hits.
    const slow = runDeployed(
      trace,
      cache,
      's3fifo',
      config,
      { ...d, fetchLatencySeconds: 5 },
      { worker: false, follow: true },
    );
    expect(slow.followUsed).toBeLessThan(f.followUsed / 4);
    expect(objectHitRatio(slow)).toBeLessThan(objectHitRatio(f));
  });

  it('on traffic with no order sends next to nothing (origin bytes within 1.02× of the store)', () => {
    const trace = gen(false);
    const cache = Math.floor(uniqueBytes(trace) * 0.01);
    const store = runStore(trace, cache, 's3fifo');
    const f = runDeployed(trace, cache, 's3fifo', config, deployedOptions(config), {
      worker: true,
      follow: true,
    });
    expect(f.name).toBe('s3fifo+prefetch+follow');
    expect(f.originBytes / store.originBytes).toBeLessThanOrEqual(1.02);
  });

  it('a missed page sends its assets a fetch later, so the fills it started land first (trace.after)', () => {
    // Two viewers teach page → asset; fillers push both out of a 3-object LRU; a third viewer's
    // page misses, and its asset (50 ms after the page in the trace) comes after the page's own
    // 100 ms fetch: the follow fill started on the page request has landed by then.
    const times: number[] = [];
    const ids: number[] = [];
    const clients: number[] = [];
    const after: number[] = [];
    const add = (t: number, id: number, c: number, a = -1) => {
      times.push(t);
      ids.push(id);
      clients.push(c);
      after.push(a);
    };
    for (const [t, c] of [
      [0, 1],
      [10, 2],
      [100, 3],
    ] as const) {
      if (c === 3) for (let k = 0; k < 6; k++) add(50 + k, 2 + k, 9);
      add(t, 0, c);
      add(t + 0.05, 1, c, times.length - 1);
    }
    const n = times.length;
    const trace: Trace = {
      n,
      times: Float64Array.from(times),
      ids: Int32Array.from(ids),
      sizes: new Float64Array(n).fill(100),
      clients: Int32Array.from(clients),
      keys: ['/page.html', '/a.js', ...Array.from({ length: 6 }, (_, k) => `/other${k}`)],
      unitsPerSecond: 1,
      format: 'trace',
      malformed: 0,
      after: Int32Array.from(after),
    };
    const d = deployedOptions(config);
    const mode = { worker: false, follow: true };
    const waited = runDeployed(trace, 300, 'lru', config, d, mode);
    expect(waited.follows).toBe(1);
    expect(waited.followUsed).toBe(1);
    expect(waited.followJoined).toBe(0);
    // The same trace with its times as observed: the asset comes 50 ms after the page, while the fill is out.
    const asLogged = runDeployed({ ...trace, after: undefined }, 300, 'lru', config, d, mode);
    expect(asLogged.follows).toBe(1);
    expect(asLogged.followUsed).toBe(0);
    expect(asLogged.followJoined).toBe(1);
    // Without prefetch the wait changes when requests are made, not what they hit here.
    expect(runDeployed(trace, 300, 'lru', config, d, NO_PREFETCH).hits).toBe(
      runStore(trace, 300, 'lru').hits,
    );
  });

  it('generated page views say which page each asset waited for', () => {
    const trace = gen(true);
    const after = trace.after!;
    let assets = 0;
    const wrong: number[] = [];
    for (let i = 0; i < trace.n; i++) {
      const p = after[i]!;
      if (p < 0) continue;
      assets++;
      const page = trace.keys[trace.ids[p]!]!;
      if (!(p < i && after[p] === -1 && trace.clients[p] === trace.clients[i] && page.endsWith('.html')))
        wrong.push(i);
    }
    expect(wrong).toEqual([]);
    expect(assets).toBeGreaterThan(trace.n / 2);
    expect(gen(false).after).toBeUndefined();
  });
});
