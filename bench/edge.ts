/**
 * `npm run bench edge`: the local edge against a bare node:http server, in one run.
 *
 *   - Cache hits over HTTP/1.1 keep-alive, 64 connections (autocannon in a child process),
 *     1 KiB / 100 KiB / 1 MiB, with the built viewer functions and access logging on, against
 *     a bare node:http server answering with a preallocated buffer of the same size; fresh,
 *     and again after both idled (~60 s, BENCH_EDGE_IDLE_MS).
 *   - 1,000 concurrent requests for one cold key: origin requests counted (must be 1).
 *   - Miss path: latency added over a direct origin request, p50 and p99, sequential.
 *   - Varnish, only if `varnishd` is installed (it is not installed by this bench).
 *
 * Each hit cell is the median of ROUNDS runs, edge and baseline alternating so drift hits
 * both. Ratio = edge req/s ÷ bare node:http req/s.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import { buildFunctions, writeBuild } from '../src/cloudfront/build.js';
import { buildConfig } from '../src/config/load.js';
import { DEFAULT_CLASSES } from '../src/config/sections/classes.js';
import { ConfigStore } from '../src/config/store.js';
import { startEdge } from '../src/edge/server.js';
import { createLogger } from '../src/logger.js';
import { fmt, median, percentile, printTable, sleep } from './lib.js';

const SIZES = [
  { name: '1 KiB', path: '/t/1k', bytes: 1024 },
  { name: '100 KiB', path: '/t/100k', bytes: 100 * 1024 },
  { name: '1 MiB', path: '/t/1m', bytes: 1024 * 1024 },
];
const CONNECTIONS = 64;
const RUN_SECONDS = Number(process.env.BENCH_EDGE_SECONDS ?? 2.5);
const ROUNDS = 2;
const IDLE_MS = Number(process.env.BENCH_EDGE_IDLE_MS ?? 60_000);
const COLD_REQUESTS = 1000;
/** BENCH_EDGE_FUNCTIONS=0 / BENCH_EDGE_LOGS=0 take a stage out, to see what each costs. */
const FUNCTIONS = process.env.BENCH_EDGE_FUNCTIONS !== '0';
const LOGS = process.env.BENCH_EDGE_LOGS !== '0';
const MISS_SAMPLES = 300;

const autocannonBin = join(
  dirname(createRequire(import.meta.url).resolve('autocannon/package.json')),
  'autocannon.js',
);

interface LoadResult {
  rps: number;
  /** CPU time this process (the server under test) spent per request, µs. */
  cpuPerRequest: number;
}

/**
 * autocannon in its own process, so the load generator does not share an event loop with a
 * server. The servers run in this process, one at a time under load, so this process's CPU time
 * over the run divided by the requests served is the server's cost per request: a figure that
 * holds up better than req/s on a machine other work is also using.
 */
