/**
 * POST /_edgewise/signed-urls on a real origin (127.0.0.1:0): API key, validation, and URLs the
 * verifier accepts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureDevSigningKeys } from '../../src/cloudfront/keys.js';
import { verifySignedRequest } from '../../src/cloudfront/verifier.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';

const API_KEY = 'test-api-key-0123456789';
const keys = ensureDevSigningKeys(mkdtempSync(join(tmpdir(), 'edgewise-route-keys-')));

async function post(origin: TestOrigin, body: unknown, key = API_KEY) {
  const res = await fetch(`${origin.url}/_edgewise/signed-urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

describe('POST /_edgewise/signed-urls', () => {
  let origin: TestOrigin;
  beforeAll(async () => {
    origin = await startTestOrigin({
      // RSA signing on a busy 2-core machine can trip load shedding; it is not under test here.
      server: { overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 } },
      cloudfront: {
        apiKey: API_KEY,
        distribution: { baseUrl: 'https://cdn.example.com' },
        signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile },
      },
    });
  });
  afterAll(async () => {
    await origin.close();
  });

  test('returns verifiable URLs for keys in a signed class', async () => {
    const res = await post(origin, { keys: ['u/a b.jpg', 'u/ü+1.png'], expiresInSeconds: 600 });
    expect(res.status).toBe(200);
    const urls = res.body.urls as Array<{ key: string; url: string }>;
    expect(urls.map((u) => u.key)).toEqual(['u/a b.jpg', 'u/ü+1.png']);
    for (const u of urls)
      expect(verifySignedRequest(origin.store.current, { url: u.url, clientIp: '192.0.2.1' })).toEqual({
        ok: true,
      });
    expect(typeof res.body.expiresAt).toBe('string');
  });

  test('cookies: Set-Cookie headers with a custom policy', async () => {
    const res = await post(origin, { cookies: true, wildcardResource: '/u/*' });
    expect(res.status).toBe(200);
    const setCookie = res.headers.getSetCookie();
    expect(setCookie.some((c) => c.startsWith('CloudFront-Policy=') && c.includes('Secure'))).toBe(true);
    const cookie = setCookie.map((c) => c.split(';')[0]).join('; ');
    expect(
      verifySignedRequest(origin.store.current, { url: '/u/x.jpg', clientIp: '192.0.2.1', cookies: cookie }),
    ).toEqual({
      ok: true,
    });
  });

  test('401 without or with a wrong key; 400 for bad input, before signing anything', async () => {
    expect((await post(origin, { keys: ['u/a.jpg'] }, '')).status).toBe(401);
    expect((await post(origin, { keys: ['u/a.jpg'] }, 'wrong-key-0123456789')).body.code).toBe(
      'EDGEWISE_UNAUTHORIZED',
    );
    const bad = [
      { keys: [] },
      { keys: ['static/app.css'] },
      { keys: ['u/ok.jpg', '../etc/passwd'] },
      { keys: ['u/a.jpg'], expiresInSeconds: 10 ** 9 },
      { keys: ['u/a.jpg'], ipRange: '999.1.1.1' },
      { keys: ['u/a.jpg'], extra: 1 },
      { keys: 'u/a.jpg' },
    ];
    for (const body of bad) {
      const res = await post(origin, body);
      expect(res.status, JSON.stringify(body) + JSON.stringify(res.body)).toBe(400);
      expect(res.body.code).toBe('EDGEWISE_BAD_SIGN_REQUEST');
    }
  });

  test('404 when cloudfront.apiKey is not set', async () => {
    const bare = await startTestOrigin({
      server: { overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 } },
    });
    try {
      expect((await post(bare, { keys: ['u/a.jpg'] })).status).toBe(404);
    } finally {
      await bare.close();
    }
  });
});
