/**
 * CORS over real sockets: preflights granted and refused (origin, method, header), the
 * headers on actual responses including coded errors, the dev demo's loopback rule, config
 * validation, and the same headers surviving the local edge.
 */

import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildConfig, ConfigError } from '../../src/config/load.js';
import { startTestEdge, type TestEdge } from '../edge/helpers.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';

const SHOP = 'https://shop.example.com';
const API_KEY = 'test-api-key-0123456789abcdef';
const SECRET = { id: 'k1', secret: 'a-test-secret-of-at-least-32-characters!' };

const uploads = { apiKeys: [API_KEY], signing: { secrets: [SECRET] } };
// Load shedding off: these tests share two cores with others, and are not about overload.
const server = { overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 } };

async function preflight(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const res = await request(`${base}${path}`, { method: 'OPTIONS', headers });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

async function signedPutUrl(base: string, key: string, maxBytes = 1024): Promise<string> {
  const res = await request(`${base}/upload-urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({ key, maxBytes, contentTypes: ['text/plain'] }),
  });
  expect(res.statusCode).toBe(201);
  const json = (await res.body.json()) as { url: string };
  return new URL(json.url).pathname + new URL(json.url).search;
}

describe('CORS at the origin', () => {
  let origin: TestOrigin;
  beforeAll(async () => {
    origin = await startTestOrigin({
      cors: { origins: ['https://Shop.Example.com:443'], maxAgeSeconds: 120 },
      uploads,
      server,
    });
  });
  afterAll(async () => {
    await origin.close();
  });

  it('grants a preflight for PUT /uploads/<key> with exactly the needed method and headers', async () => {
    const res = await preflight(origin.url, '/uploads/a/b.txt?sig=x', {
      origin: SHOP,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'Content-Type',
    });
    expect(res.status).toBe(204);
    // Configured with upper case and the default port; matched in serialised form.
    expect(res.headers['access-control-allow-origin']).toBe(SHOP);
    expect(res.headers['access-control-allow-methods']).toBe('PUT');
    expect(res.headers['access-control-allow-headers']).toBe('content-type, content-digest');
    expect(res.headers['access-control-max-age']).toBe('120');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(String(res.headers.vary)).toMatch(/Origin/);
    expect(String(res.headers.vary)).toMatch(/Access-Control-Request-Headers/);
  });

  it('grants POST /upload-urls with the API-key headers, and POST /uploads', async () => {
    const a = await preflight(origin.url, '/upload-urls', {
      origin: SHOP,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type',
    });
    expect(a.status).toBe(204);
    expect(a.headers['access-control-allow-headers']).toBe('content-type, authorization, x-api-key');
    const b = await preflight(origin.url, '/uploads', {
      origin: SHOP,
      'access-control-request-method': 'POST',
    });
    expect(b.status).toBe(204);
    expect(b.headers['access-control-allow-methods']).toBe('POST');
  });

  it('refuses a preflight from an origin not configured, with a coded 403 and no grant', async () => {
    const res = await preflight(origin.url, '/uploads/a.txt', {
      origin: 'https://evil.example',
      'access-control-request-method': 'PUT',
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'EDGEWISE_CORS_REJECTED' });
    expect(JSON.parse(res.body).message).toContain('https://evil.example');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses a method or a header the endpoint does not take, naming it', async () => {
    const m = await preflight(origin.url, '/uploads/a.txt', {
      origin: SHOP,
      'access-control-request-method': 'DELETE',
    });
    expect(m.status).toBe(403);
    expect(JSON.parse(m.body).message).toMatch(/method DELETE .*allowed: PUT/);
    const h = await preflight(origin.url, '/uploads/a.txt', {
      origin: SHOP,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'content-type, authorization',
    });
    expect(h.status).toBe(403);
    expect(JSON.parse(h.body).message).toMatch(/header authorization is not allowed/);
    expect(h.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a plain OPTIONS (no Origin) with Allow', async () => {
    const res = await preflight(origin.url, '/uploads/a.txt', {});
    expect(res.status).toBe(204);
    expect(res.headers.allow).toBe('PUT, OPTIONS');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('puts Allow-Origin, Expose-Headers and Vary on a real upload and on its coded errors', async () => {
    const path = await signedPutUrl(origin.url, 'cors/ok.txt');
    const ok = await request(`${origin.url}${path}`, {
      method: 'PUT',
      headers: { origin: SHOP, 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(ok.statusCode).toBe(201);
    await ok.body.dump();
    expect(ok.headers['access-control-allow-origin']).toBe(SHOP);
    expect(ok.headers['access-control-expose-headers']).toBe('retry-after');
    expect(String(ok.headers.vary)).toMatch(/Origin/);

    // 413 decided from Content-Length before a byte is read: the page can still read why.
    const big = await signedPutUrl(origin.url, 'cors/big.txt', 10);
    const tooLarge = await request(`${origin.url}${big}`, {
      method: 'PUT',
      headers: { origin: SHOP, 'content-type': 'text/plain' },
      body: 'x'.repeat(100),
    });
    expect(tooLarge.statusCode).toBe(413);
    expect(((await tooLarge.body.json()) as { code: string }).code).toBe('EDGEWISE_UPLOAD_TOO_LARGE');
    expect(tooLarge.headers['access-control-allow-origin']).toBe(SHOP);

    const tampered = await request(`${origin.url}${path.replace(/sig=[^&]+/, 'sig=AAAA')}`, {
      method: 'PUT',
      headers: { origin: SHOP, 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(tampered.statusCode).toBe(403);
    await tampered.body.dump();
    expect(tampered.headers['access-control-allow-origin']).toBe(SHOP);
  });

  it('sends no Allow-Origin to an origin not configured, and no CORS on content routes', async () => {
    const path = await signedPutUrl(origin.url, 'cors/other.txt');
    const res = await request(`${origin.url}${path}`, {
      method: 'PUT',
      headers: { origin: 'https://evil.example', 'content-type': 'text/plain' },
      body: 'hello',
    });
    await res.body.dump();
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(String(res.headers.vary)).toMatch(/Origin/);

    const get = await request(`${origin.url}/cors/ok.txt`, { headers: { origin: SHOP } });
    await get.body.dump();
    expect(get.statusCode).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('does not treat the demo endpoint or loopback pages as allowed while dev.demoUploads is off', async () => {
    const res = await preflight(origin.url, '/uploads/a.txt', {
      origin: 'http://127.0.0.1:5173',
      'access-control-request-method': 'PUT',
    });
    expect(res.status).toBe(403);
    const demo = await preflight(origin.url, '/_dev/upload-urls', {
      origin: SHOP,
      'access-control-request-method': 'POST',
    });
    expect(demo.status).toBe(404);
  });
});

describe('CORS on a busy answer', () => {
  it('lets the page read Retry-After on 503 EDGEWISE_UPLOADS_BUSY', async () => {
    const origin = await startTestOrigin({
      cors: { origins: [SHOP] },
      uploads: { ...uploads, maxConcurrent: 1 },
      server,
    });
    const body = new PassThrough();
    try {
      // One upload held open (its body never ends) takes the only slot.
      const first = await signedPutUrl(origin.url, 'busy/first.txt');
      const held = request(`${origin.url}${first}`, {
        method: 'PUT',
        headers: { origin: SHOP, 'content-type': 'text/plain' },
        body,
      }).catch(() => undefined);
      body.write('part of the body');
      await vi.waitFor(async () => {
        const second = await signedPutUrl(origin.url, 'busy/second.txt');
        const res = await request(`${origin.url}${second}`, {
          method: 'PUT',
          headers: { origin: SHOP, 'content-type': 'text/plain' },
          body: 'x',
        });
        const json = (await res.body.json()) as { code: string };
        expect(res.statusCode).toBe(503);
        expect(json.code).toBe('EDGEWISE_UPLOADS_BUSY');
        expect(res.headers['retry-after']).toBeDefined();
        expect(res.headers['access-control-allow-origin']).toBe(SHOP);
        expect(res.headers['access-control-expose-headers']).toBe('retry-after');
      });
      body.end();
      await held;
    } finally {
      body.destroy();
      await origin.close();
    }
  });
});

describe('CORS with "*" and with the dev demo', () => {
  it('answers "*" when every origin is allowed', async () => {
    const origin = await startTestOrigin({ cors: { origins: ['*'] }, uploads, server });
    try {
      const res = await preflight(origin.url, '/uploads/x.txt', {
        origin: 'https://anyone.example',
        'access-control-request-method': 'PUT',
      });
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await origin.close();
    }
  });

  it('allows loopback pages and the demo endpoint with dev.demoUploads on, and nothing else extra', async () => {
    const origin = await startTestOrigin({ dev: { demoUploads: true }, uploads, server });
    try {
      const ok = await preflight(origin.url, '/_dev/upload-urls', {
        origin: 'http://localhost:8080',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      });
      expect(ok.status).toBe(204);
      expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:8080');
      const v6 = await preflight(origin.url, '/uploads/x.txt', {
        origin: 'http://[::1]:8081',
        'access-control-request-method': 'PUT',
      });
      expect(v6.status).toBe(204);
      const remote = await preflight(origin.url, '/uploads/x.txt', {
        origin: 'http://192.168.1.10:8080',
        'access-control-request-method': 'PUT',
      });
      expect(remote.status).toBe(403);
      const nul = await preflight(origin.url, '/uploads/x.txt', {
        origin: 'null',
        'access-control-request-method': 'PUT',
      });
      expect(nul.status).toBe(403);
    } finally {
      await origin.close();
    }
  });
});

describe('cors config validation', () => {
  const issues = (cors: unknown) => {
    try {
      buildConfig({ cors }, undefined);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
      throw err;
    }
  };
  it('accepts origins and "*" alone', () => {
    expect(issues({ origins: ['https://a.example', 'http://127.0.0.1:8080', 'https://b.example/'] })).toEqual(
      [],
    );
    expect(issues({ origins: ['*'] })).toEqual([]);
  });
  it('names each entry that is not a bare origin', () => {
    const found = issues({
      origins: ['https://a.example/path', 'ftp://a.example', 'a.example', 'https://u:p@a.example', '*'],
    });
    expect(found.filter((f) => f.includes('must be an http(s) origin')).map((f) => f.split(':')[0])).toEqual([
      'cors.origins[0]',
      'cors.origins[1]',
      'cors.origins[2]',
      'cors.origins[3]',
    ]);
    expect(found).toContain('cors.origins[4]: "*" allows every origin; list it alone');
  });
  it('bounds maxAgeSeconds', () => {
    expect(issues({ maxAgeSeconds: 86401 }).join()).toMatch(/cors\.maxAgeSeconds/);
  });
});

describe('CORS through the local edge', () => {
  let origin: TestOrigin;
  let edge: TestEdge;
  beforeAll(async () => {
    origin = await startTestOrigin({ cors: { origins: [SHOP] }, uploads, server });
    edge = await startTestEdge(origin.url);
  });
  afterAll(async () => {
    await edge?.close();
    await origin?.close();
  });

  it('passes preflights and the actual upload headers through unchanged', async () => {
    const granted = await preflight(edge.url, '/uploads/e/a.txt', {
      origin: SHOP,
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'content-type',
    });
    expect(granted.status).toBe(204);
    expect(granted.headers['access-control-allow-origin']).toBe(SHOP);
    expect(granted.headers['access-control-allow-methods']).toBe('PUT');
    expect(granted.headers['access-control-allow-headers']).toBe('content-type, content-digest');
    expect(granted.headers['access-control-max-age']).toBe('600');

    const refused = await preflight(edge.url, '/uploads/e/a.txt', {
      origin: 'https://evil.example',
      'access-control-request-method': 'PUT',
    });
    expect(refused.status).toBe(403);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();

    const path = await signedPutUrl(origin.url, 'e/a.txt');
    const put = await request(`${edge.url}${path}`, {
      method: 'PUT',
      headers: { origin: SHOP, 'content-type': 'text/plain' },
      body: 'through the edge',
    });
    expect(put.statusCode).toBe(201);
    await put.body.dump();
    expect(put.headers['access-control-allow-origin']).toBe(SHOP);
    expect(put.headers['access-control-expose-headers']).toBe('retry-after');
    expect(String(put.headers.vary)).toMatch(/Origin/);
  });
});
