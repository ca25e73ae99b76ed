/**
 * The edge applies each path's CloudFront behavior as the plan writes it (src/cloudfront/methods.ts):
 * AllowedMethods (other methods are CloudFront's 403, never forwarded), and the upload paths'
 * own behaviors (all methods, no functions, nothing cached).
 */
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/cloudfront/plan.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';
import { useCountingOriginAndEdge } from './helpers.js';

const { setup } = useCountingOriginAndEdge();
const shipped = {
  classes: DEFAULT_CLASSES,
  defaultClass: 'static_assets',
  cloudfront: { allowAllMethods: ['api_responses'] },
};

async function send(url: string, method: string) {
  const res = await fetch(url, { method, ...(method === 'POST' || method === 'PUT' ? { body: 'x' } : {}) });
  return { status: res.status, body: await res.text(), cache: res.headers.get('x-cache') };
}

describe('behaviors at the edge', () => {
  it('methods outside the behavior AllowedMethods are 403 at the edge and never reach the origin', async () => {
    const { origin, edge } = await setup(shipped);
    for (const p of ['/static/a.css', '/u/1/a.txt', '/api/x'])
      origin.route(p, (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end('ok');
      });
    const plan = buildPlan(edge.store.current);
    const allowed = (path: string) => {
      const b = plan.distributionConfig.CacheBehaviors?.Items?.find((x) =>
        new RegExp(`^${(x.PathPattern ?? '').replace(/\*/g, '.*')}$`).test(path),
      );
      return (b ?? plan.distributionConfig.DefaultCacheBehavior)?.AllowedMethods?.Items ?? [];
    };
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await send(`${edge.url}/static/a.css`, method);
      expect({ method, status: r.status, code: JSON.parse(r.body).code }).toEqual({
        method,
        status: 403,
        code: 'EDGEWISE_EDGE_METHOD_FORBIDDEN',
      });
      expect(allowed('/static/a.css')).not.toContain(method);
    }
    expect(origin.count('/static/a.css')).toBe(0);
    // The API class is in cloudfront.allowAllMethods: POST goes through, as its behavior allows.
    expect(allowed('/api/x')).toContain('POST');
    expect((await send(`${edge.url}/api/x`, 'POST')).status).toBe(200);
    expect(origin.count('/api/x')).toBe(1);
  });

  it('upload paths pass every method through and are never cached', async () => {
    const { origin, edge } = await setup(shipped);
    origin.route('/upload-urls', (_req, res) => {
      // Even an answer that says it may be cached: a grant is for one viewer.
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=600' });
      res.end('{"url":"signed"}');
    });
    origin.route('/uploads/a.txt', (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{}');
    });
    for (let i = 0; i < 2; i++) {
      const r = await send(`${edge.url}/upload-urls`, 'GET');
      expect([r.status, r.cache]).toEqual([200, 'Miss from edgewise']);
    }
    expect(origin.count('/upload-urls')).toBe(2);
    expect((await send(`${edge.url}/uploads/a.txt`, 'PUT')).status).toBe(201);
    expect(origin.count('/uploads/a.txt')).toBe(1);
  });
});

describe('the upload demo', () => {
  it('its signing endpoint is a behavior like the upload paths while dev.demoUploads is on, in the plan and at the edge', async () => {
    const { origin, edge } = await setup({
      ...shipped,
      dev: { demoUploads: true },
      uploads: { signing: { secrets: [{ id: 't', secret: 'a'.repeat(64) }] } },
    });
    origin.route('/_dev/upload-urls', (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end('{}');
    });
    expect((await send(`${edge.url}/_dev/upload-urls`, 'POST')).status).toBe(201);
    const patterns = buildPlan(edge.store.current).distributionConfig.CacheBehaviors?.Items?.map(
      (b) => b.PathPattern,
    );
    expect(patterns).toContain('/_dev/*');
    const { edge: off } = await setup(shipped);
    expect((await send(`${off.url}/_dev/upload-urls`, 'POST')).status).toBe(403);
    expect(
      buildPlan(off.store.current).distributionConfig.CacheBehaviors?.Items?.map((b) => b.PathPattern),
    ).not.toContain('/_dev/*');
  });
});
