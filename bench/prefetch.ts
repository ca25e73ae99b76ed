/**
 * `npm run bench prefetch`: the prefetch worker as deployed, against the real bounds (issue 18).
 *
 *   1. The AdaptSize CDN trace (test/fixtures/data, 66,987 requests; its time column read as
 *      one second a unit) at 0.1%, 1% and 10% of its unique bytes, with the deployed defaults
 *      from the config: LRU, the edge's store (edge.cache.policy: adaptive), the store with the worker prefetching,
 *      PFOO-L, PFOO-U and the infinite cache, then prefetch's gain over the same store.
 *   2. At 1%: how the gain depends on log delivery (the local edge's hourly files, CloudFront
 *      standard logs an hour / 5 min late, real-time logs) and on the trace's request rate.
 *   3. Generated traces (src/prefetch/tracegen.ts: Zipf popularity, log-normal sizes), two with
 *      page → asset sessions (browser timing: assets after a parse delay, plus the page's origin
 *      fetch when it missed; sessions interleaved) — seed 42, on which the follower's settings
 *      were chosen, and seed 7, held out — and one with the same catalogue requested in no order,
 *      BENCH_PREFETCH_GEN_REQUESTS (1 M) requests at 200 requests/s, at 1%, simulated in memory
 *      with their clients.
 *   Parts 1 and 3 also run the local edge following on the request (src/prefetch/follow.ts,
 *   prefetch.follow.* defaults, enabled for the run), alone and with the worker.
 *   4. The issue's goals on those three traces, for the worker alone and worker + follow,
 *      each printed as met or NOT met.
 *   5. A generated 10-million-request trace (≈1.5 M objects) through `edgewise prefetch
 *      simulate` in a child process at 1%: wall time and peak RSS against the 2 GiB target.
 *      BENCH_PREFETCH_REQUESTS changes its size (0 skips it).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConfig } from '../src/config/load.js';
import {
  assumptions,
  formatTable,
  gainLines,
  type RunGains,
  reportRows,
  type SimulationReport,
  simulateSizes,
} from '../src/prefetch/sim-report.js';
import { type DeployedOptions, deployedOptions, objectHitRatio } from '../src/prefetch/simulate.js';
import { loadTrace, type Trace } from '../src/prefetch/trace.js';
import { generateTrace, TRACEGEN_DEFAULTS, writeTimeIdSize } from '../src/prefetch/tracegen.js';
import { fmt, printTable } from './lib.js';

const ADAPTSIZE = fileURLToPath(
  new URL('../../test/fixtures/data/adaptsize-request.trace.xz', import.meta.url),
);
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const LARGE_REQUESTS = Number(process.env.BENCH_PREFETCH_REQUESTS ?? 10_000_000);
const GEN_REQUESTS = Number(process.env.BENCH_PREFETCH_GEN_REQUESTS ?? 1_000_000);
const MEMORY_LIMIT = 2 * 1024 ** 3;
/** The defaults every deployment starts from: the schema's, as `edgewise prefetch watch` reads them. */
const CONFIG = buildConfig({}, undefined).config;
const DEPLOYED = deployedOptions(CONFIG);
/** The edge's store policy as deployed (edge.cache.policy). */
const POLICY = CONFIG.edge.cache.policy;
/**
 * Generated traces: the follower's settings were chosen on seed 42 (the generator's default);
 * seed 7 is held out, run only to check them.
 */
const TUNED_SEED = TRACEGEN_DEFAULTS.seed;
const HELD_OUT_SEED = 7;

const pct = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : `${(x * 100).toFixed(2)}%`);

function printReport(title: string, r: SimulationReport, ms: number): void {
  process.stdout.write(
    `\n${title}: ${fmt(r.requests)} requests, ${fmt(r.objects)} objects; simulated in ${fmt(ms / 1000)} s\n`,
  );
  process.stdout.write(`${formatTable(reportRows(r))}\n\n${gainLines(r).join('\n')}\n`);
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const v = f();
  return [v, performance.now() - t0];
}

