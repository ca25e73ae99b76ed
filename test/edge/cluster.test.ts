/**
 * `edgewise edge` with edge.workers = 2 as a real process tree: the workers behave as one
 * cache. A cold key is fetched from the origin once for the whole edge, an entry filled by one
 * worker is a hit in the other, an invalidation has reached every worker when the API answers,
 * metrics are totals, a killed worker is replaced with the others' cache, and both workers'
 * access logs are valid CloudFront log files after a graceful stop.
 *
 * Every request goes on a new connection: the primary hands connections to the workers in
 * turn (round-robin), so consecutive requests land on different workers.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { type CountingOrigin, startCountingOrigin } from './helpers.js';

const KEY = 'k'.repeat(32);
let origin: CountingOrigin;
let dir: string;
let version = 0;

beforeAll(async () => {
  origin = await startCountingOrigin();
  dir = await mkdtemp(join(tmpdir(), 'edgewise-edge-cluster-'));
  // Slow enough that concurrent viewers on both workers arrive while the first fetch runs.
  origin.route('/static/one.txt', (_req, res) => {
    version++;
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' });
      res.end(`v${version}`);
    }, 300);
  });
});
afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

/** One request on its own connection. */
async function get(url: string, init: Parameters<typeof request>[1] = {}) {
  const agent = new Agent({ connections: 1 });
  try {
    const r = await request(url, { ...init, dispatcher: agent });
    return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
  } finally {
    await agent.close();
  }
}

function workerPids(primary: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function metric(text: string, line: string): number {
  const m = text.split('\n').find((l) => l.startsWith(line));
  return m ? Number(m.slice(line.length).trim()) : 0;
}

describe('edgewise edge with two workers', () => {
  it('is one cache: collapse, replication, invalidation, metrics, replacement, logs', async () => {
    const edge = startCli(['edge'], {
      cwd: dir,
      env: {
        EDGEWISE__EDGE__PORT: '0',
        EDGEWISE__EDGE__WORKERS: '2',
        EDGEWISE__EDGE__INVALIDATION__APIKEYS: `[${KEY}]`,
        EDGEWISE__EDGE__METRICSACCESS__APIKEYS: `[${KEY}metrics]`,
        EDGEWISE__ORIGIN__URL: origin.url,
        EDGEWISE__ORIGIN__PROTOCOL: 'http1.1',
      },
    });
    let stopped = false;
    try {
      const line = await edge.waitFor((l) => l.includes('edge listening'));
      const { url, workers } = JSON.parse(line) as { url: string; workers: number };
      expect(workers).toBe(2);
      // The temp folder has no edge-functions/dist: the edge says so instead of running silently.
      await edge.waitFor((l) => l.includes('viewer functions configured but not built'));
      const primary = edge.child.pid!;
      expect(workerPids(primary)).toHaveLength(2);

      // 40 viewers at once, spread over both workers: one origin fetch.
      const first = await Promise.all(Array.from({ length: 40 }, () => get(`${url}/static/one.txt`)));
      expect(first.map((r) => r.body)).toEqual(Array(40).fill('v1'));
      expect(origin.count('/static/one.txt')).toBe(1);

      // Filled by one worker, a hit in both.
      for (let i = 0; i < 6; i++) {
        const r = await get(`${url}/static/one.txt`);
        expect([r.body, r.headers['x-cache']]).toEqual(['v1', 'Hit from edgewise']);
      }
      expect(origin.count('/static/one.txt')).toBe(1);

      // Totals, not one worker's share.
      const m = await get(`${url}/_edge/metrics`, { headers: { authorization: `Bearer ${KEY}metrics` } });
      const series = (result: string) =>
        `edgewise_edge_requests_total{result="${result}",class="static_assets",traffic="viewer"}`;
      const hits = metric(m.body, series('Hit'));
      const misses = metric(m.body, series('Miss'));
      expect(hits + misses).toBe(46);
      // The ratio is recomputed from the summed counters (src/edge/metrics.ts hitRatios).
      expect(metric(m.body, 'edgewise_edge_hit_ratio{class="*"}')).toBeCloseTo(hits / 46, 5);
      expect(hits).toBeGreaterThanOrEqual(6);
      expect(metric(m.body, 'edgewise_edge_workers')).toBe(2);

      // When the API answers, no worker serves the old copy.
      const inv = await get(`${url}/_edge/invalidations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ paths: ['/static/*'] }),
      });
      expect(inv.status).toBe(201);
      for (let i = 0; i < 6; i++) expect((await get(`${url}/static/one.txt`)).body).toBe('v2');
      expect(origin.count('/static/one.txt')).toBe(2);

      // A killed worker is replaced; the replacement starts with the others' cache.
      const [victim, survivor] = workerPids(primary);
      process.kill(victim!, 'SIGKILL');
      await edge.waitFor((l) => l.includes('warming the new worker'));
      let pids: number[] = [];
      for (let i = 0; i < 200 && pids.length < 2; i++) {
        pids = workerPids(primary).filter((p) => p !== victim);
        if (pids.length < 2) await new Promise((r) => setTimeout(r, 50));
      }
      expect(pids).toContain(survivor);
      expect(pids).toHaveLength(2);
      // Once the replacement listens, the primary hands new connections to both workers in
      // turn (get() opens one per request), so both answer hits — and both write log lines.
      await edge.waitFor((l) => l.includes('replacement worker listening'));
      for (let i = 0; i < 6; i++) {
        const r = await get(`${url}/static/one.txt`);
        expect([r.body, r.headers['x-cache']]).toEqual(['v2', 'Hit from edgewise']);
      }
      expect(origin.count('/static/one.txt')).toBe(2);
    } finally {
      if (!stopped) {
        stopped = true;
        expect(await edge.stop('SIGTERM')).toBe(0);
      }
    }
    // Each worker wrote its own CloudFront log files, each with the header lines (the killed
    // worker's unflushed lines are lost with it; the survivor's and the replacement's remain).
    const logDir = join(dir, 'data', 'logs', 'edge');
    const files = readdirSync(logDir).filter((f) => f.endsWith('.gz'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const text = gunzipSync(readFileSync(join(logDir, f))).toString('utf8');
      expect(text.startsWith('#Version: 1.0\n#Fields: date time x-edge-location')).toBe(true);
      expect(text.trim().split('\n').length).toBeGreaterThan(2);
    }
  }, 60_000);
});
