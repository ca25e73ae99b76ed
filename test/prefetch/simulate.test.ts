import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCacheSizes } from '../../src/prefetch/sim-report.js';
import {
  DEFAULT_SIM_PREFETCH,
  objectHitRatio,
  runInfinite,
  runOffline,
  runPrefetch,
  runStore,
} from '../../src/prefetch/simulate.js';
import { loadTrace } from '../../src/prefetch/trace.js';
import { runCli } from '../helpers/cli.js';
import { gzLog, line33, when } from './log-fixtures.js';

const ADAPTSIZE = new URL('../fixtures/data/adaptsize-request.trace.xz', import.meta.url).pathname;
const SAMPLE_LOG = new URL('../fixtures/data/aws-sample-cloudfront-access-logs.gz', import.meta.url).pathname;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgewise-sim-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function traceFile(name: string, text: string | Buffer): Promise<string> {
  const f = join(dir, name);
  await writeFile(f, text);
  return f;
}

describe('trace loading', () => {
  it('reads `time id size` lines plain or gzipped, counting malformed ones', async () => {
    const text = '1 a 10\n2 b 20\nbroken line here x\n3 a 10\n\n4 c -5\n5 c 30';
    for (const f of [await traceFile('t.txt', text), await traceFile('t.gz', gzipSync(text))]) {
      const t = await loadTrace(f);
      expect(t.format).toBe('trace');
      expect(t.n).toBe(4);
      expect(t.keys).toEqual(['a', 'b', 'c']);
      expect(t.malformed).toBe(2);
    }
  });

  it('reads the AdaptSize trace through the xz binary', async () => {
    const t = await loadTrace(ADAPTSIZE);
    expect(t.n).toBe(66_987);
    expect(t.keys.length).toBe(36_815);
  });

  it('reads a CloudFront log as a trace, in time order', async () => {
    const t = await loadTrace(SAMPLE_LOG);
    expect(t.format).toBe('cloudfront');
    expect(t.n).toBe(66);
    const late = when(Date.parse('2026-11-28T10:00:05Z'));
    const early = when(Date.parse('2026-11-28T10:00:01Z'));
    const f = await traceFile(
      'cf.gz',
      gzLog([line33({ ...late, 'cs-uri-stem': '/b' }), line33({ ...early, 'cs-uri-stem': '/a' })]),
    );
    const u = await loadTrace(f);
    expect([...u.ids].map((i) => u.keys[i])).toEqual(['/a', '/b']);
  });

  it('refuses a missing or empty trace with a clear error', async () => {
    await expect(loadTrace(join(dir, 'nope'))).rejects.toThrow(/cannot read trace .*ENOENT/);
    await expect(loadTrace(await traceFile('empty', ''))).rejects.toThrow(/empty/);
    await expect(loadTrace(await traceFile('junk', 'a b\n'))).rejects.toThrow(/no valid/);
  });
});

