/**
 * Done-when for issue 8, end to end with real processes: `edgewise dev` serves a page and its
 * assets through its edge, a scripted client visits, the edge writes CloudFront logs, the
 * prefetch worker inside dev reads them and warms the edge, and the next visitor — whose
 * browser asks for variants nobody requested before (br + gzip) — is served from cache
 * without a single new request at the origin.
 */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsDriver } from '../../src/storage/fs.js';
import { type DevProcess, startDev } from '../browser/dev-process.js';

const PAGE =
  '<!doctype html><link rel="stylesheet" href="/static/app.css"><script type="module" src="/static/app.js"></script><h1>Shop</h1>';
const URLS = ['/static/index.html', '/static/app.css', '/static/app.js'];

const METRICS_KEY = 'metrics-key-for-dev-e2e';

async function text(url: string): Promise<string> {
  const r = await request(url, { headers: { authorization: `Bearer ${METRICS_KEY}` } });
  return r.body.text();
}

/** Sum of a metric's samples whose labels match `filter`. */
function metric(body: string, name: string, filter: (labels: string) => boolean = () => true): number {
  let sum = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && m[1] === name && filter(m[2] ?? '')) sum += Number(m[3]);
  }
  return sum;
}

/** Requests the origin has served (its own histogram count, leaving out /metrics scrapes). */
async function originRequests(dev: DevProcess): Promise<number> {
  return metric(
    await text(`${dev.originUrl}/metrics`),
    'edgewise_http_request_duration_seconds_count',
    (l) => !l.includes('metrics'),
  );
}

async function visit(dev: DevProcess, acceptEncoding: string): Promise<string[]> {
  const results: string[] = [];
  for (const u of URLS) {
    const r = await request(`${dev.edgeUrl}${u}`, {
      headers: { 'accept-encoding': acceptEncoding, 'user-agent': 'Mozilla/5.0 (e2e)' },
    });
    await r.body.dump();
    expect(r.statusCode, u).toBe(200);
    results.push(String(r.headers['x-cache']));
  }
  return results;
}

describe('edgewise dev with the prefetch worker', () => {
  let dev: DevProcess;
  beforeAll(async () => {
    dev = await startDev({
      // Publish log files every second and let the worker look every second.
      EDGEWISE__EDGE__LOGS__ROTATESECONDS: '1',
      EDGEWISE__EDGE__LOGS__FLUSHINTERVALMS: '50',
      EDGEWISE__PREFETCH__WATCHINTERVALSECONDS: '1',
      EDGEWISE__EDGE__METRICSACCESS__APIKEYS: `[${METRICS_KEY}]`,
      EDGEWISE__SERVER__METRICSACCESS__APIKEYS: `[${METRICS_KEY}]`,
    });
    const fs = new FsDriver({ dataDir: join(dev.dir, 'data') });
    await fs.put('static/index.html', Readable.from([Buffer.from(PAGE)]), {
      contentType: 'text/html; charset=utf-8',
    });
    await fs.close();
  }, 90_000);
  afterAll(async () => {
    await dev?.stop();
  });

  it('warms from the edge logs so the next visit is a hit, counted at the origin', {
    timeout: 120_000,
  }, async () => {
    // First visitor: a client that only speaks gzip. Every request is a miss.
    expect(await visit(dev, 'gzip')).toEqual(URLS.map(() => 'Miss from edgewise'));

    // The worker reads the edge's log and warms 3 objects × 4 encodings; the gzip ones it
    // finds already fresh. Poll the edge's metrics (bounded) until it is done.
    const deadline = Date.now() + 90_000;
    let warmed = 0;
    let fresh = 0;
    while (Date.now() < deadline) {
      const m = await text(`${dev.edgeUrl}/_edge/metrics`);
      warmed = metric(m, 'edgewise_prefetch_requests_total', (l) => l.includes('"warmed"'));
      fresh = metric(m, 'edgewise_prefetch_requests_total', (l) => l.includes('"fresh"'));
      if (warmed >= 9) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(warmed, dev.output()).toBe(9);
    expect(fresh).toBeGreaterThanOrEqual(3);

    // Next visitor: a browser asking for br + gzip, a variant no viewer has requested.
    const before = await originRequests(dev);
    // The first visit's fills and the warming fills were counted there: the counter is live.
    expect(before).toBeGreaterThanOrEqual(3);
    expect(await visit(dev, 'gzip, deflate, br, zstd')).toEqual(URLS.map(() => 'Hit from edgewise'));
    expect(await visit(dev, 'br')).toEqual(URLS.map(() => 'Hit from edgewise'));
    expect(await originRequests(dev)).toBe(before);
  });
});
