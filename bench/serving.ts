/**
 * `npm run bench serving`: the edgewise origin (fs driver, every header of issue 4 present)
 * against @fastify/static serving the same bytes from disk, in one run.
 *
 *   - HTTP/1.1 keep-alive, 64 connections (autocannon, and wrk -t1 when installed or
 *     installable), 1 KiB / 100 KiB / 1 MiB objects; goal ≥ 3× at 1 KiB, ≥ 1× everywhere;
 *   - HTTP/2 over TLS, 1 KiB, 64 concurrent streams from an undici `allowH2` client;
 *   - both on fresh servers and again after the servers idled ~60 s (the team saw idle Node
 *     servers serve 30–50% slower for minutes).
 *
 * Servers run in child processes (bench/serving-server.ts). Each cell is the median of
 * ROUNDS runs, edgewise and baseline alternating so drift hits both. Two ratios, both ≥ 1.0
 * when edgewise is at least as fast: req/s (edgewise ÷ static), and server CPU time per
 * request (static ÷ edgewise). The second is the steadier one on a shared machine: req/s
 * moves with whatever else is running, CPU per request much less. Over HTTP/1.1 a third server,
 * edgewise with `storage.fs.hotCache` off, runs in the same rounds: the before/after of the cache.
 *
 * Bare node:http answering the same bytes from memory runs in the same HTTP/1.1 rounds too:
 * the floor, what Node itself costs per answer. req/s cells are "median (min–max)" over the
 * rounds; the load average is printed with each table. The goals of issue 20 are printed with
 * each row and again at the end, each marked met or NOT met.
 *
 * BENCH_SERVING_SIZES=1k,100k,1m picks the sizes (default all).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { makeSelfSigned } from '../src/dev/self-signed.js';
import { FsDriver } from '../src/storage/fs.js';
import { fmt, median, printTable, sleep } from './lib.js';
import { ensureTool, loadAverage, wrk } from './tools.js';

const ALL_SIZES = [
  { name: '1 KiB', id: '1k', file: 'f1k.txt', bytes: 1024 },
  { name: '100 KiB', id: '100k', file: 'f100k.txt', bytes: 100 * 1024 },
  { name: '1 MiB', id: '1m', file: 'f1m.txt', bytes: 1024 * 1024 },
];
const WANTED = process.env.BENCH_SERVING_SIZES?.split(',');
const SIZES = WANTED ? ALL_SIZES.filter((s) => WANTED.includes(s.id)) : ALL_SIZES;
const CONNECTIONS = 64;
const RUN_SECONDS = Number(process.env.BENCH_SERVING_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_SERVING_ROUNDS ?? 3);
const IDLE_MS = Number(process.env.BENCH_SERVING_IDLE_MS ?? 60_000);

interface Server {
  kind: 'edgewise' | 'edgewise-nohot' | 'static' | 'bare';
  port: number;
  child: ChildProcess;
}

interface Sample {
  /** Requests per second. */
  rps: number;
  /** Server CPU time (user + system, all threads) per request, in microseconds. */
  cpuUs: number;
}

function cpuOf(s: Server): Promise<number> {
  return new Promise((resolve) => {
    s.child.once('message', (m: { cpu: NodeJS.CpuUsage }) => resolve(m.cpu.user + m.cpu.system));
    s.child.send('cpu');
  });
}

async function measured(s: Server, load: () => Promise<{ rps: number; requests: number }>): Promise<Sample> {
  const before = await cpuOf(s);
  const r = await load();
  const after = await cpuOf(s);
  return { rps: r.rps, cpuUs: (after - before) / Math.max(1, r.requests) };
}

