import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CountingOrigin, startCountingOrigin, startTestEdge, type TestEdge } from './helpers.js';

let origin: CountingOrigin;
let edge: TestEdge;
const METRICS_KEY = 'metrics-key-for-cache-tests';
const scrape = { authorization: `Bearer ${METRICS_KEY}` };

beforeEach(async () => {
  origin = await startCountingOrigin();
  edge = await startTestEdge(origin.url, {}, { metricsAccess: { apiKeys: [METRICS_KEY] } });
});
afterEach(async () => {
  await edge.close();
  await origin.close();
});

/** The edge's collapsed-waiter count so far. */
async function collapsedWaiters(): Promise<number> {
  const m = await get('/_edge/metrics', scrape);
  return Number(/edgewise_edge_collapsed_waiters_total (\d+)/.exec(m.text)?.[1] ?? 0);
}

/** Waits (bounded) until `n` requests have joined an origin fetch already running. */
async function untilCollapsed(n: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await collapsedWaiters()) >= n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`fewer than ${n} requests joined the fill`);
}

async function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await request(`${edge.url}${path}`, { method: method as 'GET', headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, text: body.toString() };
}

describe('hits and misses', () => {
  it('serves the second request from cache, with X-Cache, Age and Server-Timing', async () => {
    origin.route('/t/a.txt', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=300' });
      res.end('hello');
    });
    const first = await get('/t/a.txt');
    expect(first.status).toBe(200);
    expect(first.text).toBe('hello');
    expect(first.headers['x-cache']).toBe('Miss from edgewise');
    expect(String(first.headers['server-timing'])).toContain('cdn-cache-miss');
    const second = await get('/t/a.txt');
    expect(second.text).toBe('hello');
    expect(second.headers['x-cache']).toBe('Hit from edgewise');
    expect(second.headers.age).toBe('0');
    expect(second.headers['content-length']).toBe('5');
    expect(String(second.headers['server-timing'])).toContain('cdn-cache-hit');
    expect(origin.count('/t/a.txt')).toBe(1);
  });

  it('collapses concurrent cold requests into one origin fetch and streams to all of them', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    origin.route('/t/slow.bin', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60' });
      res.write(Buffer.alloc(1000, 1));
      await gate;
      res.end(Buffer.alloc(1000, 2));
    });
    const all = Promise.all(Array.from({ length: 50 }, () => get('/t/slow.bin')));
    // The origin holds its answer until every other viewer has joined the one fetch.
    await untilCollapsed(49);
    release();
    const results = await all;
    expect(results.every((r) => r.status === 200 && r.body.length === 2000)).toBe(true);
    expect(origin.count('/t/slow.bin')).toBe(1);
    expect(await collapsedWaiters()).toBe(49);
  });

  it('does not share a private response between collapsed viewers', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    origin.route('/t/private', async (_req, res, n) => {
      // The first answer waits until the other four viewers have joined its fetch.
      if (n === 1) await gate;
      res.writeHead(200, { 'cache-control': 'private' });
      res.end(`user-${n}`);
    });
    const all = Promise.all(Array.from({ length: 5 }, () => get('/t/private')));
    await untilCollapsed(4);
    release();
    const results = await all;
    expect(new Set(results.map((r) => r.text)).size).toBe(5);
    expect(origin.count('/t/private')).toBe(5);
  });

  it('keys on allowlisted query strings only and forwards only those', async () => {
    edge.store.current; // config: test_class has no query allowlist
    origin.route('/t/q', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(req.url);
    });
    const a = await get('/t/q?utm=1');
    const b = await get('/t/q?utm=2');
    expect(a.text).toBe('/t/q');
    expect(b.headers['x-cache']).toBe('Hit from edgewise');
    expect(origin.count('/t/q')).toBe(1);
  });

  it('answers conditional and range requests from the cached copy', async () => {
    origin.route('/t/r', (_req, res) => {
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end('0123456789');
    });
    await get('/t/r');
    const nm = await get('/t/r', { 'if-none-match': '"v1"' });
    expect(nm.status).toBe(304);
    expect(nm.headers.etag).toBe('"v1"');
    const part = await get('/t/r', { range: 'bytes=2-4' });
    expect(part.status).toBe(206);
    expect(part.text).toBe('234');
    expect(part.headers['content-range']).toBe('bytes 2-4/10');
    const bad = await get('/t/r', { range: 'bytes=50-60' });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe('bytes */10');
    const stale = await get('/t/r', { range: 'bytes=0-1', 'if-range': '"v0"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(10);
    expect(origin.count('/t/r')).toBe(1);
  });

  it('answers a range on a cold key from the filled object (one origin request)', async () => {
    origin.route('/t/cold-range', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('abcdefghij');
    });
    const part = await get('/t/cold-range', { range: 'bytes=-3' });
    expect(part.status).toBe(206);
    expect(part.text).toBe('hij');
    const full = await get('/t/cold-range');
    expect(full.text).toBe('abcdefghij');
    expect(origin.count('/t/cold-range')).toBe(1);
  });

  it('HEAD on a cached key answers from cache; HEAD on a cold key passes through without storing', async () => {
    origin.route('/t/h', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end('head-body');
    });
    const cold = await get('/t/h', {}, 'HEAD');
    expect(cold.headers['x-cache']).toBe('Miss from edgewise');
    await get('/t/h');
    const warm = await get('/t/h', {}, 'HEAD');
    expect(warm.headers['x-cache']).toBe('Hit from edgewise');
    expect(warm.headers['content-length']).toBe('9');
    expect(warm.body.length).toBe(0);
    expect(origin.count('/t/h')).toBe(2);
  });

  it('only-if-cached probes answer from cache or 504 and never fill', async () => {
    origin.route('/t/p', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('p');
    });
    const cold = await get('/t/p', { 'cache-control': 'only-if-cached' }, 'HEAD');
    expect(cold.status).toBe(504);
    expect(origin.count('/t/p')).toBe(0);
    await get('/t/p');
    const warm = await get('/t/p', { 'cache-control': 'only-if-cached' }, 'HEAD');
    expect(warm.status).toBe(200);
    expect(warm.headers['x-cache']).toBe('Hit from edgewise');
    expect(warm.headers.age).toBeDefined();
    const metrics = await get('/_edge/metrics', scrape);
    expect(metrics.text).toContain('edgewise_edge_probes_total{held="no"} 1');
    expect(metrics.text).toContain('edgewise_edge_probes_total{held="yes"} 1');
  });

  it('never stores Vary: * and keys Vary headers as secondary keys', async () => {
    origin.route('/t/star', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: '*' });
      res.end('x');
    });
    await get('/t/star');
    await get('/t/star');
    expect(origin.count('/t/star')).toBe(2);
    origin.route('/t/lang', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' });
      res.end(String(req.headers['accept-language']));
    });
    expect((await get('/t/lang', { 'accept-language': 'fr' })).text).toBe('fr');
    expect((await get('/t/lang', { 'accept-language': 'de' })).text).toBe('de');
    const fr = await get('/t/lang', { 'accept-language': 'fr' });
    expect(fr.text).toBe('fr');
    expect(fr.headers['x-cache']).toBe('Hit from edgewise');
    expect(origin.count('/t/lang')).toBe(2);
  });

  it('caches 404 for the error caching TTL, and answers 502 with a code when the origin is down', async () => {
    await get('/t/missing');
    const again = await get('/t/missing');
    expect(again.status).toBe(404);
    expect(again.headers['x-cache']).toBe('Error from edgewise');
    expect(origin.count('/t/missing')).toBe(1);
    await origin.close();
    const down = await get('/t/other');
    expect(down.status).toBe(502);
    expect(JSON.parse(down.text).code).toBe('EDGEWISE_EDGE_ORIGIN_UNREACHABLE');
    // Regression (issue 13): the body named the origin's internal address.
    // (The message, not the whole body: `"statusCode":502` is a colon and digits too.)
    expect(JSON.parse(down.text).message).not.toMatch(/\d+\.\d+\.\d+\.\d+|ECONNREFUSED|localhost|:\d{2,5}\b/);
  });
});

