/**
 * Issue 13 "Also answer": with server.publicUrl unset, upload answers built their URLs from the
 * Host header, so `Host: evil.example` got back links (and signed upload URLs) on evil.example.
 * They now come from server.publicUrl, else (in `edgewise dev`) the local edge, else the origin's
 * own listen address (src/uploads/public-base.ts); never from Host.
 */
import { request } from 'undici';
import { afterEach, describe, expect, test } from 'vitest';
import { startDev } from '../browser/dev-process.js';
import { startTestOrigin } from '../helpers/origin.js';

const API_KEY = 'public-url-test-key-0123456789';
const SECRET = { id: 'k1', secret: 'public-url-test-secret-0123456789abcdef' };
const EVIL = 'evil.example';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function putWithHost(base: string, key: string) {
  const res = await request(`${base}/uploads/${key}`, {
    method: 'PUT',
    headers: { host: EVIL, 'x-api-key': API_KEY, 'content-type': 'text/plain' },
    body: 'hello',
  });
  const json = (await res.body.json()) as { url?: string };
  expect(res.statusCode, JSON.stringify(json)).toBe(201);
  return json;
}

async function uploadUrlWithHost(base: string, key: string) {
  const res = await request(`${base}/upload-urls`, {
    method: 'POST',
    headers: { host: EVIL, 'x-api-key': API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  const json = (await res.body.json()) as { url?: string };
  expect(res.statusCode, JSON.stringify(json)).toBe(201);
  return json;
}

describe('upload answers never reflect the Host header', () => {
  test('publicUrl unset, not in dev: the origin’s own listen address', async () => {
    const o = await startTestOrigin({ uploads: { apiKeys: [API_KEY], signing: { secrets: [SECRET] } } });
    cleanup.push(() => o.close());
    const put = await putWithHost(o.url, 'static/a.txt');
    expect(put.url).toBe(`${o.url}/static/a.txt`);
    const signed = await uploadUrlWithHost(o.url, 'static/b.txt');
    expect(signed.url).toMatch(new RegExp(`^${o.url}/uploads/static/b\\.txt\\?`));
    expect(JSON.stringify([put, signed])).not.toContain(EVIL);
  });

  test('server.publicUrl set: that URL', async () => {
    const o = await startTestOrigin({
      server: { publicUrl: 'https://cdn.shop.test/' },
      uploads: { apiKeys: [API_KEY], signing: { secrets: [SECRET] } },
    });
    cleanup.push(() => o.close());
    expect((await putWithHost(o.url, 'static/a.txt')).url).toBe('https://cdn.shop.test/static/a.txt');
    expect((await uploadUrlWithHost(o.url, 'static/b.txt')).url).toMatch(
      /^https:\/\/cdn\.shop\.test\/uploads\/static\/b\.txt\?/,
    );
  });

  test('`edgewise dev` with publicUrl unset: the local edge, as the config reference says', async () => {
    const dev = await startDev({
      EDGEWISE__UPLOADS__APIKEYS: `[${API_KEY}]`,
      EDGEWISE__UPLOADS__SIGNING__SECRETS: `[{id: ${SECRET.id}, secret: ${SECRET.secret}}]`,
    });
    cleanup.push(() => dev.stop());
    // Asked of the origin directly (edge.port 0: the URL is the edge's actual one).
    expect((await putWithHost(dev.originUrl, 'static/a.txt')).url).toBe(`${dev.edgeUrl}/static/a.txt`);
    expect((await uploadUrlWithHost(dev.originUrl, 'static/b.txt')).url).toMatch(
      new RegExp(`^${dev.edgeUrl}/uploads/static/b\\.txt\\?`),
    );
  }, 60_000);
});