interface Goal {
  trace: string;
  structured: boolean;
  report: SimulationReport;
}

async function adaptsize(goals: Goal[]): Promise<void> {
  const trace = await loadTrace(ADAPTSIZE);
  const sizes = [0.1, 1, 10].map((percent) => ({ kind: 'percent' as const, percent }));
  const [report, ms] = timed(() =>
    simulateSizes(trace, sizes, POLICY, CONFIG, DEPLOYED, undefined, { follow: true }),
  );
  printReport('AdaptSize trace, deployed defaults', report, ms);
  process.stdout.write(`\n${assumptions(report).join('\n')}\n`);
  goals.push({ trace: 'AdaptSize (1%)', structured: true, report: { ...report, sizes: [report.sizes[1]!] } });

  const one = [{ kind: 'percent' as const, percent: 1 }];
  const rows: Array<Array<string | number>> = [
    [
      'log delivery (AdaptSize at 1%)',
      'trace rate',
      POLICY,
      '+ prefetch',
      'gap closed',
      `origin vs ${POLICY}`,
    ],
  ];
  const variants: Array<[string, DeployedOptions]> = [
    ['local edge, hourly files (default)', DEPLOYED],
    ['CloudFront standard logs, 1 h late', { ...DEPLOYED, delivery: { kind: 'delay', seconds: 3600 } }],
    ['CloudFront standard logs, 5 min late', { ...DEPLOYED, delivery: { kind: 'delay', seconds: 300 } }],
    ['real-time logs, 5 s late', { ...DEPLOYED, delivery: { kind: 'delay', seconds: 5 } }],
    [
      'real-time logs, 5 s late',
      { ...DEPLOYED, delivery: { kind: 'delay', seconds: 5 }, secondsPerUnit: 0.1 },
    ],
  ];
  for (const [name, d] of variants) {
    const r = simulateSizes(trace, one, POLICY, CONFIG, d).sizes[0]!;
    rows.push([
      name,
      `${fmt(1 / d.secondsPerUnit, 0)} req/s`,
      pct(objectHitRatio(r.runs.store)),
      pct(objectHitRatio(r.runs.prefetch)),
      pct(r.gains.gapClosedObject),
      `${r.gains.originVsStore.toFixed(3)}×`,
    ]);
  }
  printTable('Prefetch gain by log delivery (object hit; gap closed toward PFOO-U)', rows);
}

/** A `time id size` trace from the shared generator (src/prefetch/tracegen.ts), 200 requests/s. */
async function generate(file: string, requests: number, pages: number, correlated: boolean): Promise<void> {
  await writeTimeIdSize(
    { ...TRACEGEN_DEFAULTS, requests, objects: pages * 4, correlated },
    createWriteStream(file),
  );
}

function generated(goals: Goal[]): void {
  if (GEN_REQUESTS <= 0) return;
  const cases: Array<[boolean, number]> = [
    [true, TUNED_SEED],
    [true, HELD_OUT_SEED],
    [false, TUNED_SEED],
  ];
  for (const [correlated, seed] of cases) {
    // In memory with its clients and page waits: a `time id size` file would make the whole
    // trace one session, with times as logged.
    const trace: Trace = generateTrace({
      ...TRACEGEN_DEFAULTS,
      seed,
      requests: GEN_REQUESTS,
      objects: Math.round(GEN_REQUESTS / 10) * 4,
      correlated,
    });
    const [report, ms] = timed(() =>
      simulateSizes(trace, [{ kind: 'percent', percent: 1 }], POLICY, CONFIG, DEPLOYED, undefined, {
        follow: true,
      }),
    );
    const role = seed === TUNED_SEED ? 'tuned on' : 'held out';
    const name = `${correlated ? 'page → assets' : 'no order'}, seed ${seed}${correlated ? ` (${role})` : ''}`;
    printReport(
      `Generated trace, ${name}, ${fmt(trace.clientCount ?? 0)} clients, 200 requests/s${correlated ? `, assets ${TRACEGEN_DEFAULTS.thinkMs} ms (median) after their page came (plus its origin fetch when it missed)` : ''}, deployed defaults`,
      report,
      ms,
    );
    goals.push({ trace: `generated, ${name} (1%)`, structured: correlated, report });
  }
}

