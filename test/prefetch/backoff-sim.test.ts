/**
 * The simulator runs the worker's own back-off (src/prefetch/backoff.ts): on a trace where
 * nothing predicts what follows, the warms go unused, the class backs off and origin bytes come
 * back to the same store without prefetch; with the back-off disabled the worker keeps paying.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { deployedOptions, runDeployed, runStore, uniqueBytes } from '../../src/prefetch/simulate.js';
import { loadTrace, type Trace } from '../../src/prefetch/trace.js';

let dir: string;
let trace: Trace;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgewise-backoff-sim-'));
  // 30 000 requests, one a second, over 3000 objects drawn independently (Zipf 0.8): every
  // request follows the previous one in the trace's single session, and none predicts the next.
  let s = 7;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const n = 3000;
  const cdf: number[] = [];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** 0.8;
    cdf.push(sum);
  }
  const lines: string[] = [];
  for (let t = 0; t < 30_000; t++) {
    const x = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    lines.push(`${t} o${lo} ${1000 + (lo % 7) * 300}`);
  }
  const f = join(dir, 'uncorrelated.txt');
  await writeFile(f, lines.join('\n'));
  trace = await loadTrace(f);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const configWith = (backoff: Record<string, unknown>) =>
  buildConfig(
    {
      // Logs every 60 s and a pass a minute, so the outcomes come in within the trace.
      edge: { logs: { rotateSeconds: 60 } },
      prefetch: { backoff: { useWindowSeconds: 600, ...backoff } },
    },
    undefined,
  ).config;

describe('simulated back-off', () => {
  it('on uncorrelated traffic the worker backs off: fewer warms, origin bytes within 1.02× of the store alone', () => {
    const cache = Math.floor(uniqueBytes(trace) * 0.05);
    const store = runStore(trace, cache, 's3fifo');
    const never = configWith({ minUsefulShare: 0 });
    const dflt = configWith({});
    const without = runDeployed(trace, cache, 's3fifo', never, deployedOptions(never));
    const backed = runDeployed(trace, cache, 's3fifo', dflt, deployedOptions(dflt));
    // Without back-off the warms cost real origin bytes.
    expect(without.prefetches).toBeGreaterThan(200);
    expect(without.originBytes / store.originBytes).toBeGreaterThan(1.02);
    // With it, most of them are never sent, and the cost is within the 2%.
    expect(backed.prefetches).toBeLessThan(without.prefetches / 3);
    expect(backed.originBytes).toBeLessThan(without.originBytes);
    expect(backed.originBytes / store.originBytes).toBeLessThanOrEqual(1.02);
  });
});
