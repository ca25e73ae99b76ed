/**
 * `npm run bench soak`: the edge as deployed under load that lasts (issue #20 item 6).
 *
 *   1. An origin (bench/soak-origin.ts) and `edgewise edge` in their own processes, the edge
 *      with its defaults: viewer functions and access logs on, edge.workers = one per core
 *      (BENCH_SOAK_WORKERS), the default memory tier (edge.cache.memoryBytes, BENCH_SOAK_MEMORY_MIB).
 *   2. The key mix (bench/soak-mix.ts): Zipf-popular keys over a catalogue of 1 KiB–1 MiB objects
 *      adding up to twice the memory tier, plus 4 % of keys in the disk tier; 2 % misses of new
 *      keys, 10 % If-None-Match (304), 5 % Range (206), 2 % absent paths (404).
 *   3. Every catalogue object once (priming: the memory tier fills and evicts before anything is
 *      measured), then capacity: a closed loop of 64 connections on the mix for
 *      BENCH_SOAK_CAPACITY_SECONDS (15).
 *   4. The soak: an open loop at BENCH_SOAK_LOAD (0.5) × that capacity (or a fixed
 *      BENCH_SOAK_RATE req/s) for BENCH_SOAK_SECONDS (1800), sampled every
 *      BENCH_SOAK_SAMPLE_SECONDS (seconds / 60, at least 5): the RSS of every edge process (primary
 *      and workers, VmRSS from /proc), what the edge reports in its metrics (cache bytes; V8 heap
 *      used and reserved, external and ArrayBuffer bytes, summed over its processes — where RSS
 *      grows; its event loop's busy time; its own p99 from arrival to last byte), requests,
 *      errors, latency p50/p95/p99 as the client saw them, the edge's CPU, and the load
 *      generator's own event-loop lag.
 *
 * Goals, judged on the second half of the soak (the first half is warm-up): RSS flat — the
 * least-squares slope of the summed RSS, extrapolated to an hour, within ±5 % of its mean, and
 * max ÷ min of those samples at most 1.10; the same figures per process are printed — and zero
 * errors: socket errors, timeouts, statuses or body lengths other than a correct edge answers
 * (a 404 for an absent key is correct), an edge process that exited, a metrics scrape that
 * failed. Due requests the generator did not send (maxInFlight outstanding) are no answer of the
 * edge's: they are counted apart, with a goal of their own (the offered load was delivered), and
 * the per-interval generator lag beside the edge's own p99 and busy time says which side was
 * behind.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { buildConfig } from '../src/config/load.js';
import { startBare } from './anchors.js';
import { startEdgeProcess } from './edge.js';
import { fmt, mib, percentile, printTable } from './lib.js';
import { closedLoop, openLoop, Tally } from './soak-load.js';
import { KINDS, SoakMix } from './soak-mix.js';
import { loadAverage, processTree, treeCpuUs } from './tools.js';

const MiB = 1024 * 1024;
/** The config's defaults, built once: the edge's, and prefetch.follow.enabled below. */
const BUILT = buildConfig({}, undefined).config;
const DEFAULTS = BUILT.edge;
const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 1800);
const SAMPLE_S = Number(process.env.BENCH_SOAK_SAMPLE_SECONDS ?? Math.max(5, Math.round(SECONDS / 60)));
const LOAD = Number(process.env.BENCH_SOAK_LOAD ?? 0.5);
/** A fixed rate (req/s) instead of LOAD × capacity: runs made at different machine loads compare. */
const RATE = process.env.BENCH_SOAK_RATE ? Number(process.env.BENCH_SOAK_RATE) : undefined;
const CAPACITY_S = Number(process.env.BENCH_SOAK_CAPACITY_SECONDS ?? 15);
const WORKERS = Number(process.env.BENCH_SOAK_WORKERS ?? DEFAULTS.workers);
const MEMORY = process.env.BENCH_SOAK_MEMORY_MIB
  ? Number(process.env.BENCH_SOAK_MEMORY_MIB) * MiB
  : DEFAULTS.cache.memoryBytes;