function load(url: string): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [autocannonBin, '-c', String(CONNECTIONS), '-d', String(RUN_SECONDS), '-p', '1', '-j', url],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
    });
    child.once('exit', () => {
      try {
        const cpu = process.cpuUsage(cpu0);
        const r = JSON.parse(out) as {
          requests: { average: number; total: number };
          non2xx: number;
          errors: number;
        };
        if (r.non2xx + r.errors > 0) reject(new Error(`${r.non2xx + r.errors} failed responses from ${url}`));
        else
          resolve({
            rps: r.requests.average,
            cpuPerRequest: (cpu.user + cpu.system) / Math.max(1, r.requests.total),
          });
      } catch (err) {
        reject(err);
      }
    });
  });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(`http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`);
    }),
  );
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-bench-edge-'));
  const bodies = new Map(SIZES.map((s) => [s.path, Buffer.alloc(s.bytes, 120)]));
  let originRequests = 0;
  // The bare baseline and the edge's origin: node:http answering with preallocated buffers.
  const bare = createServer((req, res) => {
    originRequests++;
    const path = (req.url ?? '/').split('?')[0]!;
    const body =
      bodies.get(path) ?? bodies.get(path.replace(/\/cold\/.*|\/miss\/.*$/, '/1k')) ?? bodies.get('/t/1k')!;
    const delay = path.startsWith('/t/cold/') ? 50 : 0;
    const send = () => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
        'cache-control': 'max-age=3600',
      });
      res.end(body);
    };
    if (delay) setTimeout(send, delay);
    else send();
  });
  const bareUrl = await listen(bare);

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
    origin: { url: bareUrl, protocol: 'http1.1' },
    edge: {
      port: 0,
      cache: {
        diskDir: join(dir, 'cache'),
        memoryBytes: 256 * 1024 * 1024,
        diskThresholdBytes: 8 * 1024 * 1024,
      },
      logs: { dir: join(dir, 'logs'), enabled: LOGS },
      functions: { dir: join(dir, 'functions') },
    },
  };
  const config = buildConfig(raw, undefined);
  if (FUNCTIONS) writeBuild(buildFunctions(config.config), join(dir, 'functions'));
  const edge = await startEdge(new ConfigStore(config), createLogger({ level: 'silent', pretty: false }), {
    cwd: dir,
    host: '127.0.0.1',
    port: 0,
  });
  process.stdout.write(
    `viewer functions: ${edge.app.functions.map((f) => f.split('/').pop()).join(', ') || 'off'}; access logs ${LOGS ? 'on' : 'off'}\n`,
  );
  try {
    for (const s of SIZES) await (await request(`${edge.url}${s.path}`)).body.dump();
    // Warm-up: a discarded load run on each target, so JIT compilation and the garbage left by
    // start-up (config compilation, function loading) are not charged to the first cell.
    await load(`${edge.url}${SIZES[0]!.path}`);
    await load(`${bareUrl}${SIZES[0]!.path}`);
    const hits = async (label: string) => {
      const rows: Array<Array<string | number>> = [
        [
          'object',
          'edge req/s',
          'node:http req/s',
          'ratio',
          'edge CPU µs/req',
          'node:http CPU µs/req',
          'CPU ratio',
        ],
      ];
      for (const s of SIZES) {
        const e: LoadResult[] = [];
        const b: LoadResult[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          e.push(await load(`${edge.url}${s.path}`));
          b.push(await load(`${bareUrl}${s.path}`));
        }
        const er = median(e.map((x) => x.rps));
        const br = median(b.map((x) => x.rps));
        const ec = median(e.map((x) => x.cpuPerRequest));
        const bc = median(b.map((x) => x.cpuPerRequest));
        // CPU ratio: bare cost ÷ edge cost, comparable to the req/s ratio on an idle machine.
        rows.push([s.name, er, br, (er / br).toFixed(2), ec, bc, (bc / ec).toFixed(2)]);
      }
      printTable(
        `Cache hits, HTTP/1.1 keep-alive, ${CONNECTIONS} connections, ${label} (median of ${ROUNDS} × ${RUN_SECONDS} s)`,
        rows,
      );
    };
    await hits('fresh');

    // 1,000 concurrent viewers, one cold key, an origin that takes 50 ms.
    const agent = new Agent({ connections: COLD_REQUESTS });
    originRequests = 0;
    const statuses = await Promise.all(
      Array.from({ length: COLD_REQUESTS }, async () => {
        const r = await request(`${edge.url}/t/cold/one`, { dispatcher: agent });
        await r.body.dump();
        return r.statusCode;
      }),
    );
    await agent.close();
    printTable(`Request collapsing: ${COLD_REQUESTS} concurrent requests for one cold key`, [
      ['viewer 200s', 'origin requests'],
      [statuses.filter((s) => s === 200).length, originRequests],
    ]);

    // Miss path: each edge request is a new key; the direct request is the same fetch without the edge.
    const direct: number[] = [];
    const viaEdge: number[] = [];
    for (let i = 0; i < MISS_SAMPLES; i++) {
      let t = performance.now();
      await (await request(`${bareUrl}/t/miss/${i}`)).body.dump();
      direct.push(performance.now() - t);
      t = performance.now();
      await (await request(`${edge.url}/t/miss/${i}`)).body.dump();
      viaEdge.push(performance.now() - t);
    }
    printTable(`Miss path, ${MISS_SAMPLES} sequential cold 1 KiB requests (ms)`, [
      ['', 'direct', 'via edge', 'added'],
      [
        'p50',
        fmt(percentile(direct, 50), 3),
        fmt(percentile(viaEdge, 50), 3),
        fmt(percentile(viaEdge, 50) - percentile(direct, 50), 3),
      ],
      [
        'p99',
        fmt(percentile(direct, 99), 3),
        fmt(percentile(viaEdge, 99), 3),
        fmt(percentile(viaEdge, 99) - percentile(direct, 99), 3),
      ],
    ]);

    if (IDLE_MS > 0) {
      process.stdout.write(`\nidling ${Math.round(IDLE_MS / 1000)} s …\n`);
      await sleep(IDLE_MS);
      await hits(`after ${Math.round(IDLE_MS / 1000)} s idle`);
    }
    try {
      execFileSync('which', ['varnishd'], { stdio: 'ignore' });
      process.stdout.write(
        '\nvarnishd is installed, but a Varnish comparison is not part of this bench yet.\n',
      );
    } catch {
      process.stdout.write('\nVarnish: not installed; no Varnish column.\n');
    }
  } finally {
    await edge.shutdown(1000);
    await new Promise<void>((r) => {
      bare.closeAllConnections();
      bare.close(() => r());
    });
    await rm(dir, { recursive: true, force: true });
  }
}
