/**
 * The simulator's follow mode runs the edge's own Follower (src/prefetch/follow.ts) on the
 * request: on page → asset traffic with browser timing it turns asset misses into hits, and its
 * fills are origin bytes; on traffic with no order it sends next to nothing.
 */
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import {
  deployedOptions,
  objectHitRatio,
  runDeployed,
  runStore,
  uniqueBytes,
} from '../../src/prefetch/simulate.js';
import { generateTrace, TRACEGEN_DEFAULTS } from '../../src/prefetch/tracegen.js';

const config = buildConfig({}, undefined).config;
const gen = (correlated: boolean) =>
  generateTrace({ ...TRACEGEN_DEFAULTS, requests: 40_000, objects: 16_000, correlated });

describe('runDeployed with follow', () => {
  it('fills what follows a page on the page request: hits, joins and origin bytes counted', () => {
    const trace = gen(true);
    const cache = Math.floor(uniqueBytes(trace) * 0.01);
    const store = runStore(trace, cache, 's3fifo');
    const d = deployedOptions(config);
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
});
