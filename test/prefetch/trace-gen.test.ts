/**
 * The trace generator (src/prefetch/tracegen.ts, `edgewise prefetch trace generate`) and the
 * simulator's reading of CloudFront logs as the worker reads them (src/prefetch/trace.ts).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { newParseStats, parseLog } from '../../src/prefetch/parse.js';
import type { AccessRecord } from '../../src/prefetch/record.js';
import { DirSource } from '../../src/prefetch/sources.js';
import { loadTrace } from '../../src/prefetch/trace.js';
import {
  clientOf,
  type GeneratedRequest,
  generateRequests,
  objectOf,
  pagesOf,
  pathOf,
  TRACEGEN_DEFAULTS,
  type TraceGenOptions,
  writeCloudFrontLogs,
  writeTimeIdSize,
} from '../../src/prefetch/tracegen.js';
import { PrefetchWorker, workerModel } from '../../src/prefetch/worker.js';
import { runCli } from '../helpers/cli.js';
import { gzLog, line33, when } from './log-fixtures.js';

const config = buildConfig({}, undefined).config;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgewise-tracegen-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const opts = (over: Partial<TraceGenOptions> = {}): TraceGenOptions => ({
  ...TRACEGEN_DEFAULTS,
  requests: 20_000,
  objects: 4_000,
  correlated: true,
  clients: 500,
  ...over,
});

async function text(o: TraceGenOptions): Promise<string> {
  let s = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      s += chunk.toString();
      cb();
    },
  });
  await writeTimeIdSize(o, sink);
  return s;
}

/**
 * P(the same client requests an asset of page p within `seconds` after requesting p), over
 * every page request; the page→asset structure the worker's model can learn.
 */
function assetFollows(reqs: GeneratedRequest[], pages: number, seconds: number): number {
  let views = 0;
  let followed = 0;
  for (let i = 0; i < reqs.length; i++) {
    const r = reqs[i]!;
    if (r.id >= pages) continue;
    views++;
    for (let j = i + 1; j < reqs.length && reqs[j]!.time <= r.time + seconds; j++) {
      const q = reqs[j]!;
      if (q.client === r.client && q.id >= pages && objectOf(q.id, pages).page === r.id) {
        followed++;
        break;
      }
    }
  }
  return followed / views;
}

