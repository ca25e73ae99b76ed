/**
 * The edge's metrics are not public (issue 13, "Also answer"): its own at edge.metricsPath and
 * the origin's /metrics reached through the edge need a key from edge.metricsAccess.apiKeys or
 * a client address in edge.metricsAccess.allowIps; anyone else gets the catalogue's 401 and the
 * origin is never asked. The origin guards its own /metrics the same way (server.metricsAccess),
 * since CloudFront forwards /metrics like any path. Regression: on main at d13c139 all three
 * answered 200 to anyone.
 */
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { buildFunctions } from '../../src/cloudfront/build.js';
import { buildPlan } from '../../src/cloudfront/plan.js';
import { allowList, bearerMatches, metricsGuard } from '../../src/http/operator-access.js';
import { CloudFrontModel } from '../differential/cloudfront-model.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import { rawRequest } from '../helpers/raw-request.js';
import { startTestEdge, type TestEdge, useCountingOriginAndEdge } from './helpers.js';

const { setup } = useCountingOriginAndEdge();
const KEY = 'scrape-key-0123456789abcdef';
const INVALIDATE_KEY = 'invalidate-key-0123456789';
/** The Accept header Prometheus 2.x/3.x sends on a scrape. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.1';

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

/** A scrape as Prometheus makes it (scrape_config `authorization: {credentials: <key>}`). */
const scrape = (url: string, key?: string) =>
  get(url, {
    accept: PROMETHEUS_ACCEPT,
    'user-agent': 'Prometheus/3.0.0',
    ...(key ? { authorization: `Bearer ${key}` } : {}),
  });

/** Every sample line of the text exposition format 0.0.4 (`name{labels} value`). */
function samples(text: string): string[] {
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  // Values are Go ParseFloat numbers (NaN and Inf in any case; prom-client writes `Nan`).
  for (const l of lines)
    expect(l).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? ([-+]?[0-9.e+-]+|[-+]?inf|nan)$/i);
  return lines;
}

function expectRefused(r: { status: number; headers: Record<string, unknown>; text: string }, what: string) {
  expect(r.status, what).toBe(401);
  expect(r.headers['www-authenticate'], what).toBe('Bearer realm="edgewise-edge"');
  expect(r.headers['cache-control'], what).toBe('no-store');
  expect(JSON.parse(r.text), what).toEqual({
    statusCode: 401,
    code: 'EDGEWISE_UNAUTHORIZED',
    message: 'Missing or wrong API key',
  });
}

