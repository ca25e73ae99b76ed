import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CountingOrigin, startCountingOrigin, startTestEdge, type TestEdge } from './helpers.js';

let origin: CountingOrigin;
let edge: TestEdge;

beforeEach(async () => {
  // Only Date is faked: sockets and timers run for real, cache ages follow the fake clock.
  vi.useFakeTimers({ toFake: ['Date'] });
  origin = await startCountingOrigin();
  edge = await startTestEdge(origin.url);
});
afterEach(async () => {
  vi.useRealTimers();
  await edge.close();
  await origin.close();
});

const advance = (s: number) => vi.setSystemTime(Date.now() + s * 1000);

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${edge.url}${path}`, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

async function until(cond: () => boolean) {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('staleness and revalidation', () => {
  it('revalidates a stale copy with If-None-Match and updates stored headers from the 304', async () => {
    origin.route('/t/v', (req, res, n) => {
      if (req.headers['if-none-match'] === '"e1"') {
        res.writeHead(304, { etag: '"e1"', 'cache-control': 'max-age=60', 'x-version': String(n) });
        res.end();
        return;
      }
      res.writeHead(200, { etag: '"e1"', 'cache-control': 'max-age=60', 'x-version': '1' });
      res.end('body');
    });
    expect((await get('/t/v')).headers['x-version']).toBe('1');
    advance(30);
    const hit = await get('/t/v');
    expect(hit.headers['x-cache']).toBe('Hit from edgewise');
    expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(30);
    advance(31);
    const refreshed = await get('/t/v');
    expect(refreshed.headers['x-cache']).toBe('RefreshHit from edgewise');
    expect(refreshed.text).toBe('body');
    expect(refreshed.headers['x-version']).toBe('2');
    expect(origin.requests[1]?.headers['if-none-match']).toBe('"e1"');
    const after = await get('/t/v');
    expect(after.headers['x-cache']).toBe('Hit from edgewise');
    expect(after.headers['x-version']).toBe('2');
    expect(origin.count('/t/v')).toBe(2);
  });

  it('stale-while-revalidate serves the stale copy and refreshes once in the background', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    origin.route('/t/swr', async (_req, res, n) => {
      if (n === 2) await gate;
      res.writeHead(200, { 'cache-control': 'max-age=10, stale-while-revalidate=60' });
      res.end(`v${n}`);
    });
    await get('/t/swr');
    advance(15);
    const stale = await Promise.all([get('/t/swr'), get('/t/swr'), get('/t/swr')]);
    expect(stale.map((r) => r.text)).toEqual(['v1', 'v1', 'v1']);
    await until(() => origin.count('/t/swr') === 2);
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(origin.count('/t/swr')).toBe(2);
    expect((await get('/t/swr')).text).toBe('v2');
    advance(100);
    // Past the window: a synchronous fetch.
    expect((await get('/t/swr')).text).toBe('v3');
  });

  it('stale-if-error serves the stale copy on 5xx and on an unreachable origin, within the window', async () => {
    let fail = false;
    origin.route('/t/sie', (_req, res) => {
      if (fail) {
        res.writeHead(503);
        res.end('down');
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=10, stale-if-error=100' });
      res.end('good');
    });
    await get('/t/sie');
    advance(20);
    fail = true;
    const on5xx = await get('/t/sie');
    expect(on5xx.status).toBe(200);
    expect(on5xx.text).toBe('good');
    await origin.close();
    const onDown = await get('/t/sie');
    expect(onDown.text).toBe('good');
    advance(200);
    const past = await get('/t/sie');
    expect(past.status).toBe(502);
  });

  it('without stale-if-error an origin 503 reaches the viewer and is cached for the error TTL', async () => {
    origin.route('/t/e', (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('busy');
    });
    expect((await get('/t/e')).status).toBe(503);
    expect((await get('/t/e')).status).toBe(503);
    expect(origin.count('/t/e')).toBe(1);
    advance(11);
    await get('/t/e');
    expect(origin.count('/t/e')).toBe(2);
  });
});

describe('probes and Age', () => {
  it('an only-if-cached probe on a stale copy answers 504 and triggers no refresh', async () => {
    origin.route('/t/probe', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=10, stale-while-revalidate=60' });
      res.end('x');
    });
    await get('/t/probe');
    advance(20);
    const probe = await get('/t/probe', { 'cache-control': 'only-if-cached' });
    expect(probe.status).toBe(504);
    await new Promise((r) => setTimeout(r, 50));
    expect(origin.count('/t/probe')).toBe(1);
  });

  it('passes on the Age the origin sent for a response it just received, and ages it from there', async () => {
    origin.route('/t/aged', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', age: '100' });
      res.end('x');
    });
    expect((await get('/t/aged')).headers.age).toBe('100');
    advance(5);
    expect((await get('/t/aged')).headers.age).toBe('105');
  });
});