describe('simulator', () => {
  it('orders LRU ≤ the scan-resistant store ≤ offline ≤ infinite on a looping scan with a hot set', async () => {
    const lines: string[] = [];
    let t = 0;
    for (let round = 0; round < 40; round++) {
      for (let h = 0; h < 5; h++) lines.push(`${t++} hot${h} 100`);
      for (let s = 0; s < 30; s++) lines.push(`${t++} scan${round * 30 + s} 100`);
    }
    const trace = await loadTrace(await traceFile('loop.txt', lines.join('\n')));
    const cache = 2000; // 20 objects: the hot set fits, each scan does not
    const lru = objectHitRatio(runStore(trace, cache, 'lru'));
    const s3 = objectHitRatio(runStore(trace, cache, 's3fifo'));
    const off = objectHitRatio(runOffline(trace, cache));
    const inf = objectHitRatio(runInfinite(trace));
    expect(lru).toBe(0);
    expect(s3).toBeGreaterThan(0.1);
    expect(off).toBeGreaterThanOrEqual(s3);
    expect(inf).toBeGreaterThanOrEqual(off);
    expect(inf).toBeCloseTo((40 * 5 - 5) / (40 * 35), 6);
  });

  it('turns a predictable follower into a hit once its prefetch has landed, and counts its bytes once', async () => {
    // "page" is always followed 5 units later by "asset"; 100 fillers in between evict both.
    const lines: string[] = [];
    let t = 0;
    for (let round = 0; round < 20; round++) {
      lines.push(`${t} page 100`, `${t + 5} asset 100`);
      for (let f = 0; f < 100; f++) lines.push(`${t + 10 + f} filler${round * 100 + f} 100`);
      t += 200;
    }
    const trace = await loadTrace(await traceFile('follow.txt', lines.join('\n')));
    const plain = runStore(trace, 1000, 's3fifo');
    const fast = runPrefetch(trace, 1000, 's3fifo', {
      ...DEFAULT_SIM_PREFETCH,
      window: 10,
      fetchDelay: 1,
      maxObjectShare: 1,
    });
    // The first landed prefetch is hit in S3-FIFO's small queue, which promotes "asset" to the
    // main queue; later rounds hit it there (the fillers pass through small and never touch it).
    expect(plain.hits).toBe(0);
    expect(fast.hits).toBeGreaterThanOrEqual(18);
    expect(fast.prefetchUsed).toBeGreaterThanOrEqual(1);
    // A fetch slower than the gap joins the viewer's request: no hit, but no second fetch.
    const slow = runPrefetch(trace, 1000, 'lru', {
      ...DEFAULT_SIM_PREFETCH,
      window: 10,
      fetchDelay: 50,
      maxObjectShare: 1,
      fanout: 1,
    });
    const lru = runStore(trace, 1000, 'lru');
    expect(slow.hits).toBe(lru.hits);
    // Every asset prefetch was joined by the viewer's request: used, and its bytes fetched once.
    expect(slow.prefetchUsed).toBe(19);
    expect(slow.originBytes).toBe(lru.originBytes + (slow.prefetches - slow.prefetchUsed) * 100);
  });

  it('parses cache sizes', () => {
    expect(parseCacheSizes('0.1%,1%, 64MiB,1000')).toEqual([
      { kind: 'percent', percent: 0.1 },
      { kind: 'percent', percent: 1 },
      { kind: 'bytes', bytes: 64 * 1024 * 1024 },
      { kind: 'bytes', bytes: 1000 },
    ]);
    for (const bad of ['0%', '101%', '-5', '12 parsecs', '', '0'])
      expect(() => parseCacheSizes(bad)).toThrow(RangeError);
  });
});

/** A CLI start takes seconds, more on a machine shared with other test runs. */
const SLOW = 100_000;

describe('edgewise prefetch simulate (CLI)', { timeout: 3 * SLOW }, () => {
  it('prints the table and the targets for the AdaptSize trace', async () => {
    const r = await runCli(['prefetch', 'simulate', '--trace', ADAPTSIZE, '--cache-size', '1%'], {
      timeoutMs: SLOW,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/66,987 requests, 36,815 objects/);
    for (const row of ['LRU', 's3fifo + prefetch', 'offline bound', 'infinite cache'])
      expect(r.stdout).toContain(row);
    expect(r.stdout).toMatch(/1%: s3fifo beats LRU/);
  });

  it('answers --json with ratios a machine can check', async () => {
    const r = await runCli(
      ['prefetch', 'simulate', '--trace', SAMPLE_LOG, '--cache-size', '10%', '--json', '--policy', 'lru'],
      { timeoutMs: SLOW },
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as {
      requests: number;
      policy: string;
      sizes: Array<{ runs: Record<string, { hits: number }> }>;
    };
    expect(j.requests).toBe(66);
    expect(j.policy).toBe('lru');
    expect(Object.keys(j.sizes[0]!.runs)).toEqual(['lru', 'store', 'prefetch', 'offline']);
  });

  it('exits 2 with a clear message on bad input', async () => {
    // Each case is a process start (seconds on a loaded machine): the parsers behind the other
    // flags are unit-tested above.
    const cases: Array<[string[], RegExp]> = [
      [['prefetch', 'simulate', '--trace', ADAPTSIZE, '--cache-size', 'lots'], /cache size "lots"/],
      [['prefetch', 'simulate', '--trace', join(dir, 'missing.trace')], /cannot read trace/],
    ];
    for (const [args, msg] of cases) {
      const r = await runCli(args, { timeoutMs: SLOW });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });

  it('has xz available for the AdaptSize trace on this machine', () => {
    expect(execFileSync('xz', ['--version']).toString()).toMatch(/xz/);
  });
});