/** prefetch.follow.enabled for the edge: 'on', 'off', or unset for the config's default. */
const FOLLOW = process.env.BENCH_SOAK_FOLLOW;
if (FOLLOW !== undefined && FOLLOW !== 'on' && FOLLOW !== 'off')
  throw new Error(`BENCH_SOAK_FOLLOW must be on or off, got ${FOLLOW}`);
const FOLLOW_ON = FOLLOW === undefined ? BUILT.prefetch.follow.enabled : FOLLOW === 'on';
const CONNECTIONS = 64;
const MAX_IN_FLIGHT = 512;
const SLOPE_GOAL = 0.05;
const SPREAD_GOAL = 1.1;
const SHARES = { conditional: 0.1, range: 0.05, new: 0.02, absent: 0.02 };

interface Sample {
  t: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  notSent: number;
  /** The load generator's event-loop delay in the interval, p99 and max, ms. */
  genLagP99: number;
  genLagMax: number;
  /** The edge's own p99 (viewer requests, arrival to last byte) in the interval, ms: a bucket bound. */
  edgeP99: number;
  /** Cores the edge's event loops kept busy in the interval (sum over its processes). */
  edgeBusy: number;
  cpuPct: number;
  /** Summed over the edge's processes, from its metrics. */
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Keys the follow-on model remembers, summed over the edge's workers. */
  modelKeys: number;
  rss: Map<number, number>;
  memory: number;
  disk: number;
  evictions: number;
  load: string;
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The series of the edge's metrics text we read, summed over their label sets. */
function series(text: string, name: string, label?: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (label !== undefined && !line.includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Cumulative bucket counts of a histogram's viewer series, summed over label sets, by `le`. */
function buckets(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix) || !line.includes('traffic="viewer"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** The upper bound (ms) of the bucket holding quantile q of the counts added between two scrapes. */
function bucketQuantile(now: Map<number, number>, before: Map<number, number>, q: number): number {
  const bounds = [...now.keys()].sort((a, b) => a - b);
  const total = (now.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return Number.NaN;
  for (const b of bounds) if ((now.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) return b * 1000;
  return Number.POSITIVE_INFINITY;
}

/** Least-squares slope (per second) of ys over ts. */
function slope(ts: number[], ys: number[]): number {
  const n = ts.length;
  const mt = ts.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (ts[i]! - mt) * (ys[i]! - my);
    den += (ts[i]! - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function flatness(ts: number[], ys: number[]): { perHour: number; spread: number; mean: number } {
  const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
  return {
    mean,
    perHour: (slope(ts, ys) * 3600) / mean,
    spread: Math.max(...ys) / Math.max(1, Math.min(...ys)),
  };
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-bench-soak-'));
  const origin = await startBare('soak origin', 'soak-origin.js');
  const agent = new Agent({ connections: 128, keepAliveTimeout: 60_000 });
  const stops: Array<() => Promise<void>> = [origin.stop];
  try {
    const edge = await startEdgeProcess(
      dir,
      'edge',
      origin.url,
      WORKERS,
      undefined,
      { functions: true, logs: true },
      undefined,
      [],
      {
        edge: { metricsAccess: { allowIps: ['127.0.0.1'] } },
        cache: { memoryBytes: MEMORY },
        prefetch: { follow: { enabled: FOLLOW_ON } },
      },
    );
    stops.unshift(edge.stop);
    const metricsUrl = `${edge.url}${DEFAULTS.metricsPath}`;
    const mix = new SoakMix({
      memoryBytes: MEMORY,
      diskThresholdBytes: DEFAULTS.cache.diskThresholdBytes,
      oversubscribe: 2,
      diskShare: 0.04,
      zipf: Number(process.env.BENCH_SOAK_ZIPF ?? 0.9),
      shares: SHARES,
      seed: 20,
    });
    const c = mix.catalogue;
    const processes = processTree(edge.pid);
    process.stdout.write(
      `cores ${cpus().length}; edge processes ${processes.length} (workers ${WORKERS === 0 ? 'default: one per core' : WORKERS}); functions and access logs on; prefetch.follow ${FOLLOW_ON ? 'on' : 'off'}; memoryBytes ${mib(MEMORY)}\n` +
        `catalogue ${c.sizes.length} keys: ${mib(c.memoryTierBytes)} below the disk threshold (${fmt(c.memoryTierBytes / MEMORY)}× memoryBytes), ${c.diskTierKeys} keys / ${mib(c.diskTierBytes)} in the disk tier; Zipf ${process.env.BENCH_SOAK_ZIPF ?? 0.9}\n` +
        `mix: ${Object.entries(SHARES)
          .map(([k, s]) => `${k} ${s * 100} %`)
          .join(', ')}, plain GET the rest; load average ${loadAverage()}\n`,
    );

    const prime = mix.primeList();
    const primeTally = new Tally();
    const primed = await closedLoop(agent, edge.url, () => prime.pop(), 16, 600, primeTally);
    const capTally = new Tally();
    const cap = await closedLoop(agent, edge.url, () => mix.next(), CONNECTIONS, CAPACITY_S, capTally);
    const capacity = cap.requests / cap.seconds;
    const rate = RATE ?? capacity * LOAD;
    const capLat = [...capTally.byKind.values()].flatMap((k) => k.latencies);
    process.stdout.write(
      `primed ${primed.requests} objects in ${fmt(primed.seconds, 1)} s (${primeTally.errors} errors); ` +
        `capacity ${fmt(capacity, 0)} req/s (closed loop, ${CONNECTIONS} connections, ${fmt(cap.seconds, 1)} s, p50 ${fmt(percentile(capLat, 50))} ms, ${capTally.errors} errors); ` +
        `soak at ${RATE ? 'BENCH_SOAK_RATE' : `${LOAD} ×`} = ${fmt(rate, 0)} req/s for ${SECONDS} s, samples every ${SAMPLE_S} s; load average ${loadAverage()}\n`,
    );

    const tally = new Tally();
    const samples: Sample[] = [];
    const seen = new Set(processes);
    const t0 = performance.now();
    let cpu0 = treeCpuUs(edge.pid);
    const genLag = monitorEventLoopDelay({ resolution: 10 });
    genLag.enable();
    let hist0 = new Map<number, number>();
    let busy0: number | undefined;
    const sample = async () => {
      try {
        const now = performance.now();
        const t = (now - t0) / 1000;
        const interval = tally.takeInterval();
        const cpu = treeCpuUs(edge.pid);
        const rss = new Map<number, number>();
        const pids = processTree(edge.pid);
        for (const pid of pids) rss.set(pid, rssBytes(pid));
        for (const pid of seen)
          if (!pids.includes(pid)) {
            tally.problem(`edge: process ${pid} exited`);
            seen.delete(pid);
          }
        for (const pid of pids) if (!seen.has(pid)) seen.add(pid);
        const r = await request(metricsUrl, { dispatcher: agent, headersTimeout: 10_000 });
        const text = await r.body.text();
        const last = samples.at(-1);
        const dt = t - (last?.t ?? 0);
        const hist = buckets(text, 'edgewise_edge_request_duration_seconds');
        const busy = series(text, 'edgewise_edge_event_loop_busy_seconds_total');
        samples.push({
          t,
          rps: interval.requests / dt,
          p50: percentile(interval.latencies, 50),
          p95: percentile(interval.latencies, 95),
          p99: percentile(interval.latencies, 99),
          errors: interval.errors,
          notSent: interval.notSent,
          genLagP99: genLag.percentile(99) / 1e6,
          genLagMax: genLag.max / 1e6,
          edgeP99: bucketQuantile(hist, hist0, 0.99),
          edgeBusy: busy0 === undefined ? Number.NaN : (busy - busy0) / dt,
          cpuPct: ((cpu - cpu0) / (dt * 1e6)) * 100,
          heapUsed: series(text, 'nodejs_heap_size_used_bytes'),
          heapTotal: series(text, 'nodejs_heap_size_total_bytes'),
          external: series(text, 'nodejs_external_memory_bytes'),
          arrayBuffers: series(text, 'edgewise_edge_array_buffers_bytes'),
          modelKeys: series(text, 'edgewise_edge_follow_model_keys'),
          rss,
          memory: series(text, 'edgewise_edge_cache_bytes', 'tier="memory"'),
          disk: series(text, 'edgewise_edge_cache_bytes', 'tier="disk"'),
          evictions: series(text, 'edgewise_edge_evictions_total'),
          load: loadAverage().split(' ')[0]!,
        });
        cpu0 = cpu;
        hist0 = hist;
        busy0 = busy;
        genLag.reset();
      } catch (err) {
        tally.problem(`sampler: ${(err as Error).message}`);
      }
    };
    // The edge's counters as the soak starts: the first interval holds no priming or capacity.
    const base = await (await request(metricsUrl, { dispatcher: agent, headersTimeout: 10_000 })).body.text();
    hist0 = buckets(base, 'edgewise_edge_request_duration_seconds');
    busy0 = series(base, 'edgewise_edge_event_loop_busy_seconds_total');
    genLag.reset();
    // One sample at a time, in order, and the last one taken after the load ended.
    let sampling = Promise.resolve();
    const timer = setInterval(() => {
      sampling = sampling.then(sample);
    }, SAMPLE_S * 1000);
    const cpuClient0 = process.cpuUsage();
    const loop = await openLoop(agent, edge.url, mix, rate, SECONDS, MAX_IN_FLIGHT, tally);
    clearInterval(timer);
    await sampling;
    // The last one after the load ended, unless the timer's last one was just now.
    if ((performance.now() - t0) / 1000 - (samples.at(-1)?.t ?? 0) > SAMPLE_S / 2) await sample();
    const clientCpu = process.cpuUsage(cpuClient0);
    genLag.disable();
    const originRequests = await origin.originRequests();
    report(samples, processes, tally, loop, clientCpu, originRequests);
  } finally {
    await agent.close();
    for (const stop of stops) await stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function report(
  samples: Sample[],
  processes: number[],
  tally: Tally,
  loop: Awaited<ReturnType<typeof openLoop>>,
  clientCpu: NodeJS.CpuUsage,
  originRequests: number,
): void {
  // One process when edge.workers is 1; else the primary (no cache of its own) and its workers.
  const names = processes.map((pid, i) =>
    processes.length === 1 ? `edge ${pid}` : i === 0 ? `primary ${pid}` : `worker ${pid}`,
  );
  const caching = processes.length === 1 ? processes : processes.slice(1);
  const total = (s: Sample) => [...s.rss.values()].reduce((a, b) => a + b, 0);
  const rows: Array<Array<string | number>> = [
    [
      't s',
      'req/s',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'errors',
      'not sent',
      'gen lag p99/max ms',
      'edge p99 ≤ ms',
      'edge busy cores',
      'edge CPU %',
      'RSS MiB',
      ...names.map((n) => `${n} MiB`),
      'heap used/reserved MiB',
      'external MiB',
      'ArrayBuffers MiB',
      'follow model keys',
      'cache mem MiB',
      'cache disk MiB',
      'evictions Σ workers',
      'load 1m',
    ],
  ];
  for (const s of samples)
    rows.push([
      fmt(s.t, 0),
      fmt(s.rps, 0),
      fmt(s.p50),
      fmt(s.p95),
      fmt(s.p99),
      s.errors,
      s.notSent,
      `${fmt(s.genLagP99, 0)}/${fmt(s.genLagMax, 0)}`,
      fmt(s.edgeP99),
      fmt(s.edgeBusy, 2),
      fmt(s.cpuPct, 0),
      fmt(total(s) / MiB, 0),
      ...processes.map((pid) => fmt((s.rss.get(pid) ?? 0) / MiB, 0)),
      `${fmt(s.heapUsed / MiB, 0)}/${fmt(s.heapTotal / MiB, 0)}`,
      fmt(s.external / MiB, 0),
      fmt(s.arrayBuffers / MiB, 0),
      fmt(s.modelKeys, 0),
      fmt(s.memory / MiB, 0),
      fmt(s.disk / MiB, 0),
      fmt(s.evictions, 0),
      s.load,
    ]);
  printTable(
    "Soak over time (latency from when each request was due, as the client saw it; edge p99: the edge's own, arrival to last byte, a bucket bound; gen lag: the load generator's event-loop delay; RSS = VmRSS; heap, external, ArrayBuffers: the edge's metrics, summed over its processes; cache bytes: the largest replica)",
    rows,
  );

  const kinds: Array<Array<string | number>> = [
    ['kind', 'requests', 'x-cache hit', 'errors', 'p50 ms', 'p99 ms'],
  ];
  for (const k of KINDS) {
    const t = tally.byKind.get(k)!;
    kinds.push([
      k,
      t.requests,
      t.requests ? `${fmt((100 * t.hits) / t.requests, 1)} %` : '—',
      t.errors,
      fmt(percentile(t.latencies, 50)),
      fmt(percentile(t.latencies, 99)),
    ]);
  }
  printTable('By request kind, whole soak', kinds);
  const all = [...tally.byKind.values()];
  const requests = all.reduce((a, k) => a + k.requests, 0);
  process.stdout.write(
    `\n${requests} requests answered of ${loop.due} due (${loop.shed} not sent by the generator, ${MAX_IN_FLIGHT} already outstanding: not counted as edge errors; generator timer lag at most ${fmt(loop.maxLagMs, 0)} ms); ` +
      `origin requests ${originRequests}; load generator CPU ${fmt((clientCpu.user + clientCpu.system) / 1e6, 1)} s\n`,
  );
  if (tally.problems.size > 0) {
    process.stdout.write('errors:\n');
    for (const [what, n] of tally.problems) process.stdout.write(`  ${n} × ${what}\n`);
  }

  const late = samples.filter((s) => s.t >= SECONDS / 2);
  if (late.length > 0)
    process.stdout.write(
      `RSS ÷ memoryBytes (${mib(MEMORY)}) of each process holding a cache, second-half means: ${caching
        .map(
          (pid) =>
            `${names[processes.indexOf(pid)]} ${fmt(late.reduce((a, s) => a + (s.rss.get(pid) ?? 0), 0) / late.length / MEMORY)}`,
        )
        .join(', ')}\n`,
    );
  const goals: Array<Array<string | number>> = [
    ['series (second half)', 'mean', 'slope per hour ÷ mean', 'max ÷ min', 'goal', 'met'],
  ];
  if (late.length >= 3) {
    const ts = late.map((s) => s.t);
    const line = (name: string, ys: number[], judged: boolean) => {
      const f = flatness(ts, ys);
      const met = Math.abs(f.perHour) < SLOPE_GOAL && f.spread <= SPREAD_GOAL;
      goals.push([
        name,
        mib(f.mean),
        `${fmt(f.perHour * 100, 1)} %`,
        fmt(f.spread, 3),
        judged ? `|slope| < ${SLOPE_GOAL * 100} % and ≤ ${SPREAD_GOAL}` : '—',
        judged ? (met ? 'met' : 'NOT met') : met ? '(flat)' : '(not flat)',
      ]);
    };
    line('RSS, all edge processes', late.map(total), true);
    processes.forEach((pid, i) => {
      line(
        names[i]!,
        late.map((s) => s.rss.get(pid) ?? 0),
        false,
      );
    });
    line(
      'V8 heap used, edge',
      late.map((s) => s.heapUsed),
      false,
    );
    line(
      'V8 heap reserved, edge',
      late.map((s) => s.heapTotal),
      false,
    );
    line(
      'ArrayBuffers, edge',
      late.map((s) => s.arrayBuffers),
      false,
    );
    line(
      'RSS − heap reserved − ArrayBuffers (native, allocator)',
      late.map((s) => total(s) - s.heapTotal - s.arrayBuffers),
      false,
    );
    line(
      'cache bytes, memory tier',
      late.map((s) => s.memory),
      false,
    );
  } else goals.push(['RSS', '—', `only ${late.length} samples in the second half`, '—', '—', 'NOT met']);
  const errors = tally.errors;
  goals.push(['errors, whole soak', errors, '—', '—', '0', errors === 0 ? 'met' : 'NOT met']);
  goals.push([
    'offered load delivered (due requests not sent)',
    loop.shed,
    '—',
    '—',
    '0',
    loop.shed === 0 ? 'met' : 'NOT met: the run offered less than its rate',
  ]);
  printTable(`Goals; load average ${loadAverage()}`, goals);
}