describe('edge metrics access', () => {
  it('refuses the edge metrics and the origin /metrics by default (no keys, no addresses), without asking the origin', async () => {
    const { origin, edge } = await setup();
    origin.route('/metrics', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end('origin_metric 1\n');
    });
    for (const path of ['/_edge/metrics', '/metrics']) {
      expectRefused(await get(`${edge.url}${path}`), path);
      expectRefused(await get(`${edge.url}${path}`, { authorization: 'Bearer nope-nope-nope-nope' }), path);
      expectRefused(await get(`${edge.url}${path}`, { 'x-forwarded-for': '127.0.0.1' }), path);
    }
    // Other spellings of /metrics never reach the origin either: they are not canonical (400).
    for (const path of ['/%6detrics', '//metrics', '/metrics;x']) {
      const r = await get(`${edge.url}${path}`);
      expect(r.status, path).toBe(400);
    }
    expect(origin.count('/metrics')).toBe(0);
  });

  it('lets a Prometheus scrape with a metrics key read both; the invalidation key is not a metrics key', async () => {
    const { origin, edge } = await setup(
      {},
      { metricsAccess: { apiKeys: [KEY] }, invalidation: { apiKeys: [INVALIDATE_KEY] } },
    );
    origin.route('/metrics', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'cache-control': 'no-store' });
      res.end('origin_metric 1\n');
    });
    const own = await scrape(`${edge.url}/_edge/metrics`, KEY);
    expect(own.status).toBe(200);
    expect(own.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(samples(own.text).some((l) => l.startsWith('edgewise_edge_hit_ratio'))).toBe(true);
    const through = await scrape(`${edge.url}/metrics`, KEY);
    expect(through.status).toBe(200);
    expect(through.text).toBe('origin_metric 1\n');
    expect(origin.count('/metrics')).toBe(1);
    // no-store at the origin: the next anonymous caller is refused, not served a stored copy.
    expectRefused(await scrape(`${edge.url}/metrics`), 'anonymous after a scrape');
    expectRefused(await scrape(`${edge.url}/_edge/metrics`, INVALIDATE_KEY), 'invalidation key');
    expect(origin.count('/metrics')).toBe(1);
    // The metrics key does not open the invalidation API.
    const inv = await request(`${edge.url}/_edge/invalidations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ paths: ['/t/x'] }),
    });
    expect(inv.statusCode).toBe(401);
    await inv.body.text();
  });

  it('lets an allowed client address in without a key, and nobody else', async () => {
    const open = await setup({}, { metricsAccess: { allowIps: ['127.0.0.0/8'] } });
    expect((await scrape(`${open.edge.url}/_edge/metrics`)).status).toBe(200);
    const closed = await setup({}, { metricsAccess: { allowIps: ['10.0.0.0/8', '::1'] } });
    expectRefused(await scrape(`${closed.edge.url}/_edge/metrics`), 'loopback not listed');
  });

  describe('through the real edgewise origin', () => {
    let origin: TestOrigin | undefined;
    let edge: TestEdge | undefined;
    afterEach(async () => {
      await edge?.close();
      await origin?.close();
    });

    it("refuses the origin's /metrics at the edge and at the origin; one key opens both layers", async () => {
      origin = await startTestOrigin({ server: { metricsAccess: { apiKeys: [KEY] } } });
      edge = await startTestEdge(origin.url, {}, { metricsAccess: { apiKeys: [KEY] } });
      expectRefused(await scrape(`${edge.url}/metrics`), 'through the edge, anonymous');
      const r = await scrape(`${edge.url}/metrics`, KEY);
      expect(r.status).toBe(200);
      expect(samples(r.text).length).toBeGreaterThan(0);
      expect(r.text).toContain('# TYPE edgewise_http_request_duration_seconds histogram');
      // What CloudFront would forward (it has no rule for /metrics): the origin decides itself.
      const direct = await scrape(`${origin.url}/metrics`);
      expect(direct.status).toBe(401);
      expect(direct.headers['www-authenticate']).toBe('Bearer realm="edgewise-origin"');
      expect(direct.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(direct.text)).toMatchObject({ statusCode: 401, code: 'EDGEWISE_UNAUTHORIZED' });
      expect((await scrape(`${origin.url}/metrics`, `${KEY}x`)).status).toBe(401);
      expect((await scrape(`${origin.url}/metrics`, KEY)).status).toBe(200);
    });

    it('anonymous /metrics is 401 at the origin, through the edge and through CloudFront (the model of test/differential)', async () => {
      origin = await startTestOrigin({ server: { metricsAccess: { apiKeys: [KEY] } } });
      edge = await startTestEdge(origin.url, {}, { metricsAccess: { apiKeys: [KEY] } });
      const cfg = edge.store.current;
      const cloudfront = new CloudFrontModel(cfg, buildPlan(cfg), buildFunctions(cfg), origin.url);
      const cases: Array<Record<string, string>> = [
        {},
        { 'x-forwarded-for': '127.0.0.1' },
        { authorization: 'Bearer nope-nope-nope-nope' },
      ];
      for (const headers of cases) {
        const what = JSON.stringify(headers);
        const o = await rawRequest(origin.url, '/metrics', { headers });
        const e = await rawRequest(edge.url, '/metrics', { headers });
        const c = await cloudfront.send('GET', '/metrics', headers);
        expect([o.status, e.status, c.status], what).toEqual([401, 401, 401]);
        for (const body of [o.body, e.body, c.body])
          expect(JSON.parse(body.toString()), what).toMatchObject({ code: 'EDGEWISE_UNAUTHORIZED' });
        expect(c.by, what).toBe('origin');
      }
      // With the key: CloudFront forwards Authorization only where a policy names it, and the
      // default behavior's does not, so the key opens the origin directly and through the local
      // edge (which forwards viewer headers) but not through CloudFront: closed, never open.
      const key = { authorization: `Bearer ${KEY}` };
      expect((await rawRequest(origin.url, '/metrics', { headers: key })).status).toBe(200);
      expect((await rawRequest(edge.url, '/metrics', { headers: key })).status).toBe(200);
      expect((await cloudfront.send('GET', '/metrics', key)).status).toBe(401);
    });

    it('the origin closes its /metrics by default, and opens it to listed addresses', async () => {
      origin = await startTestOrigin();
      expect((await scrape(`${origin.url}/metrics`)).status).toBe(401);
      await origin.close();
      origin = await startTestOrigin({ server: { metricsAccess: { allowIps: ['127.0.0.0/8'] } } });
      expect((await scrape(`${origin.url}/metrics`)).status).toBe(200);
    });

    it('an allowIps entry that is not an address is invalid config, with its path', async () => {
      await expect(
        startTestOrigin({ server: { metricsAccess: { allowIps: ['10.0.0.0/40'] } } }),
      ).rejects.toThrow(/server\.metricsAccess\.allowIps\[0\]/);
    });
  });
});

describe('metricsGuard', () => {
  it('matches addresses, CIDR ranges and IPv4-mapped IPv6 peers, and bearer keys', () => {
    const guard = metricsGuard(() => ({ apiKeys: [KEY], allowIps: ['192.0.2.0/24', '2001:db8::/32'] }));
    expect(guard({ authorization: undefined, remoteAddress: '192.0.2.7' })).toBeUndefined();
    expect(guard({ authorization: undefined, remoteAddress: '::ffff:192.0.2.7' })).toBeUndefined();
    expect(guard({ authorization: undefined, remoteAddress: '2001:db8::1' })).toBeUndefined();
    expect(guard({ authorization: undefined, remoteAddress: '198.51.100.1' })?.statusCode).toBe(401);
    expect(guard({ authorization: `bearer ${KEY}`, remoteAddress: '198.51.100.1' })).toBeUndefined();
    expect(guard({ authorization: `Basic ${KEY}`, remoteAddress: '198.51.100.1' })?.statusCode).toBe(401);
    expect(guard({ authorization: `Bearer ${KEY}x`, remoteAddress: undefined })?.statusCode).toBe(401);
  });

  it('bearerMatches is the check the invalidation API uses too', () => {
    expect(bearerMatches(`Bearer ${KEY}`, [INVALIDATE_KEY, KEY])).toBe(true);
    expect(bearerMatches(`Bearer ${KEY.slice(0, -1)}`, [KEY])).toBe(false);
    expect(bearerMatches(undefined, [KEY])).toBe(false);
    expect(bearerMatches(`Bearer ${KEY}`, [])).toBe(false);
  });

  it('refuses entries that are not addresses or ranges', () => {
    expect(() => allowList(['not-an-ip'])).toThrow(/not an IP/);
    expect(() => allowList(['10.0.0.0/33'])).toThrow(/prefix length/);
    expect(() => allowList(['10.0.0.0/x'])).toThrow(/prefix length/);
  });
});
