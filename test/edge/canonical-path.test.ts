/**
 * Regression: the edge chose the content class on the raw path while the origin decoded it,
 * so `/%75/42/secret.txt` was served (and cached, public) from the signed class's object
 * without a signature, and `/%61pi/me.json` shared one user's API answer with another.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import { rawRequest } from '../helpers/raw-request.js';
import { startTestEdge, type TestEdge } from './helpers.js';

let origin: TestOrigin;
let edge: TestEdge;

beforeAll(async () => {
  origin = await startTestOrigin();
  const put = (key: string, body: string, type: string) =>
    origin.storage.put(key, Readable.from([Buffer.from(body)]), { contentType: type });
  await put('u/42/secret.txt', 'private to user 42', 'text/plain');
  await put('api/me.json', '{"user":"alice"}', 'application/json');
  edge = await startTestEdge(origin.url, { defaultClass: 'static_assets', classes: [] });
});
afterAll(async () => {
  await edge?.close();
  await origin?.close();
});

function get(base: string, path: string, headers: Record<string, string> = {}) {
  return rawRequest(base, path, { headers });
}

describe('one canonical path at the origin and the edge', () => {
  it('GET /%75/42/secret.txt through the edge is refused, never the signed object', async () => {
    expect((await get(edge.url, '/u/42/secret.txt')).status).toBe(403);
    for (let i = 0; i < 2; i++) {
      const r = await get(edge.url, '/%75/42/secret.txt');
      expect(r.status).toBe(400);
      expect(r.text).not.toContain('private to user 42');
      expect(JSON.parse(r.text)).toMatchObject({ statusCode: 400, code: 'EDGEWISE_NON_CANONICAL_PATH' });
      expect(r.headers['cache-control']).toBe('no-store');
    }
  });

  it('the origin refuses the same spelling itself (CloudFront forwards the raw path)', async () => {
    const r = await get(origin.url, '/%75/42/secret.txt');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).code).toBe('EDGEWISE_NON_CANONICAL_PATH');
    expect(JSON.parse(r.text).message).toContain('/u/42/secret.txt');
  });

  it('/%61pi/me.json does not hand one user the cached API answer of another', async () => {
    const alice = await get(edge.url, '/api/me.json', { authorization: 'Bearer alice' });
    expect(alice.status).toBe(200);
    const bob = await get(edge.url, '/%61pi/me.json', { authorization: 'Bearer bob' });
    expect(bob.status).toBe(400);
    expect(bob.text).not.toContain('alice');
  });

  it.each([
    '//u/42/secret.txt',
    '/static/../u/42/secret.txt',
    '/static/%2e%2e/u/42/secret.txt',
    '/static/..%2fu/42/secret.txt',
    '/u%2f42/secret.txt',
    '/static/a%00.css',
    '/static/%C0%AF.css',
  ])('%s is a 400 with a catalogue code at the origin and the edge', async (path) => {
    for (const base of [origin.url, edge.url]) {
      const r = await get(base, path);
      expect(r.status, `${base}${path}`).toBe(400);
      expect(['EDGEWISE_NON_CANONICAL_PATH', 'EDGEWISE_BAD_PATH']).toContain(JSON.parse(r.text).code);
      expect(r.text).not.toContain('private');
    }
  });
});