describe('trace generator', () => {
  it('is deterministic by seed: same options and seed, same bytes; another seed, another trace', async () => {
    const a = await text(opts());
    expect(await text(opts())).toBe(a);
    expect(await text(opts({ seed: 7 }))).not.toBe(a);
    const lines = a.trimEnd().split('\n');
    expect(lines).toHaveLength(20_000);
    expect(lines[0]).toMatch(/^0\.000 \d+ \d+$/);
    // One size per object.
    const size = new Map<string, string>();
    for (const l of lines) {
      const [, id, s] = l.split(' ') as [string, string, string];
      expect(size.get(id) ?? s).toBe(s);
      size.set(id, s);
    }
  });

  it('correlated traces have page → asset structure per client; uncorrelated ones do not', () => {
    const pages = pagesOf(opts());
    const corr = [...generateRequests(opts())];
    const unc = [...generateRequests(opts({ correlated: false }))];
    const pc = assetFollows(corr, pages, 5);
    const pu = assetFollows(unc, pages, 5);
    // Every page view but one cut off by the trace's end is followed by its assets.
    expect(pc).toBeGreaterThan(0.99);
    expect(pu).toBeLessThan(0.05);
    // The same catalogue and popularity: the most requested objects mostly coincide.
    const top = (rs: GeneratedRequest[]) => {
      const c = new Map<number, number>();
      for (const r of rs) c.set(r.id, (c.get(r.id) ?? 0) + 1);
      return new Set(
        [...c]
          .sort((x, y) => y[1] - x[1])
          .slice(0, 20)
          .map(([id]) => id),
      );
    };
    const tc = top(corr);
    const overlap = [...top(unc)].filter((id) => tc.has(id)).length;
    expect(overlap).toBeGreaterThanOrEqual(10);
    // Requests at the trace's rate on average (views start at Poisson times), in time order.
    const span = corr.at(-1)!.time;
    expect(span).toBeGreaterThan((0.9 * 20_000) / TRACEGEN_DEFAULTS.rate);
    expect(span).toBeLessThan((1.1 * 20_000) / TRACEGEN_DEFAULTS.rate);
    for (let i = 1; i < corr.length; i++) expect(corr[i]!.time).toBeGreaterThanOrEqual(corr[i - 1]!.time);
    // Browser timing: an asset comes after its page by a parse delay (tens to hundreds of ms),
    // and other clients' requests come in between.
    const gaps: number[] = [];
    let interleaved = 0;
    for (let i = 0; i < corr.length && gaps.length < 2000; i++) {
      const r = corr[i]!;
      if (objectOf(r.id, pages).asset !== undefined) continue;
      const j = corr.findIndex((x, k) => k > i && x.client === r.client && x.id === pages + r.id * 4);
      if (j < 0) continue;
      gaps.push(corr[j]!.time - r.time);
      if (corr.slice(i + 1, j).some((x) => x.client !== r.client)) interleaved++;
    }
    gaps.sort((a, b) => a - b);
    const median = gaps[gaps.length >> 1]!;
    expect(median).toBeGreaterThan(0.07);
    expect(median).toBeLessThan(0.14);
    expect(interleaved / gaps.length).toBeGreaterThan(0.9);
  });

  it('CloudFront log output round-trips through the parser the worker uses', async () => {
    const out = join(dir, 'cf');
    const o = opts({ requests: 3_000, rate: 1 }); // 3,000 s: the trace spans a UTC hour boundary
    const { files, requests } = await writeCloudFrontLogs(o, out);
    expect(requests).toBe(3_000);
    expect(files).toHaveLength(1);
    const o2 = opts({ requests: 5_000, rate: 1 });
    const two = await writeCloudFrontLogs(o2, join(dir, 'cf2'));
    expect(two.files).toEqual([
      'EGENERATED0001.2026-01-01-00.0000002a.gz',
      'EGENERATED0001.2026-01-01-01.0000002a.gz',
    ]);
    // Read as the worker reads its log directory: DirSource + parseLog.
    const source = new DirSource(join(dir, 'cf2'), '');
    const stats = newParseStats();
    const records: AccessRecord[] = [];
    for await (const f of source.list())
      for await (const r of parseLog(await source.open(f.name), f.name, stats)) records.push(r);
    expect(stats.malformed).toBe(0);
    const want = [...generateRequests(o2)];
    expect(records).toHaveLength(want.length);
    const pages = pagesOf(o2);
    for (let i = 0; i < want.length; i += 97) {
      const w = want[i]!;
      const r = records[i]!;
      // Logs carry whole seconds (the generator's times are not).
      expect(r.time).toBe(Date.UTC(2026, 0, 1) + Math.floor(Math.round(w.time * 1000) / 1000) * 1000);
      expect(r.path).toBe(pathOf(w.id, pages));
      expect(r.bytes).toBe(w.size);
      expect(r.status).toBe(200);
      expect(r.method).toBe('GET');
      expect(r.clientIp).toBe(clientOf(w.client).ip);
      expect(r.userAgent).toBe(clientOf(w.client).userAgent);
    }
    // And simulate's loader reads the directory with its clients.
    const t = await loadTrace(join(dir, 'cf2'), { config });
    expect(t.n).toBe(5_000);
    expect(t.format).toBe('cloudfront');
    expect(t.clientCount).toBe(new Set(want.map((w) => w.client)).size);
    expect(t.keys[t.ids[0]!]).toBe(pathOf(want[0]!.id, pages));
  });
});