function printGoals(goals: Goal[]): void {
  const rows: Array<Array<string | number>> = [
    ['goal (deployed defaults)', 'trace', 'prefetch', 'value', 'target', 'met'],
  ];
  for (const g of goals) {
    const s = g.report.sizes[0]!;
    const on = CONFIG.prefetch.follow.enabled;
    const runs: Array<[string, RunGains]> = [
      [
        on ? 'worker alone (follow off)' : 'worker (deployed)',
        {
          object: s.gains.prefetchObject,
          byte: s.gains.prefetchByte,
          originVsStore: s.gains.originVsStore,
          gapClosedObject: s.gains.gapClosedObject,
          gapClosedByte: s.gains.gapClosedByte,
        },
      ],
    ];
    if (s.followGains)
      runs.push([
        on ? 'worker + follow (deployed)' : 'worker + follow (follow on)',
        s.followGains.workerFollow,
      ]);
    for (const [who, x] of runs) {
      const closed = x.gapClosedObject;
      if (g.structured)
        rows.push([
          'closes the gap store → PFOO-U (object hit)',
          g.trace,
          who,
          pct(closed),
          '≥ 60%',
          closed !== null && closed >= 0.6 ? 'met' : 'NOT met',
        ]);
      const o = x.originVsStore;
      rows.push([
        'origin bytes ÷ the same store without prefetch',
        g.trace,
        who,
        `${o.toFixed(3)}×`,
        '≤ 1.10×',
        o <= 1.1 ? 'met' : 'NOT met',
      ]);
      if (!g.structured)
        rows.push([
          'origin bytes where traffic has no structure',
          g.trace,
          who,
          `${o.toFixed(3)}×`,
          '≤ 1.02×',
          o <= 1.02 ? 'met' : 'NOT met',
        ]);
    }
  }
  printTable(
    `Issue 18's goals (${POLICY} store; prefetch.follow.* defaults, deployed enabled=${CONFIG.prefetch.follow.enabled}; the gap is closed toward PFOO-U)`,
    rows,
  );
}

async function large(dir: string): Promise<void> {
  if (LARGE_REQUESTS <= 0) return;
  const file = join(dir, 'large.trace');
  const g0 = performance.now();
  // 10 M requests over 450 k pages and their assets: ≈1.5 M distinct objects.
  await generate(file, LARGE_REQUESTS, Math.round((LARGE_REQUESTS / 10_000_000) * 450_000), true);
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
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`simulate exited ${code}`))));
  });
  const wallMs = performance.now() - s0;
  const r = JSON.parse(out) as SimulationReport & { peakRssBytes: number; loadMs: number };
  const s = r.sizes[0]!;
  const ohr = (k: 'lru' | 'store' | 'prefetch' | 'pfooL' | 'pfooU') =>
    pct(s.runs[k].hits / s.runs[k].requests);
  printTable(
    `Large generated trace (${fmt(r.requests)} requests, ${fmt(r.objects)} objects; generated in ${fmt(genMs / 1000)} s)`,
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
        `object hit at 1%: LRU / ${POLICY} / +prefetch / PFOO-L / PFOO-U`,
        `${ohr('lru')} / ${ohr('store')} / ${ohr('prefetch')} / ${ohr('pfooL')} / ${ohr('pfooU')}`,
        '—',
        '—',
      ],
    ],
  );
}

export async function run(): Promise<void> {
  const goals: Goal[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-bench-prefetch-'));
  try {
    await adaptsize(goals);
    generated(goals);
    printGoals(goals);
    await large(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
