/**
 * `npm run bench prefetch`: the simulator's targets (issue 8), in one run.
 *
 *   1. The AdaptSize CDN trace (test/fixtures/data, 66,987 requests) at 0.1%, 1% and 10% of its
 *      unique bytes: LRU (the baseline), the edge's store (S3-FIFO), the store with prefetching,
 *      the offline bound (size-aware sampled Belady) and the infinite-cache ceiling. Wall time
 *      is the median of 3 full runs.
 *   2. Prefetch at 1% with slower fetches (1, 2 and 5 time units): how much of the gain
 *      depends on prefetches landing before the next request.
 *   3. A generated 10-million-request trace (Zipf popularity, log-normal sizes, page → asset
 *      sessions) through `edgewise prefetch simulate` in a child process at 1%: wall time and
 *      peak RSS against the 2 GiB target. BENCH_PREFETCH_REQUESTS changes the size.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, reportRows, simulateSizes, targetChecks } from '../src/prefetch/sim-report.js';
import {
  DEFAULT_SIM_PREFETCH,
  objectHitRatio,
  originRatio,
  runPrefetch,
  runStore,
} from '../src/prefetch/simulate.js';
import { loadTrace } from '../src/prefetch/trace.js';
import { fmt, median, printTable } from './lib.js';

const ADAPTSIZE = fileURLToPath(
  new URL('../../test/fixtures/data/adaptsize-request.trace.xz', import.meta.url),
);
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const GENERATED_REQUESTS = Number(process.env.BENCH_PREFETCH_REQUESTS ?? 10_000_000);
const MEMORY_LIMIT = 2 * 1024 ** 3;

async function adaptsize(): Promise<void> {
  const t0 = performance.now();
  const trace = await loadTrace(ADAPTSIZE);
  const loadMs = performance.now() - t0;
  const sizes = [0.1, 1, 10].map((percent) => ({ kind: 'percent' as const, percent }));
  const times: number[] = [];
  let report = simulateSizes(trace, sizes, 's3fifo', DEFAULT_SIM_PREFETCH);
  for (let i = 0; i < 3; i++) {
    const s = performance.now();
    report = simulateSizes(trace, sizes, 's3fifo', DEFAULT_SIM_PREFETCH);
    times.push(performance.now() - s);
  }
  process.stdout.write(
    `\nAdaptSize trace: ${trace.n} requests, ${trace.keys.length} objects, ${report.uniqueBytes} unique bytes\n`,
  );
  process.stdout.write(`${formatTable(reportRows(report))}\n\n${targetChecks(report).join('\n')}\n`);
  process.stdout.write(
    `load (xz -dc + parse) ${fmt(loadMs)} ms; simulate all sizes median ${fmt(median(times))} ms of 3\n`,
  );

  const policies: Array<Array<string | number>> = [['cache', 'LRU', 'SIEVE', 'S3-FIFO', 'S3-FIFO vs LRU']];
  for (const size of report.sizes) {
    const ohr = (p: 'lru' | 'sieve' | 's3fifo') => objectHitRatio(runStore(trace, size.cacheBytes, p));
    const [l, sv, s3] = [ohr('lru'), ohr('sieve'), ohr('s3fifo')];
    policies.push([
      size.label,
      `${(l * 100).toFixed(2)}%`,
      `${(sv * 100).toFixed(2)}%`,
      `${(s3 * 100).toFixed(2)}%`,
      `${(s3 / l).toFixed(3)}×`,
    ]);
  }
  printTable('Store policies, object hit ratio (why the edge defaults to S3-FIFO)', policies);

  const cache = report.sizes[1]!.cacheBytes;
  const lru = runStore(trace, cache, 'lru');
  const rows: Array<Array<string | number>> = [
    ['fetch delay (requests)', 'object hit', 'vs LRU', 'origin vs LRU', 'prefetched used'],
  ];
  for (const delay of [1, 2, 5]) {
    const r = runPrefetch(trace, cache, 's3fifo', { ...DEFAULT_SIM_PREFETCH, fetchDelay: delay });
    rows.push([
      String(delay),
      `${(objectHitRatio(r) * 100).toFixed(2)}%`,
      `${(objectHitRatio(r) / objectHitRatio(lru)).toFixed(3)}×`,
      `${(originRatio(r) / originRatio(lru)).toFixed(3)}×`,
      `${((r.prefetchUsed / Math.max(1, r.prefetches)) * 100).toFixed(1)}%`,
    ]);
  }
  printTable(
    `Prefetch at 1% by fetch delay (LRU object hit ${(objectHitRatio(lru) * 100).toFixed(2)}%)`,
    rows,
  );
}

/** Writes a `time id size` trace with page → asset sessions over a Zipf-popular catalogue. */
async function generate(file: string, requests: number): Promise<void> {
  const pages = 200_000;
  const alpha = 0.8;
  const cdf = new Float64Array(pages);
  let sum = 0;
  for (let i = 0; i < pages; i++) {
    sum += 1 / (i + 1) ** alpha;
    cdf[i] = sum;
  }
  let seed = 42;
  const rand = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const pick = () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = pages - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // Sizes: log-normal around 2.4 KB for assets, fixed per object.
  const sizeOf = (id: number) => {
    let h = Math.imul(id ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    const u1 = ((h & 0xffff) + 1) / 65537;
    const u2 = ((h >>> 16) + 1) / 65537;
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.max(64, Math.round(2400 * Math.exp(1.2 * z)));
  };
  const out = createWriteStream(file);
  let buf = '';
  let t = 0;
  let n = 0;
  while (n < requests) {
    const page = pick();
    // Each page pulls 2–4 of its own assets; ids above `pages` are assets.
    const assets = 2 + (page % 3);
    const ids = [page];
    for (let a = 0; a < assets; a++) ids.push(pages + page * 4 + a);
    for (const id of ids) {
      if (n >= requests) break;
      buf += `${t++} ${id} ${sizeOf(id)}\n`;
      n++;
    }
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  out.write(buf);
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

async function generated(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-bench-prefetch-'));
  try {
    const file = join(dir, 'generated.trace');
    const g0 = performance.now();
    await generate(file, GENERATED_REQUESTS);
    const genMs = performance.now() - g0;
    const s0 = performance.now();
    const out = await new Promise<string>((resolve, reject) => {
      // The V8 heap is capped at 1.5 GiB so garbage cannot pile up to an RSS the process does
      // not need; finishing under the cap is part of the proof.
      const child = spawn(
        process.execPath,
        [
          '--max-old-space-size=1536',
          CLI,
          'prefetch',
          'simulate',
          '--trace',
          file,
          '--cache-size',
          '1%',
          '--json',
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
      });
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve(text) : reject(new Error(`simulate exited ${code}`)),
      );
    });
    const wallMs = performance.now() - s0;
    const r = JSON.parse(out) as {
      requests: number;
      objects: number;
      peakRssBytes: number;
      loadMs: number;
      totalMs: number;
      sizes: Array<{
        runs: Record<'lru' | 'store' | 'prefetch' | 'offline', { hits: number; requests: number }>;
        gapClosed: number;
      }>;
    };
    const s = r.sizes[0]!;
    const ohr = (k: 'lru' | 'store' | 'prefetch' | 'offline') =>
      `${((s.runs[k].hits / s.runs[k].requests) * 100).toFixed(2)}%`;
    printTable(
      `Generated trace (${fmt(r.requests)} requests, ${fmt(r.objects)} objects; generated in ${fmt(genMs / 1000)} s)`,
      [
        ['measure', 'value', 'target', 'ratio'],
        [
          'peak RSS',
          `${(r.peakRssBytes / 1048576).toFixed(0)} MiB`,
          '2048 MiB',
          `${(r.peakRssBytes / MEMORY_LIMIT).toFixed(3)}×`,
        ],
        ['wall time (process)', `${(wallMs / 1000).toFixed(1)} s`, '—', '—'],
        ['of which loading', `${(r.loadMs / 1000).toFixed(1)} s`, '—', '—'],
        [
          'object hit at 1%: LRU / s3fifo / +prefetch / offline',
          `${ohr('lru')} / ${ohr('store')} / ${ohr('prefetch')} / ${ohr('offline')}`,
          '—',
          '—',
        ],
      ],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  await adaptsize();
  await generated();
}