describe('simulate reads CloudFront logs as the worker does', () => {
  const t0 = Date.UTC(2026, 10, 28, 4, 0, 0);
  const at = (s: number) => when(t0 + s * 1000);
  const A = { 'c-ip': '192.0.2.1', 'cs(User-Agent)': 'Browser%20A' };
  const B = { 'c-ip': '192.0.2.2', 'cs(User-Agent)': 'Browser%20B' };
  const lines = [
    // Two clients interleaved: A reads a page and its asset, B two other objects.
    line33({ ...at(0), ...A, 'cs-uri-stem': '/index.html', 'sc-content-len': '5000' }),
    line33({ ...at(0), ...B, 'cs-uri-stem': '/other.css', 'sc-content-len': '700' }),
    line33({
      ...at(1),
      ...A,
      'cs-uri-stem': '/app.js',
      'cs-uri-query': 'utm_source=x',
      'sc-content-len': '900',
    }),
    line33({ ...at(1), ...B, 'cs-uri-stem': '/logo.png', 'sc-content-len': '800' }),
    // What the worker does not learn from: its own warming, a POST, a 404.
    line33({
      ...at(2),
      'cs(User-Agent)': encodeURIComponent(`${config.prefetch.userAgent}/1`),
      'cs-uri-stem': '/warm.js',
    }),
    line33({ ...at(2), ...A, 'cs-method': 'POST', 'cs-uri-stem': '/api' }),
    line33({ ...at(2), ...A, 'cs-uri-stem': '/gone', 'sc-status': '404' }),
    // A 304 for the page: an empty body in the log, the object's size in the trace.
    line33({
      ...at(3),
      ...B,
      'cs-uri-stem': '/index.html',
      'sc-status': '304',
      'sc-content-len': '0',
      'sc-bytes': '200',
    }),
    line33({ ...at(4), ...B, 'cs-uri-stem': '/app.js', 'sc-content-len': '900' }),
    line33({ ...at(4), ...A, 'cs-uri-stem': '/index.html', 'sc-content-len': '5000' }),
    line33({ ...at(5), ...A, 'cs-uri-stem': '/app.js', 'sc-content-len': '900' }),
  ];

  it('drops its own warming, replays but does not learn POSTs and 404s, keys as the worker keys, sizes a 304 as its object', async () => {
    const f = join(dir, 'worker-like.gz');
    await writeFile(f, gzLog(lines));
    const t = await loadTrace(f, { config });
    expect(t.n).toBe(10);
    expect(t.skipped).toBe(1);
    expect(t.clientCount).toBe(2);
    const keys = Array.from(t.ids, (id) => t.keys[id]!);
    expect(keys).not.toContain('/warm.js');
    const notLearned = keys.filter((_, i) => t.learn![i] === 0);
    expect(notLearned.sort()).toEqual(['/api', '/gone']);
    // The class keeps no query string: the worker's key, and the edge's cache key, drop it.
    expect(keys).not.toContain('/app.js?utm_source=x');
    const i304 = keys.indexOf('/index.html', 1);
    expect(t.sizes[i304]).toBe(5000);
    // Without a config every record counts (the old reading).
    const raw = await loadTrace(f);
    expect(raw.n).toBe(11);
    expect(raw.learn!.every((l) => l === 1)).toBe(true);
  });

  it("the simulator's model learns the same keys, counts and successors as the worker's", async () => {
    const f = join(dir, 'worker-model.gz');
    await writeFile(f, gzLog(lines));
    const worker = new PrefetchWorker({
      config: () => config,
      source: new DirSource(dir, 'none'),
      stateFile: join(dir, 'state.json'),
    });
    const stats = newParseStats();
    for await (const r of parseLog(createReadStream(f), f, stats)) worker.learn(r);
    // As simulate.ts feeds the model: interned key, client index, time in ms, size.
    const t = await loadTrace(f, { config });
    const sim = workerModel(config);
    const everything = workerModel(config);
    for (let i = 0; i < t.n; i++) {
      const args = [t.keys[t.ids[i]!]!, String(t.clients[i]!), t.times[i]!, t.sizes[i]!] as const;
      if (t.learn![i] !== 0) sim.observe(...args);
      everything.observe(...args);
    }
    const shape = (m: ReturnType<typeof workerModel>) =>
      m
        .snapshot()
        .keys.map(([key, , lastSeen, , requests, , succ]) => [key, lastSeen, requests, succ])
        .sort();
    expect(shape(sim)).toEqual(shape(worker.model));
    // Fed every request, the model would learn what the worker does not (the POST, the 404).
    expect(shape(everything)).not.toEqual(shape(worker.model));
    // Successors are per client: /index.html → /app.js (A, then B after its 304), never B's /other.css.
    const succ = Object.fromEntries(shape(sim).map(([k, , , s]) => [k, s]));
    expect((succ['/index.html'] as Array<[string, number]>).map(([k]) => k)).toEqual(['/app.js']);
  });
});

