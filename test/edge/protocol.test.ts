import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { FunctionError } from '../../src/errors.js';
import { type TestEdge, testClass, useCountingOriginAndEdge } from './helpers.js';

const { setup, cleanup } = useCountingOriginAndEdge();

async function get(edge: TestEdge, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await request(`${edge.url}${path}`, { method: method as 'GET', headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

describe('viewer protocol policy', () => {
  it('redirects http to https (301), forbids https-only (403), when the scheme is known', async () => {
    const { origin, edge } = await setup(
      {
        classes: [
          testClass({
            name: 'redirected',
            pathPatterns: ['/r/*'],
            viewerProtocolPolicy: 'redirect-to-https',
          }),
          testClass({ name: 'strict', pathPatterns: ['/s/*'], viewerProtocolPolicy: 'https-only' }),
          testClass(),
        ],
      },
      { trustForwardedProto: true },
    );
    origin.route('/r/a', (_req, res) => {
      res.end('a');
    });
    const redirect = await get(edge, '/r/a?x=1', { 'x-forwarded-proto': 'http', host: 'shop.example' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('https://shop.example/r/a?x=1');
    expect(redirect.headers['x-cache']).toBe('Redirect from edgewise');
    const post = await get(edge, '/r/a', { 'x-forwarded-proto': 'http' }, 'POST');
    expect(post.status).toBe(403);
    const strict = await get(edge, '/s/a', { 'x-forwarded-proto': 'http' });
    expect(JSON.parse(strict.text).code).toBe('EDGEWISE_EDGE_HTTPS_REQUIRED');
    const ok = await get(edge, '/r/a', { 'x-forwarded-proto': 'https' });
    expect(ok.status).toBe(200);
    expect(origin.count()).toBe(1);
  });
});

describe('origin failures and bad input', () => {
  it('answers 504 with a code when the origin does not answer in time', async () => {
    const { origin, edge } = await setup({ origin: { responseTimeoutMs: 1000 } });
    origin.route('/t/hang', () => {});
    const r = await get(edge, '/t/hang');
    expect(r.status).toBe(504);
    expect(JSON.parse(r.text).code).toBe('EDGEWISE_EDGE_ORIGIN_TIMEOUT');
  });

  it('answers a function that throws with 503 EDGEWISE_FUNCTION_ERROR, never a 500', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-fns-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'viewer-request.js'), 'function handler(event) { throw new Error("boom"); }');
    const { origin, edge } = await setup({}, { functions: { dir } });
    const r = await get(edge, '/t/x');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text).code).toBe('EDGEWISE_FUNCTION_ERROR');
    expect(JSON.parse(r.text).message).toBe(new FunctionError('boom').message);
    expect(origin.count()).toBe(0);
  });

  it('rejects oversized and malformed invalidation bodies with 400', async () => {
    const key = 'k'.repeat(20);
    const { edge } = await setup({}, { invalidation: { apiKeys: [key] } });
    const post = async (body: string) => {
      const r = await request(`${edge.url}/_edge/invalidations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
        body,
      });
      return { status: r.statusCode, body: (await r.body.json()) as { code: string } };
    };
    expect(await post('not json')).toMatchObject({
      status: 400,
      body: { code: 'EDGEWISE_EDGE_BAD_INVALIDATION' },
    });
    expect(await post(JSON.stringify({ paths: [] }))).toMatchObject({ status: 400 });
    expect(await post(JSON.stringify({ paths: ['no-slash'] }))).toMatchObject({ status: 400 });
    expect(
      await post(JSON.stringify({ paths: Array.from({ length: 3001 }, (_, i) => `/p${i}`) })),
    ).toMatchObject({
      status: 400,
    });
    expect(await post('x'.repeat(1024 * 1024 + 10))).toMatchObject({ status: 400 });
  });
});

describe('HTTP/2', () => {
  it('serves cleartext HTTP/2 (h2c) with the same cache', async () => {
    const { origin, edge } = await setup({}, { h2c: true });
    origin.route('/t/h2', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('over h2');
    });
    const session = connect(edge.url);
    cleanup.push(async () => session.close());
    const fetchH2 = () =>
      new Promise<{ status: number; xcache: string; body: string }>((resolve, reject) => {
        const s = session.request({ ':path': '/t/h2' });
        let body = '';
        let status = 0;
        let xcache = '';
        s.on('response', (h) => {
          status = Number(h[':status']);
          xcache = String(h['x-cache']);
        });
        s.setEncoding('utf8');
        s.on('data', (d: string) => {
          body += d;
        });
        s.on('end', () => resolve({ status, xcache, body }));
        s.on('error', reject);
      });
    expect(await fetchH2()).toEqual({ status: 200, xcache: 'Miss from edgewise', body: 'over h2' });
    expect(await fetchH2()).toEqual({ status: 200, xcache: 'Hit from edgewise', body: 'over h2' });
    expect(origin.count('/t/h2')).toBe(1);
  });
});

describe('objects over the cacheable size', () => {
  it('streams a body that outgrows maxObjectBytes to every viewer and does not cache it', async () => {
    const { origin, edge } = await setup({}, { cache: { maxObjectBytes: 2048, diskThresholdBytes: 1024 } });
    origin.route('/t/stream', async (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      for (let i = 0; i < 5; i++) {
        res.write(Buffer.alloc(1000, 97 + i));
        await new Promise((r) => setTimeout(r, 20));
      }
      res.end();
    });
    const all = await Promise.all([get(edge, '/t/stream'), get(edge, '/t/stream'), get(edge, '/t/stream')]);
    for (const r of all) expect(r.text.length).toBe(5000);
    const before = origin.count('/t/stream');
    const again = await get(edge, '/t/stream');
    expect(again.text.length).toBe(5000);
    expect(origin.count('/t/stream')).toBe(before + 1);
  });
});