async function startServer(
  kind: Server['kind'],
  dir: string,
  tls?: { cert: string; key: string },
): Promise<Server> {
  const entry = join(import.meta.dirname, 'serving-server.js');
  const args = [entry, kind, dir, ...(tls ? [tls.cert, tls.key] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{"port"'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return { kind, port, child };
}

async function h1(port: number, file: string, scheme = 'http'): Promise<{ rps: number; requests: number }> {
  const result = await autocannon({
    url: `${scheme}://127.0.0.1:${port}/static/${file}`,
    connections: CONNECTIONS,
    duration: RUN_SECONDS,
    pipelining: 1,
  });
  const bad = result.non2xx + result.errors;
  if (bad > 0) throw new Error(`${bad} failed responses from port ${port}`);
  return { rps: result.requests.average, requests: result.requests.total };
}

/** 64 concurrent request loops over HTTP/2 (undici multiplexes them on its session). */
async function h2(port: number, file: string, agent: Agent): Promise<{ rps: number; requests: number }> {
  const url = `https://127.0.0.1:${port}/static/${file}`;
  const until = Date.now() + RUN_SECONDS * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < until) {
      const r = await request(url, { dispatcher: agent });
      await r.body.dump({ limit: Number.POSITIVE_INFINITY });
      if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}`);
      done++;
    }
  };
  const start = Date.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  return { rps: done / ((Date.now() - start) / 1000), requests: done };
}

async function h1wrk(port: number, file: string): Promise<{ rps: number; requests: number }> {
  const r = await wrk(`http://127.0.0.1:${port}/static/${file}`, RUN_SECONDS, CONNECTIONS);
  if (r.errors > 0) throw new Error(`${r.errors} failed responses from port ${port}`);
  return { rps: r.rps, requests: r.requests };
}

/** Issue 20's goals: ≥ 3× @fastify/static at 1 KiB, and never below it at any size. */
function goalOf(label: string): number {
  return label.includes('HTTP/1.1 1 KiB') ? 3 : 1;
}

interface Cell {
  rps: number;
  min: number;
  max: number;
  cpuUs: number;
}

function cell(samples: Sample[]): Cell {
  const rps = samples.map((x) => x.rps);
  return {
    rps: median(rps),
    min: Math.min(...rps),
    max: Math.max(...rps),
    cpuUs: median(samples.map((x) => x.cpuUs)),
  };
}

function spread(c: Cell): string {
  return `${fmt(Math.round(c.rps))} (${fmt(Math.round(c.min))}–${fmt(Math.round(c.max))})`;
}

/** Every goal checked in a run, for the summary at the end. */
const verdicts: Array<{ phase: string; label: string; ratio: number; goal: number }> = [];

async function pair(
  phaseTitle: string,
  label: string,
  load: (s: Server) => Promise<{ rps: number; requests: number }>,
  ew: Server,
  st: Server,
  others: Server[] = [],
): Promise<Array<string | number>> {
  const order = [st, ...others, ew];
  const samples = new Map<Server, Sample[]>(order.map((x) => [x, []]));
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate who goes first so warm-up and drift are shared.
    for (const x of i % 2 === 0 ? order : [...order].reverse())
      samples.get(x)!.push(await measured(x, () => load(x)));
  }
  const e = cell(samples.get(ew)!);
  const s = cell(samples.get(st)!);
  const of = (kind: Server['kind']) => {
    const x = others.find((o) => o.kind === kind);
    return x ? cell(samples.get(x)!) : undefined;
  };
  const cold = of('edgewise-nohot');
  const bare = of('bare');
  const goal = goalOf(label);
  const ratio = e.rps / s.rps;
  verdicts.push({ phase: phaseTitle, label, ratio, goal });
  return [
    label,
    spread(e),
    spread(s),
    ratio.toFixed(2),
    e.cpuUs.toFixed(0),
    s.cpuUs.toFixed(0),
    (s.cpuUs / e.cpuUs).toFixed(2),
    `≥ ${goal}`,
    ratio >= goal ? 'met' : 'NOT met',
    bare === undefined ? '—' : `${fmt(Math.round(bare.rps))} (${(e.rps / bare.rps).toFixed(2)}×)`,
    bare === undefined ? '—' : bare.cpuUs.toFixed(0),
    cold === undefined ? '—' : `${fmt(Math.round(cold.rps))} (${(cold.rps / s.rps).toFixed(2)}×)`,
    cold === undefined ? '—' : cold.cpuUs.toFixed(0),
  ];
}

async function phase(
  title: string,
  servers: { ew: Server; st: Server; ewCold: Server; bare: Server; ewTls: Server; stTls: Server },
  agent: Agent,
): Promise<void> {
  const rows: Array<Array<string | number>> = [
    [
      'case',
      'edgewise req/s (min–max)',
      'static req/s (min–max)',
      'ratio',
      'edgewise CPU µs/req',
      'static CPU µs/req',
      'CPU ratio',
      'goal (req/s ratio)',
      'met',
      'bare node:http req/s (edgewise ÷ bare)',
      'bare CPU µs/req',
      'hot cache off req/s (÷ static)',
      'hot cache off CPU µs/req',
    ],
  ];
  const h1Others = [servers.ewCold, servers.bare];
  for (const size of SIZES) {
    rows.push(
      await pair(
        title,
        `HTTP/1.1 ${size.name} autocannon`,
        (s) => h1(s.port, size.file),
        servers.ew,
        servers.st,
        h1Others,
      ),
    );
    if (HAVE_WRK)
      rows.push(
        await pair(
          title,
          `HTTP/1.1 ${size.name} wrk`,
          (s) => h1wrk(s.port, size.file),
          servers.ew,
          servers.st,
          h1Others,
        ),
      );
  }
  rows.push(
    await pair(title, 'HTTP/2 TLS 1 KiB', (s) => h2(s.port, 'f1k.txt', agent), servers.ewTls, servers.stTls),
  );
  printTable(`${title}; load average ${loadAverage()}`, rows);
}

/** Issue 20's two serving goals over every row of every phase. */
function printGoals(): void {
  process.stdout.write('\ngoals (issue 20, req/s ratio edgewise ÷ @fastify/static, medians):\n');
  const small = verdicts.filter((v) => v.goal === 3);
  for (const v of small)
    process.stdout.write(
      `  ≥ 3× at 1 KiB, ${v.label.replace('HTTP/1.1 1 KiB ', '')} (${v.phase}): ${v.ratio.toFixed(2)}× ${v.ratio >= 3 ? 'met' : 'NOT met'}\n`,
    );
  const lowest = verdicts.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  process.stdout.write(
    `  never below 1× at any size: lowest ${lowest.ratio.toFixed(2)}× (${lowest.label}, ${lowest.phase}) ${lowest.ratio >= 1 ? 'met' : 'NOT met'}\n`,
  );
}

let HAVE_WRK = false;

export async function run(): Promise<void> {
  const w = ensureTool('wrk', 'wrk');
  HAVE_WRK = w.ok;
  if (!w.ok) process.stdout.write(`no wrk rows: ${w.reason}\n`);
  const root = await mkdtemp(join(tmpdir(), 'edgewise-bench-serving-'));
  const servers: Server[] = [];
  try {
    const staticDir = join(root, 'static-root');
    const dataDir = join(root, 'data');
    await mkdir(staticDir, { recursive: true });
    const fsDriver = new FsDriver({ dataDir });
    // The 1 KiB object is always written: the header probe and the HTTP/2 row use it, whatever
    // BENCH_SERVING_SIZES picks (without it `BENCH_SERVING_SIZES=100k,1m` died on the probe's 404).
    const files = SIZES.some((s) => s.id === '1k') ? SIZES : [ALL_SIZES[0]!, ...SIZES];
    for (const size of files) {
      const bytes = Buffer.alloc(size.bytes);
      for (let i = 0; i < bytes.length; i++) bytes[i] = 97 + (i % 26);
      await writeFile(join(staticDir, size.file), bytes);
      await fsDriver.put(`static/${size.file}`, Readable.from([bytes]), {
        contentType: 'text/plain; charset=utf-8',
      });
    }
    const { cert, key } = makeSelfSigned(root);
    const tls = { cert, key };
    const ew = await startServer('edgewise', dataDir);
    servers.push(ew);
    const st = await startServer('static', staticDir);
    servers.push(st);
    const ewCold = await startServer('edgewise-nohot', dataDir);
    servers.push(ewCold);
    const bare = await startServer('bare', staticDir);
    servers.push(bare);
    const ewTls = await startServer('edgewise', dataDir, tls);
    servers.push(ewTls);
    const stTls = await startServer('static', staticDir, tls);
    servers.push(stTls);
    const agent = new Agent({ allowH2: true, connect: { rejectUnauthorized: false }, connections: 1 });
    // Sanity: the edgewise responses carry the headers the comparison is about.
    const probe = await request(`http://127.0.0.1:${ew.port}/static/f1k.txt`);
    await probe.body.dump();
    for (const h of [
      'etag',
      'last-modified',
      'cache-control',
      'accept-ranges',
      'x-content-type-options',
      'vary',
    ])
      if (probe.headers[h] === undefined) throw new Error(`edgewise response lacks ${h}`);

    process.stdout.write(
      `${CONNECTIONS} connections, ${RUN_SECONDS} s per run, median of ${ROUNDS} runs, node ${process.version}\n`,
    );
    await phase('fresh servers', { ew, st, ewCold, bare, ewTls, stTls }, agent);
    await agent.close();
    process.stdout.write(`\nidling all servers for ${Math.round(IDLE_MS / 1000)} s…\n`);
    await sleep(IDLE_MS);
    const agent2 = new Agent({ allowH2: true, connect: { rejectUnauthorized: false }, connections: 1 });
    await phase(`after ${Math.round(IDLE_MS / 1000)} s idle`, { ew, st, ewCold, bare, ewTls, stTls }, agent2);
    await agent2.close();
    printGoals();
  } finally {
    for (const s of servers) s.child.kill('SIGTERM');
    await Promise.all(
      servers.map((s) =>
        s.child.exitCode === null ? new Promise((r) => s.child.once('exit', r)) : undefined,
      ),
    );
    await rm(root, { recursive: true, force: true });
  }
}
