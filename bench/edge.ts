/**
 * `npm run bench edge`: the local edge against Varnish 7, nginx proxy_cache and bare
 * node:http, in one run, every server in its own processes on 127.0.0.1.
 *
 *   - Cache hits over HTTP/1.1 keep-alive (wrk -t1 -c64), 1 KiB / 100 KiB / 1 MiB, the edge
 *     with its built viewer functions and access logs on (the defaults; BENCH_EDGE_FUNCTIONS=0
 *     / BENCH_EDGE_LOGS=0 take them out), Varnish (malloc, default TTL an hour) and nginx
 *     (proxy_cache) in front of the same origin and objects, and the bare server answering
 *     from a buffer; 1 KiB over HTTP/2 with TLS (h2load -c16 -m32) against nginx h2 and bare
 *     node:http2 (bench/bare-h2-server.ts: the core stream API answering a buffer, as many
 *     processes as edge workers), the ceiling of what Node itself does per h2 stream.
 *   - Every cell fresh and again after all servers idled BENCH_EDGE_IDLE_MS (default 60 s).
 *   - A second edge with functions and access logs off ("edge -fn -log", BENCH_EDGE_PLAIN=0 drops
 *     it) in the same rounds, so what the functions and logs cost is read from one run.
 *   - BENCH_EDGE_SPLIT=1 adds "edge -fn" (logs only) and "edge -log" (functions only), so each
 *     one's cost is read from the same rounds too.
 *   - BENCH_EDGE_BASELINE=<checkout> adds that checkout's built edge (its dist/src/cli.js, defaults
 *     on) as "edge@base": a before/after comparison within one run, immune to the machine's drift.
 *   - BENCH_EDGE_CELLS picks cells (default "1k,100k,1m,h2"), BENCH_EDGE_ANCHORS the anchors
 *     (default "varnish,nginx"; "none" for the edges and bare node:http only).
 *   - Edge workers 1 and 2 (BENCH_EDGE_WORKERS="1,2"); nginx runs as many worker processes,
 *     Varnish is pinned to one CPU in the one-worker pass.
 *   - 1,000 concurrent requests for one cold key (origin requests must be 1), and the miss
 *     path's added latency over going to the origin directly.
 *
 * Targets alternate within each round so drift hits all of them; cells are medians of
 * BENCH_EDGE_ROUNDS runs of BENCH_EDGE_SECONDS. CPU per request is the server process tree's
 * CPU time (from /proc) over the run divided by requests served: on this shared machine it
 * holds up better than req/s. The load average is printed with every table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { buildFunctions, writeBuild } from '../src/cloudfront/build.js';
import { buildConfig } from '../src/config/load.js';
import { DEFAULT_CLASSES } from '../src/config/sections/classes.js';
import { makeSelfSigned } from '../src/dev/self-signed.js';
import {
  freePort,
  startBare,
  startBareH2,
  startNginx,
  startVarnish,
  type Target,
  waitUp,
} from './anchors.js';
import { fmt, median, percentile, printTable, sleep } from './lib.js';
import { ensureTool, h2load, type LoadRun, loadAverage, treeCpuUs, wrk } from './tools.js';

const CELLS = (process.env.BENCH_EDGE_CELLS ?? '1k,100k,1m,h2').split(',');
const SIZES = [
  { id: '1k', name: '1 KiB', path: '/t/1k' },
  { id: '100k', name: '100 KiB', path: '/t/100k' },
  { id: '1m', name: '1 MiB', path: '/t/1m' },
].filter((s) => CELLS.includes(s.id));
const H2_CELL = '1 KiB h2+TLS';
const H2 = CELLS.includes('h2');
const ANCHORS = (process.env.BENCH_EDGE_ANCHORS ?? 'varnish,nginx').split(',');
const PLAIN = process.env.BENCH_EDGE_PLAIN !== '0';
const PLAIN_NAME = 'edge -fn -log';
const SPLIT = process.env.BENCH_EDGE_SPLIT === '1';
const BASELINE = process.env.BENCH_EDGE_BASELINE;
const CONNECTIONS = 64;
const SECONDS = Number(process.env.BENCH_EDGE_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_EDGE_ROUNDS ?? 2);
const IDLE_MS = Number(process.env.BENCH_EDGE_IDLE_MS ?? 60_000);
const WORKERS = (process.env.BENCH_EDGE_WORKERS ?? '1,2').split(',').map(Number);
const FUNCTIONS = process.env.BENCH_EDGE_FUNCTIONS !== '0';
const LOGS = process.env.BENCH_EDGE_LOGS !== '0';
/** Objects at least this large go to the disk tier (default: the config default, 1 MiB). */
const DISK_THRESHOLD = process.env.BENCH_EDGE_DISK_THRESHOLD;
/** Extra node flags for the edge processes only (V8 flags are refused in NODE_OPTIONS). */
const NODE_FLAGS = (process.env.BENCH_EDGE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const COLD_REQUESTS = 1000;
const MISS_SAMPLES = 300;

interface Sample {
  rps: number;
  cpuUs: number;
  p50Ms: number;
}

/** Runs the edge CLI (`edgewise edge`) in its own process with a generated config. */
export async function startEdgeProcess(
  dir: string,
  name: string,
  originUrl: string,
  workers: number,
  tls: { cert: string; key: string } | undefined,
  features: { functions: boolean; logs: boolean } = { functions: FUNCTIONS, logs: LOGS },
  cli = join(import.meta.dirname, '..', 'src', 'cli.js'),
  nodeFlags: string[] = NODE_FLAGS,
  /** Merged over the generated edge block and its cache block (bench soak: metricsAccess, sizes). */
  extra: {
    edge?: Record<string, unknown>;
    cache?: Record<string, unknown>;
    prefetch?: Record<string, unknown>;
  } = {},
): Promise<Target> {
  const port = await freePort();
  const work = join(dir, `edge-${port}`);
  const raw = {
    classes: [
      {
        name: 'bench',
        pathPatterns: ['/t/*'],
        ttl: { min: 0, default: 3600, max: 86400 },
        browserTtl: 60,
        compress: true,
        viewerProtocolPolicy: 'allow-all',
      },
      ...DEFAULT_CLASSES,
    ],
    origin: { url: originUrl, protocol: 'http1.1' },
    logging: { level: 'warn' },
    ...(extra.prefetch ? { prefetch: extra.prefetch } : {}),
    edge: {
      host: '127.0.0.1',
      port,
      // Always set: the default (0) is one worker per core, so leaving it out for 1 ran a cluster.
      workers,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      cache: {
        diskDir: join(work, 'cache'),
        memoryBytes: 512 * 1024 * 1024,
        ...(DISK_THRESHOLD ? { diskThresholdBytes: Number(DISK_THRESHOLD) } : {}),
        ...extra.cache,
      },
      logs: { dir: join(work, 'logs'), enabled: features.logs },
      functions: {
        dir: join(work, 'functions'),
        viewerRequest: features.functions,
        viewerResponse: features.functions,
      },
      ...extra.edge,
    },
  };
  const config = buildConfig(raw, undefined);
  writeBuild(buildFunctions(config.config), join(work, 'functions'));
  const file = join(work, 'edgewise.yaml');
  await writeFile(file, JSON.stringify(raw));
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, cli, 'edge', '--config', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: work,
  });
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  // The TLS listener has a self-signed certificate: wait with an agent that trusts it.
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  await waitUp(`${url}/t/1k`, child, name, agent).finally(() => agent.close());
  return {
    name,
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Primes a cache and waits until it answers from the cache (a disk-tier fill lands a moment later). */
async function primeAndCheck(t: Target, path: string, insecure: Agent): Promise<string> {
  let verdict = '';
  for (let i = 0; i < 40; i++) {
    const r = await request(`${t.url}${path}`, { dispatcher: insecure });
    await r.body.dump();
    const h = r.headers;
    const hit = t.name.startsWith('edge')
      ? String(h['x-cache']).startsWith('Hit')
      : t.name.startsWith('nginx')
        ? h['x-cache-status'] === 'HIT'
        : t.name === 'Varnish'
          ? // Varnish names the request that stored the object as a second id on a hit.
            String(h['x-varnish']).includes(' ')
          : true;
    verdict = hit ? 'hit' : `NOT a hit (${String(h['x-cache'] ?? h['x-cache-status'] ?? h['x-varnish'])})`;
    if (hit) break;
    await sleep(50);
  }
  return verdict;
}

async function measure(t: Target, path: string, h2: boolean): Promise<Sample & { run: LoadRun }> {
  const cpu0 = treeCpuUs(t.pid);
  const run = h2
    ? await h2load(`${t.url}${path}`, SECONDS, 16, 32)
    : await wrk(`${t.url}${path}`, SECONDS, CONNECTIONS);
  const cpu = treeCpuUs(t.pid) - cpu0;
  if (run.errors > 0) process.stdout.write(`  ! ${t.name} ${path}: ${run.errors} failed requests\n`);
  return { rps: run.rps, cpuUs: cpu / Math.max(1, run.requests), p50Ms: run.p50Ms, run };
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-bench-edge-'));
  const cert = makeSelfSigned(dir);
  const skipped: string[] = [];
  const tool = (bin: string, pkg: string) => {
    const r = ensureTool(bin, pkg);
    if (!r.ok) skipped.push(r.reason);
    return r.ok;
  };
  if (!tool('wrk', 'wrk')) {
    process.stdout.write(`bench edge needs wrk: ${skipped.join('; ')}\n`);
    return;
  }
  const haveH2load = H2 && tool('h2load', 'nghttp2-client');
  const haveVarnish = ANCHORS.includes('varnish') && tool('varnishd', 'varnish');
  const haveNginx = ANCHORS.includes('nginx') && tool('nginx', 'nginx-light');
  const origin = await startBare('origin');
  const bare = await startBare('node:http');
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });
  const results = new Map<string, Sample[]>();
  const record = (k: string, s: Sample) => {
    const list = results.get(k) ?? [];
    list.push(s);
    results.set(k, list);
  };
  const misc: Array<Array<string | number>> = [['workers', 'check', 'result', 'goal', 'met']];
  let originDuringHits = 0;
  process.stdout.write(
    `cores ${cpus().length}; load average ${loadAverage()}; functions ${FUNCTIONS ? 'on' : 'off'}, access logs ${LOGS ? 'on' : 'off'}; ${SECONDS} s × ${ROUNDS} rounds; idle ${IDLE_MS / 1000} s\n`,
  );
  try {
    for (const workers of WORKERS) {
      const targets: Target[] = [];
      const h2targets: Target[] = [];
      const stops: Array<() => Promise<void>> = [];
      try {
        const edge = await startEdgeProcess(dir, 'edge', origin.url, workers, undefined);
        stops.push(edge.stop);
        targets.push(edge);
        if (PLAIN) {
          const plain = await startEdgeProcess(dir, PLAIN_NAME, origin.url, workers, undefined, {
            functions: false,
            logs: false,
          });
          stops.push(plain.stop);
          targets.push(plain);
        }
        if (SPLIT) {
          for (const [name, features] of [
            ['edge -fn', { functions: false, logs: true }],
            ['edge -log', { functions: true, logs: false }],
          ] as const) {
            const t = await startEdgeProcess(dir, name, origin.url, workers, undefined, features);
            stops.push(t.stop);
            targets.push(t);
          }
        }
        if (BASELINE) {
          const base = await startEdgeProcess(
            dir,
            'edge@base',
            origin.url,
            workers,
            undefined,
            { functions: FUNCTIONS, logs: LOGS },
            join(BASELINE, 'dist', 'src', 'cli.js'),
          );
          stops.push(base.stop);
          targets.push(base);
        }
        if (haveVarnish) {
          const v = await startVarnish(dir, origin.url, workers === 1 ? '0' : undefined);
          stops.push(v.stop);
          targets.push(v);
        }
        let nginxH2: Target | undefined;
        if (haveNginx) {
          const n = await startNginx(dir, origin.url, workers, cert);
          stops.push(n.h1.stop);
          targets.push(n.h1);
          if (haveH2load) nginxH2 = n.h2;
        }
        targets.push(bare);
        if (haveH2load) {
          const edgeTls = await startEdgeProcess(dir, 'edge h2', origin.url, workers, cert);
          stops.push(edgeTls.stop);
          h2targets.push(edgeTls);
          if (nginxH2) h2targets.push(nginxH2);
        }
        const verdicts: string[] = [];
        for (const t of [...targets, ...h2targets])
          for (const s of SIZES)
            verdicts.push(`${t.name} ${s.name}: ${await primeAndCheck(t, s.path, insecure)}`);
        // The h2 cell's object even when the 1 KiB HTTP/1.1 cell is not selected.
        if (!SIZES.some((s) => s.path === '/t/1k'))
          for (const t of h2targets)
            verdicts.push(`${t.name} 1 KiB: ${await primeAndCheck(t, '/t/1k', insecure)}`);
        if (haveH2load) {
          // Not a cache (and h2 only): nothing to prime.
          const bareH2 = await startBareH2(cert, workers);
          stops.push(bareH2.stop);
          h2targets.push(bareH2);
        }
        const misses = verdicts.filter((v) => !v.endsWith(': hit'));
        process.stdout.write(
          `\nworkers=${workers}: ${misses.length === 0 ? `all ${verdicts.length} objects answered as cache hits before measuring` : `NOT hits: ${misses.join('; ')}`}\n`,
        );
        // Warm-up: a discarded short run on each, so JIT and start-up garbage are not charged.
        for (const t of targets) await wrk(`${t.url}/t/1k`, 2, CONNECTIONS);

        const phases = IDLE_MS > 0 ? ['fresh', 'idle'] : ['fresh'];
        for (const phase of phases) {
          if (phase === 'idle') {
            process.stdout.write(`idling ${IDLE_MS / 1000} s …\n`);
            await sleep(IDLE_MS);
          }
          for (const s of SIZES)
            for (let r = 0; r < ROUNDS; r++)
              for (const t of targets) {
                const before = await origin.originRequests();
                record(`${workers}|${phase}|${s.name}|${t.name}`, await measure(t, s.path, false));
                if (t !== bare) originDuringHits += (await origin.originRequests()) - before;
              }
          for (let r = 0; r < ROUNDS; r++)
            for (const t of h2targets)
              record(`${workers}|${phase}|${H2_CELL}|${t.name}`, await measure(t, '/t/1k', true));
          printCells(
            results,
            workers,
            phase,
            [...targets, ...h2targets].map((t) => t.name),
          );
        }

        // 1,000 concurrent viewers, one cold key, an origin that takes 50 ms.
        const agent = new Agent({ connections: COLD_REQUESTS });
        const before = await origin.originRequests();
        const statuses = await Promise.all(
          Array.from({ length: COLD_REQUESTS }, async () => {
            const r = await request(`${edge.url}/t/cold/w${workers}`, { dispatcher: agent });
            await r.body.dump();
            return r.statusCode;
          }),
        );
        await agent.close();
        const fetched = (await origin.originRequests()) - before;
        const ok = statuses.filter((s) => s === 200).length;
        misc.push([
          String(workers),
          `${COLD_REQUESTS} concurrent requests, one cold key: origin fetches (${ok} × 200)`,
          String(fetched),
          '1',
          fetched === 1 ? 'met' : 'NOT met',
        ]);

        // Miss path: each edge request is a new key; the direct request is the same fetch without it.
        const direct: number[] = [];
        const viaEdge: number[] = [];
        for (let i = 0; i < MISS_SAMPLES; i++) {
          let t = performance.now();
          await (await request(`${origin.url}/t/miss/w${workers}-${i}`)).body.dump();
          direct.push(performance.now() - t);
          t = performance.now();
          await (await request(`${edge.url}/t/miss/w${workers}-${i}`)).body.dump();
          viaEdge.push(performance.now() - t);
        }
        const added = percentile(viaEdge, 50) - percentile(direct, 50);
        misc.push([
          String(workers),
          `miss path added latency p50 (direct ${fmt(percentile(direct, 50), 3)} ms)`,
          `${fmt(added, 3)} ms`,
          '≤ 1 ms',
          added <= 1 ? 'met' : 'NOT met',
        ]);
        const added99 = percentile(viaEdge, 99) - percentile(direct, 99);
        misc.push([String(workers), 'miss path added latency p99', `${fmt(added99, 3)} ms`, '—', '—']);
      } finally {
        for (const stop of stops.reverse()) await stop();
      }
    }
    printGoals(results, misc, originDuringHits);
    if (skipped.length > 0) process.stdout.write(`\nskipped: ${skipped.join('; ')}\n`);
  } finally {
    await insecure.close();
    await bare.stop();
    await origin.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function cell(results: Map<string, Sample[]>, key: string): Sample | undefined {
  const s = results.get(key);
  if (!s || s.length === 0) return undefined;
  return {
    rps: median(s.map((x) => x.rps)),
    cpuUs: median(s.map((x) => x.cpuUs)),
    p50Ms: median(s.map((x) => x.p50Ms)),
  };
}

function spread(results: Map<string, Sample[]>, key: string, of: 'rps' | 'cpuUs', digits: number): string {
  const s = results.get(key)?.map((x) => x[of]) ?? [];
  if (s.length < 2) return '';
  return ` [${fmt(Math.min(...s), digits)}–${fmt(Math.max(...s), digits)}]`;
}

function printCells(results: Map<string, Sample[]>, workers: number, phase: string, names: string[]): void {
  const rows: Array<Array<string | number>> = [
    ['cell', ...names.map((n) => `${n} req/s [range] (CPU µs/req [range], p50 ms)`)],
  ];
  for (const c of [...SIZES.map((s) => s.name), ...(H2 ? [H2_CELL] : [])]) {
    const row: Array<string | number> = [c];
    for (const n of names) {
      const k = `${workers}|${phase}|${c}|${n}`;
      const m = cell(results, k);
      row.push(
        m
          ? `${fmt(m.rps, 0)}${spread(results, k, 'rps', 0)} (${fmt(m.cpuUs, 1)}${spread(results, k, 'cpuUs', 1)}, ${fmt(m.p50Ms, 2)})`
          : '—',
      );
    }
    rows.push(row);
  }
  printTable(`Hits, edge workers=${workers}, ${phase}; load average ${loadAverage()}`, rows);
}

function printGoals(
  results: Map<string, Sample[]>,
  misc: Array<Array<string | number>>,
  originDuringHits: number,
): void {
  const rows: Array<Array<string | number>> = [
    ['workers', 'phase', 'ratio', 'req/s ratio', 'CPU/req ratio', 'goal', 'met'],
  ];
  const goal = (workers: number, phase: string, c: string, anchor: string, want: number, label: string) => {
    const e = cell(results, `${workers}|${phase}|${c}|${c === H2_CELL ? 'edge h2' : 'edge'}`);
    const a = cell(results, `${workers}|${phase}|${c}|${anchor}`);
    if (!e || !a) return;
    const ratio = e.rps / a.rps;
    rows.push([
      String(workers),
      phase,
      `${label} ${c}`,
      ratio.toFixed(2),
      (a.cpuUs / e.cpuUs).toFixed(2),
      `≥ ${want}`,
      ratio >= want ? 'met' : 'NOT met',
    ]);
  };
  for (const w of WORKERS)
    for (const phase of IDLE_MS > 0 ? ['fresh', 'idle'] : ['fresh']) {
      goal(w, phase, '1 KiB', 'Varnish', 1.0, 'edge ÷ Varnish');
      goal(w, phase, '100 KiB', 'Varnish', 1.2, 'edge ÷ Varnish');
      goal(w, phase, '1 MiB', 'Varnish', 1.2, 'edge ÷ Varnish');
      goal(w, phase, H2_CELL, 'nginx h2', 0.6, 'edge ÷ nginx');
      const h2 = cell(results, `${w}|${phase}|${H2_CELL}|edge h2`);
      const h2bare = cell(results, `${w}|${phase}|${H2_CELL}|node:http2`);
      if (h2 && h2bare)
        rows.push([
          String(w),
          phase,
          `edge ÷ bare node:http2 ${H2_CELL} (Node's own ceiling)`,
          (h2.rps / h2bare.rps).toFixed(2),
          (h2bare.cpuUs / h2.cpuUs).toFixed(2),
          '—',
          '—',
        ]);
      const b = cell(results, `${w}|${phase}|1 KiB|node:http`);
      for (const name of ['edge', PLAIN_NAME, 'edge@base']) {
        const e = cell(results, `${w}|${phase}|1 KiB|${name}`);
        if (!e || !b) continue;
        const r = e.cpuUs / b.cpuUs;
        // The goal is for the defaults (functions and logs on); the plain edge shows their cost.
        const isGoal = name === 'edge';
        rows.push([
          String(w),
          phase,
          `${name} CPU/req ÷ bare node:http 1 KiB (edge ÷ bare, not inverted)`,
          (e.rps / b.rps).toFixed(2),
          r.toFixed(2),
          isGoal ? 'CPU ≤ 1.5×' : '—',
          isGoal ? (r <= 1.5 ? 'met' : 'NOT met') : '—',
        ]);
      }
    }
  printTable(
    `Goals (req/s ratio = edge ÷ anchor; CPU/req ratio = anchor µs ÷ edge µs, > 1 means the edge is cheaper). Load average ${loadAverage()}`,
    rows,
  );
  printTable('Collapsing and miss path', misc);
  process.stdout.write(
    `\norigin requests during cache-hit runs (all caches): ${originDuringHits} (0 = every request was a hit)\n`,
  );
}
