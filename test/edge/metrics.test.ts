/**
 * The edge's metrics as an SRE reads them (issue 16 item 2): request duration histograms by
 * class, result, status class and traffic; origin fetch durations; hit ratios of viewer
 * traffic only (the prefetch worker's requests, known by its User-Agent, are labelled apart);
 * and one request id from the viewer's answer through the origin request to the origin's log.
 */
import { Writable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { buildOrigin } from '../../src/app.js';
import { LiveConfig } from '../../src/config/live.js';
import { buildConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { FsDriver } from '../../src/storage/fs.js';
import { tempDir } from '../helpers/origin.js';
import { type CountingOrigin, startCountingOrigin, startTestEdge, type TestEdge } from './helpers.js';

const KEY = 'metrics-key-for-edge-metrics-tests';
const PREFETCH_UA = 'edgewise-prefetch/0.1';
let origin: CountingOrigin | undefined;
let edge: TestEdge | undefined;
const closers: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  await edge?.close();
  await origin?.close();
  for (const c of closers.splice(0).reverse()) await c();
  edge = undefined;
  origin = undefined;
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${edge!.url}${path}`, { headers });
  await res.body.text();
  return res;
}

async function scrape(): Promise<string> {
  const res = await request(`${edge!.url}/_edge/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
  return res.body.text();
}

/** A series' value, its labels matched in any order (`name{a="1",b="2"}`). */
function value(text: string, series: string): number | undefined {
  const norm = (s: string) => {
    const i = s.indexOf('{');
    if (i === -1) return s;
    const labels = s.slice(i + 1, -1).match(/[a-z_]+="[^"]*"/g) ?? [];
    return `${s.slice(0, i)}{${labels.sort().join(',')}}`;
  };
  const want = norm(series);
  for (const line of text.split('\n')) {
    const cut = line.lastIndexOf(' ');
    if (cut > 0 && norm(line.slice(0, cut)) === want) return Number(line.slice(cut + 1));
  }
  return undefined;
}

describe('edge metrics', () => {
  it('histograms by class, result, status class and traffic; hit ratios of viewers only', async () => {
    origin = await startCountingOrigin();
    origin.route('/t/a', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end('aaaa');
    });
    for (const p of ['/t/p1', '/t/p2', '/t/p3'])
      origin.route(p, (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600' });
        res.end('pp');
      });
    edge = await startTestEdge(origin.url, {}, { metricsAccess: { apiKeys: [KEY] } });
    // Viewers: 1 miss, then 3 hits.
    await get('/t/a');
    for (let i = 0; i < 3; i++) await get('/t/a');
    // The prefetch worker: 3 misses that must not lower the viewers' hit ratio.
    for (const p of ['/t/p1', '/t/p2', '/t/p3']) await get(p, { 'user-agent': `${PREFETCH_UA} (+warm)` });

    // The counters are written when the response closes: scrape until all 7 are in.
    let m = '';
    for (let i = 0; i < 200; i++) {
      m = await scrape();
      const seen = (m.match(/^edgewise_edge_requests_total\{[^}]*\} (\d+)/gm) ?? [])
        .map((l) => Number(l.split(' ').pop()))
        .reduce((a, b) => a + b, 0);
      if (seen >= 7) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(value(m, 'edgewise_edge_requests_total{result="Hit",class="test_class",traffic="viewer"}')).toBe(
      3,
    );
    expect(value(m, 'edgewise_edge_requests_total{result="Miss",class="test_class",traffic="viewer"}')).toBe(
      1,
    );
    expect(
      value(m, 'edgewise_edge_requests_total{result="Miss",class="test_class",traffic="prefetch"}'),
    ).toBe(3);
    expect(value(m, 'edgewise_edge_hit_ratio{class="*"}')).toBe(0.75);
    expect(value(m, 'edgewise_edge_hit_ratio{class="test_class"}')).toBe(0.75);
    expect(value(m, 'edgewise_edge_byte_hit_ratio{class="*"}')).toBe(0.75);
    const h = 'edgewise_edge_request_duration_seconds';
    expect(value(m, `${h}_count{class="test_class",result="Hit",status_class="2xx",traffic="viewer"}`)).toBe(
      3,
    );
    expect(
      value(m, `${h}_count{class="test_class",result="Miss",status_class="2xx",traffic="prefetch"}`),
    ).toBe(3);
    expect(
      value(m, `${h}_bucket{le="+Inf",class="test_class",result="Hit",status_class="2xx",traffic="viewer"}`),
    ).toBe(3);
    // Buckets have edges at the KPI thresholds (50 ms, 100 ms, 200 ms, 500 ms).
    for (const le of ['0.05', '0.1', '0.2', '0.5'])
      expect(
        value(
          m,
          `${h}_bucket{le="${le}",class="test_class",result="Hit",status_class="2xx",traffic="viewer"}`,
        ),
      ).toBeDefined();
    const o = 'edgewise_edge_origin_duration_seconds';
    expect(value(m, `${o}_count{kind="fill",class="test_class",outcome="response"}`)).toBe(4);
    expect(value(m, `${o}_sum{kind="fill",class="test_class",outcome="response"}`)).toBeGreaterThan(0);
  });

  it('counts an unreachable origin as an origin fetch that failed', async () => {
    edge = await startTestEdge('http://127.0.0.1:9', {}, { metricsAccess: { apiKeys: [KEY] } });
    expect((await get('/t/x')).statusCode).toBe(502);
    let m = '';
    for (let i = 0; i < 200 && !m.includes('outcome="error"'); i++) m = await scrape();
    expect(
      value(m, 'edgewise_edge_origin_duration_seconds_count{kind="fill",class="test_class",outcome="error"}'),
    ).toBe(1);
    expect(value(m, 'edgewise_edge_requests_total{result="Error",class="test_class",traffic="viewer"}')).toBe(
      1,
    );
  });

  it('sends its request id to the origin as X-Amz-Cf-Id, and the origin logs it as the request id', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const dataDir = await tempDir();
    const config = new LiveConfig(buildConfig({ storage: { driver: 'fs', fs: { dataDir } } }, undefined));
    const storage = new FsDriver({ dataDir });
    await storage.put('t/hello.txt', (await import('node:stream')).Readable.from([Buffer.from('hi')]), {
      contentType: 'text/plain',
    });
    const app = await buildOrigin({
      config,
      storage,
      logger: createLogger({ level: 'info', pretty: false }, sink),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => app.close());
    const addr = app.server.address();
    edge = await startTestEdge(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
    const res = await get('/t/hello.txt');
    expect(res.statusCode).toBe(200);
    const id = String(res.headers['x-amz-cf-id']);
    expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
    const logged = lines.map((l) => JSON.parse(l) as { reqId?: string; msg?: string });
    expect(
      logged.some((l) => l.reqId === id && l.msg === 'request completed'),
      lines.join('\n'),
    ).toBe(true);
    // A viewer cannot choose the id the origin logs: the edge replaces the header.
    const spoofed = await get('/t/other.txt', { 'x-amz-cf-id': 'chosen-by-the-viewer' });
    expect(spoofed.statusCode).toBe(404);
    expect(spoofed.headers['x-amz-cf-id']).not.toBe('chosen-by-the-viewer');
    expect(JSON.stringify(lines)).not.toContain('chosen-by-the-viewer');
  });
});