describe('edgewise prefetch trace generate (CLI)', () => {
  it('writes the same trace to stdout and to --out, and CloudFront files to a directory', async () => {
    const args = ['prefetch', 'trace', 'generate', '--requests', '500', '--objects', '200', '--seed', '9'];
    const a = await runCli(args);
    expect(a.code).toBe(0);
    const f = join(dir, 'cli.trace');
    const b = await runCli([...args, '--out', f]);
    expect(b.code).toBe(0);
    expect(await readFile(f, 'utf8')).toBe(a.stdout);
    expect(a.stdout.trimEnd().split('\n')).toHaveLength(500);
    const d = join(dir, 'cli-cf');
    const c = await runCli([...args, '--format', 'cloudfront', '--out', d, '--kind', 'uncorrelated']);
    expect(c.code).toBe(0);
    expect(await readdir(d)).toHaveLength(1);
    const sim = await runCli(['prefetch', 'simulate', '--trace', d, '--cache-size', '5%']);
    expect(sim.code, sim.stderr).toBe(0);
    expect(sim.stdout).toMatch(/500 requests, .* \(cloudfront, [\d,]+ clients\)$/m);
  });

  it('writes logs the worker reads: `prefetch run --dry-run` learns every generated request', async () => {
    const logs = join(dir, 'worker-logs');
    const hourAgo = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000).toISOString();
    const g = await runCli([
      ...['prefetch', 'trace', 'generate', '--requests', '400', '--objects', '100'],
      ...['--format', 'cloudfront', '--out', join(logs, 'edge'), '--start', hourAgo],
    ]);
    expect(g.code, g.stderr).toBe(0);
    const r = await runCli(
      ['prefetch', 'run', '--dry-run', '--json', '--state', join(dir, 'run-state.json')],
      {
        env: { EDGEWISE__PREFETCH__LOGS__DIR: logs },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const pass = JSON.parse(r.stdout) as {
      files: { read: number };
      records: { learned: number };
      modelKeys: number;
    };
    expect(pass.files.read).toBe(1);
    expect(pass.records.learned).toBe(400);
    expect(pass.modelKeys).toBeGreaterThan(10);
  });

  it.each([
    [[], /--requests <n> is required/],
    [['--requests', '10'], /--objects <n> is required/],
    [['--requests', '0', '--objects', '5'], /--requests must be an integer >= 1, got 0/],
    [['--requests', '1.5', '--objects', '5'], /--requests must be an integer >= 1, got 1.5/],
    [['--requests', '10', '--objects', '5', '--kind', 'zipf'], /--kind must be correlated or uncorrelated/],
    [['--requests', '10', '--objects', '5', '--format', 'csv'], /--format must be trace or cloudfront/],
    [
      ['--requests', '10', '--objects', '5', '--format', 'cloudfront'],
      /--format cloudfront needs --out <dir>/,
    ],
    [['--requests', '10', '--objects', '5', '--rate', '0'], /--rate must be a number > 0/],
    [['--requests', '10', '--objects', '5', '--seed=-1'], /--seed must be an integer >= 0/],
    [['--requests', '10', '--objects', '5', '--bogus'], /Unknown option '--bogus'/],
    [
      ['--requests', '10', '--objects', '5', '--format', 'cloudfront', '--out', 'x', '--start', 'yesterday'],
      /--start must be an ISO 8601 time/,
    ],
    [
      ['--requests', '10', '--objects', '5', '--start', '2026-12-07T00:00:00Z'],
      /--start applies to --format cloudfront only/,
    ],
  ])('%j → exit 2 with a clear message', async (args, message) => {
    const r = await runCli(['prefetch', 'trace', 'generate', ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