describe('unsafe methods', () => {
  it('streams a POST body through and invalidates the URL (RFC 9111 §4.4)', async () => {
    origin.route('/t/doc', async (req, res) => {
      if (req.method === 'POST') {
        let n = 0;
        for await (const c of req) n += (c as Buffer).length;
        res.writeHead(201, { 'content-type': 'text/plain', location: '/t/other-doc' });
        res.end(`got ${n}`);
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('doc');
    });
    await get('/t/doc');
    await get('/t/doc');
    expect(origin.count('/t/doc')).toBe(2 - 1);
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const post = await request(`${edge.url}/t/doc`, { method: 'POST', body });
    expect(post.statusCode).toBe(201);
    expect(await post.body.text()).toBe(`got ${body.length}`);
    const after = await get('/t/doc');
    expect(after.headers['x-cache']).toBe('Miss from edgewise');
    expect(origin.count('/t/doc')).toBe(3);
  });
});

describe('safe methods that pass through', () => {
  it('an OPTIONS (CORS preflight) passes through and invalidates nothing', async () => {
    origin.route('/t/cors', (req, res) => {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'access-control-allow-methods': 'GET, PUT' });
        res.end();
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('cached');
    });
    await get('/t/cors');
    const pre = await get(
      '/t/cors',
      { origin: 'https://shop.example', 'access-control-request-method': 'PUT' },
      'OPTIONS',
    );
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-methods']).toBe('GET, PUT');
    expect((await get('/t/cors')).headers['x-cache']).toBe('Hit from edgewise');
    expect(origin.requests.map((r) => r.method)).toEqual(['GET', 'OPTIONS']);
  });
});

describe('preconditions on a hit follow the origin (src/http/conditional.ts, issue 13)', () => {
  it('answers a failed If-Match or an old If-Unmodified-Since with 412 JSON, not 200 from cache', async () => {
    origin.route('/t/pre.txt', (_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'cache-control': 'max-age=300',
        etag: '"v1"',
        'last-modified': 'Sat, 28 Nov 2026 05:00:00 GMT',
      });
      res.end('hello');
    });
    expect((await get('/t/pre.txt')).status).toBe(200);
    const nope = await get('/t/pre.txt', { 'if-match': '"nope"' });
    expect(nope.status).toBe(412);
    expect(JSON.parse(nope.text).code).toBe('EDGEWISE_PRECONDITION_FAILED');
    const old = await get('/t/pre.txt', { 'if-unmodified-since': 'Fri, 27 Nov 2026 05:00:00 GMT' });
    expect(old.status).toBe(412);
    expect((await get('/t/pre.txt', { 'if-match': '"v1"' })).status).toBe(200);
    expect((await get('/t/pre.txt', { 'if-none-match': 'W/"v1"' })).status).toBe(304);
    expect(origin.count('/t/pre.txt')).toBe(1);
  });
});
