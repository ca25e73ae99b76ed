import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { intervals } from '../../src/prefetch/bounds.js';
import { gainLines, parseCacheSizes, simulateSizes } from '../../src/prefetch/sim-report.js';
import {
  DEFAULT_FETCH_LATENCY_SECONDS,
  type DeployedOptions,
  deployedOptions,
  objectHitRatio,
  runBounds,
  runDeployed,
  runInfinite,
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

const defaults = buildConfig({}, undefined).config;
/** A pass budget that takes every candidate the tests plan (the default is 10% of the cache). */
const roomy = buildConfig({ prefetch: { budget: { bytes: 100_000 } } }, undefined).config;
const instant: DeployedOptions = {
  ...deployedOptions(defaults),
  delivery: { kind: 'delay', seconds: 0 },
};

describe('simulator', () => {
  it('orders LRU ≤ the scan-resistant store ≤ PFOO-U ≤ infinite on a looping scan with a hot set', async () => {
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
    const { upper, lower } = runBounds(trace, intervals(trace), cache);
    const inf = objectHitRatio(runInfinite(trace));
    expect(lru).toBe(0);
    expect(s3).toBeGreaterThan(0.1);
    // Holding the hot set throughout is feasible (500 of 2000 bytes), so both bounds reach it.
    expect(objectHitRatio(lower)).toBeGreaterThanOrEqual(s3);
    expect(objectHitRatio(upper)).toBeGreaterThanOrEqual(objectHitRatio(lower));
    expect(inf).toBeGreaterThanOrEqual(objectHitRatio(upper));
    expect(inf).toBeCloseTo((40 * 5 - 5) / (40 * 35), 6);
  });

  it('takes the deployed defaults from the config the worker reads', () => {
    const custom = buildConfig(
      {
        edge: { logs: { rotateSeconds: 300, flushIntervalMs: 500 } },
        prefetch: { watchIntervalSeconds: 15, budget: { requestsPerSecond: 5, concurrency: 2 } },
      },
      undefined,
    ).config;
    expect(deployedOptions(custom)).toEqual({
      delivery: { kind: 'edge-files', rotateSeconds: 300, flushSeconds: 0.5 },
      passIntervalSeconds: 15,
      requestsPerSecond: 5,
      concurrency: 2,
      fetchLatencySeconds: DEFAULT_FETCH_LATENCY_SECONDS,
      secondsPerUnit: 1,
    });
    expect(deployedOptions(defaults)).toMatchObject({
      delivery: { kind: 'edge-files', rotateSeconds: defaults.edge.logs.rotateSeconds },
      passIntervalSeconds: defaults.prefetch.watchIntervalSeconds,
      requestsPerSecond: defaults.prefetch.budget.requestsPerSecond,
    });
  });

  it('a request that joins an in-flight prefetch is a miss; one after the prefetch landed is a used prefetch', async () => {
    // A 150-byte LRU cache holds one 100-byte object: f evicts a. The pass at 60 s (the first
    // is at 0 s, with nothing delivered) learns a and f, probes both, finds a absent and warms
    // it; the viewer asks for a at 60.5 s.
    const trace = await loadTrace(await traceFile('join.txt', '0 a 100\n1 f 100\n60.5 a 100\n'));
    const plain = runStore(trace, 150, 'lru');
    expect(plain.hits).toBe(0);
    const landed = runDeployed(trace, 150, 'lru', roomy, { ...instant, fetchLatencySeconds: 0.1 });
    expect(landed).toMatchObject({ passes: 2, prefetches: 1, prefetchUsed: 1, prefetchJoined: 0, hits: 1 });
    // a was fetched once by the prefetch, not again by the viewer.
    expect(landed.originBytes).toBe(300);
    const late = runDeployed(trace, 150, 'lru', roomy, { ...instant, fetchLatencySeconds: 10 });
    expect(late).toMatchObject({ prefetches: 1, prefetchUsed: 0, prefetchJoined: 1, hits: 0 });
    expect(late.originBytes).toBe(300);
    // The rate budget spaces starts: at 1 request/s a's probe starts at 61 s (f's took 60 s),
    // its GET at 62 s, after the viewer's request at 60.5 s; the prefetch then finds a cached.
    const slow = runDeployed(trace, 150, 'lru', roomy, { ...instant, requestsPerSecond: 1 });
    expect(slow).toMatchObject({ prefetches: 0, hits: 0 });
  });

  it('acts only on delivered records: nothing before a log file is published or a delay has passed', async () => {
    // "page" is always followed 5 s later by "asset"; 100 fillers in between evict both.
    const lines: string[] = [];
    let t = 0;
    for (let round = 0; round < 20; round++) {
      lines.push(`${t} page 100`, `${t + 5} asset 100`);
      for (let f = 0; f < 100; f++) lines.push(`${t + 10 + f} filler${round * 100 + f} 100`);
      t += 200;
    }
    const trace = await loadTrace(await traceFile('follow.txt', lines.join('\n')));
    const plain = runStore(trace, 1000, 's3fifo');
    expect(plain.hits).toBe(0);
    const fast = runDeployed(trace, 1000, 's3fifo', defaults, { ...instant, passIntervalSeconds: 1 });
    // With the default budget (10% of the cache: one object a pass) the most requested object
    // per byte is warmed once learned; its first request after landing is a used prefetch,
    // and S3-FIFO, which saw it hit, keeps it in its main queue past the fillers from then on.
    expect(fast.hits).toBeGreaterThanOrEqual(15);
    expect(fast.prefetchUsed).toBeGreaterThanOrEqual(1);
    expect(fast.prefetchUsed).toBeLessThanOrEqual(fast.prefetches);
    // Records delivered after the trace ends teach nothing in time: the run is the plain store.
    const never = runDeployed(trace, 1000, 's3fifo', defaults, {
      ...instant,
      passIntervalSeconds: 1,
      delivery: { kind: 'delay', seconds: 10_000 },
    });
    expect(never).toMatchObject({ hits: plain.hits, originBytes: plain.originBytes, prefetches: 0 });
    // The whole trace is 4000 s: with the local edge's hourly files, only the first hour's
    // file is published in time (at 3600 s + 1 s flush), so prefetch starts late and gains less.
    const hourly = runDeployed(trace, 1000, 's3fifo', defaults, {
      ...deployedOptions(defaults),
      passIntervalSeconds: 1,
    });
    expect(hourly.hits).toBeGreaterThan(0);
    expect(hourly.hits).toBeLessThan(fast.hits / 4);
    // 10-second files publish nearly at once: close to the instant run.
    const tenSeconds = runDeployed(trace, 1000, 's3fifo', defaults, {
      ...deployedOptions(defaults),
      delivery: { kind: 'edge-files', rotateSeconds: 10, flushSeconds: 1 },
      passIntervalSeconds: 1,
    });
    expect(tenSeconds.hits).toBeGreaterThan(hourly.hits * 4);
    // The time column scales: read as milliseconds, the whole trace is 4 s, under one pass.
    const squeezed = runDeployed(trace, 1000, 's3fifo', defaults, { ...instant, secondsPerUnit: 0.001 });
    expect(squeezed).toMatchObject({ hits: plain.hits, prefetches: 0 });
  });

  it('reports prefetch against the same store, and n/a where the gap to PFOO-U is ~0', async () => {
    const trace = await loadTrace(await traceFile('follow2.txt', '0 a 100\n1 b 100\n2 a 100\n3 b 100\n'));
    const report = simulateSizes(trace, [{ kind: 'percent', percent: 100 }], 's3fifo', defaults, instant);
    const g = report.sizes[0]!.gains;
    // Everything fits: the store already reaches the bound, so no share of a zero gap exists.
    expect(objectHitRatio(report.sizes[0]!.runs.store)).toBe(0.5);
    expect(objectHitRatio(report.sizes[0]!.runs.pfooU)).toBe(0.5);
    expect(g.gapClosedObject).toBeNull();
    expect(g.gapClosedByte).toBeNull();
    expect(gainLines(report).join('\n')).toMatch(/closes n\/a \(object hit\) and n\/a \(byte hit\)/);
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
  it('prints the table, the gains and what they assume for the AdaptSize trace', async () => {
    const r = await runCli(['prefetch', 'simulate', '--trace', ADAPTSIZE, '--cache-size', '1%'], {
      timeoutMs: SLOW,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/66,987 requests, 36,815 objects/);
    for (const row of [
      'LRU',
      'adaptive + prefetch',
      'PFOO-L (feasible offline)',
      'PFOO-U (upper bound)',
      'infinite cache',
    ])
      expect(r.stdout).toContain(row);
    expect(r.stdout).not.toMatch(/offline bound/);
    // PFOO-U at 1% of the AdaptSize trace (Berger et al.'s bound; 42.31% in issue 18's run).
    expect(r.stdout).toMatch(/PFOO-U \(upper bound\) +42\.3\d%/);
    expect(r.stdout).toMatch(/1%: adaptive over LRU \(no prefetch\): \+2\.35 points object hit/);
    expect(r.stdout).toMatch(/1%: prefetch over adaptive alone: [+−]\d+\.\d\d points object hit/);
    expect(r.stdout).toMatch(/the worker as deployed; seconds of trace time/);
    expect(r.stdout).toMatch(/a pass every 60 s after the previous one ends/);
  });

  it('answers --json with ratios a machine can check, and takes the deployment flags', async () => {
    const r = await runCli(
      [
        'prefetch',
        'simulate',
        '--trace',
        SAMPLE_LOG,
        '--cache-size',
        '10%',
        '--json',
        '--policy',
        'lru',
        '--log-delay',
        '300',
        '--pass-interval',
        '30',
        '--rps',
        '5',
        '--concurrency',
        '2',
        '--fetch-latency',
        '0.5',
      ],
      { timeoutMs: SLOW },
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as {
      requests: number;
      policy: string;
      deployed: unknown;
      sizes: Array<{ runs: Record<string, { hits: number }>; gains: Record<string, number | null> }>;
    };
    expect(j.requests).toBe(66);
    expect(j.policy).toBe('lru');
    expect(j.deployed).toEqual({
      delivery: { kind: 'delay', seconds: 300 },
      passIntervalSeconds: 30,
      requestsPerSecond: 5,
      concurrency: 2,
      fetchLatencySeconds: 0.5,
      secondsPerUnit: 1,
    });
    expect(Object.keys(j.sizes[0]!.runs)).toEqual(['lru', 'store', 'prefetch', 'pfooL', 'pfooU']);
    expect(Object.keys(j.sizes[0]!.gains)).toContain('gapClosedObject');
  });

  it('exits 2 with a clear message on bad input', async () => {
    // Each case is a process start (seconds on a loaded machine): the parsers behind the other
    // flags are unit-tested above.
    const cases: Array<[string[], RegExp]> = [
      [['prefetch', 'simulate', '--trace', ADAPTSIZE, '--cache-size', 'lots'], /cache size "lots"/],
      [['prefetch', 'simulate', '--trace', join(dir, 'missing.trace')], /cannot read trace/],
      [
        ['prefetch', 'simulate', '--trace', ADAPTSIZE, '--pass-interval', '0'],
        /--pass-interval must be a number > 0/,
      ],
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
