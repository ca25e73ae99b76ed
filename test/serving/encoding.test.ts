/**
 * Content-coding over real sockets: stored Brotli/gzip variants chosen by Accept-Encoding with
 * q-values, stale variants refused, and the rules for on-the-fly compression.
 */
import { Readable } from 'node:stream';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodedVariantKey } from '../../src/storage/keys.js';
import type { ObjectMeta } from '../../src/storage/types.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';

let o: TestOrigin;
const css = Buffer.from('body { color: red; margin: 0 auto; }\n'.repeat(200));
const text = Buffer.from('lorem ipsum dolor sit amet '.repeat(100));
let cssMeta: ObjectMeta;
let brMeta: ObjectMeta;
let gzMeta: ObjectMeta;

async function get(path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const res = await request(`${o.url}${path}`, { method, headers });
  const buf = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body: buf };
}

function put(
  key: string,
  data: Buffer,
  contentType: string,
  extra: Partial<{ enc: string; sourceEtag: string }> = {},
) {
  return o.storage.put(key, Readable.from([data]), {
    contentType,
    contentEncoding: extra.enc,
    metadata: extra.sourceEtag ? { 'source-etag': extra.sourceEtag } : undefined,
  });
}

beforeAll(async () => {
  o = await startTestOrigin();
  cssMeta = await put('static/site.css', css, 'text/css');
  brMeta = await put(encodedVariantKey('static/site.css', 'br'), brotliCompressSync(css), 'text/css', {
    enc: 'br',
    sourceEtag: cssMeta.etag,
  });
  gzMeta = await put(encodedVariantKey('static/site.css', 'gzip'), gzipSync(css), 'text/css', {
    enc: 'gzip',
    sourceEtag: cssMeta.etag,
  });
  await put('static/plain.txt', text, 'text/plain; charset=utf-8');
  await put('static/small.txt', Buffer.from('tiny'), 'text/plain');
  await put('static/big.png', Buffer.alloc(5000, 1), 'image/png');
  await put('static/clip.mp4', Buffer.alloc(5000, 2), 'video/mp4');
  await put('static/blob.bin', Buffer.alloc(5000, 3), 'application/octet-stream');
  await put(
    'api/list.json',
    Buffer.from(JSON.stringify({ items: Array(200).fill('abc') })),
    'application/json',
  );
  // A gzip variant made from an older version of the source.
  const gzOnly = await put('static/gz-only.js', text, 'text/javascript');
  await put(encodedVariantKey('static/gz-only.js', 'gzip'), gzipSync(text), 'text/javascript', {
    enc: 'gzip',
    sourceEtag: gzOnly.etag,
  });
  const stale = await put('static/stale.js', text, 'text/javascript');
  await put(
    encodedVariantKey('static/stale.js', 'br'),
    brotliCompressSync(Buffer.from('old')),
    'text/javascript',
    {
      enc: 'br',
      sourceEtag: `"not-${stale.etag.slice(1)}`,
    },
  );
});
afterAll(() => o.close());

describe('stored variants', () => {
  test('br preferred on ties: the stored Brotli variant with its own length and strong ETag', async () => {
    const r = await get('/static/site.css', { 'accept-encoding': 'gzip, deflate, br' });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBe('br');
    expect(r.headers['content-length']).toBe(String(brMeta.size));
    expect(r.headers.etag).toBe(brMeta.etag);
    expect(r.headers.etag).not.toBe(cssMeta.etag);
    expect(r.headers.vary).toBe('accept-encoding');
    expect(r.headers['content-type']).toBe('text/css');
    expect(brotliDecompressSync(r.body).equals(css)).toBe(true);
  });

  test('q-values: gzip;q=1.0, br;q=0.5 → gzip variant', async () => {
    const r = await get('/static/site.css', { 'accept-encoding': 'gzip;q=1.0, br;q=0.5' });
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers.etag).toBe(gzMeta.etag);
    expect(r.headers['content-length']).toBe(String(gzMeta.size));
    expect(gunzipSync(r.body).equals(css)).toBe(true);
  });

  test('q=0 excludes a coding: br;q=0, gzip → gzip', async () => {
    const r = await get('/static/site.css', { 'accept-encoding': 'br;q=0, gzip' });
    expect(r.headers['content-encoding']).toBe('gzip');
  });

  test('identity preferred or no Accept-Encoding → the source, still Vary: accept-encoding', async () => {
    const cases: Array<Record<string, string>> = [
      { 'accept-encoding': 'identity' },
      { 'accept-encoding': 'br;q=0.1, identity;q=1' },
      {},
    ];
    for (const h of cases) {
      const r = await get('/static/site.css', h);
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.headers.etag).toBe(cssMeta.etag);
      expect(r.headers.vary).toBe('accept-encoding');
      expect(r.body.equals(css)).toBe(true);
    }
  });

  test('zstd is never chosen (no zstd variants are stored)', async () => {
    const r = await get('/static/site.css', { 'accept-encoding': 'zstd' });
    expect(r.headers['content-encoding']).toBeUndefined();
  });

  test('conditional request against the variant ETag → 304 for that encoding only', async () => {
    const hit = await get('/static/site.css', { 'accept-encoding': 'br', 'if-none-match': brMeta.etag });
    expect(hit.status).toBe(304);
    expect(hit.headers.etag).toBe(brMeta.etag);
    const miss = await get('/static/site.css', { 'accept-encoding': 'gzip', 'if-none-match': brMeta.etag });
    expect(miss.status).toBe(200);
  });

  test('a range of a stored variant counts the encoded bytes', async () => {
    const r = await get('/static/site.css', { 'accept-encoding': 'br', range: 'bytes=0-9' });
    expect(r.status).toBe(206);
    expect(r.headers['content-encoding']).toBe('br');
    expect(r.headers['content-range']).toBe(`bytes 0-9/${brMeta.size}`);
    expect(r.body.equals(brotliCompressSync(css).subarray(0, 10))).toBe(true);
  });

  test('a stored gzip variant beats compressing Brotli now', async () => {
    const r = await get('/static/gz-only.js', { 'accept-encoding': 'br, gzip' });
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers.etag).not.toMatch(/^W\//);
  });

  test('a variant whose source-etag does not match the source is never served', async () => {
    const r = await get('/static/stale.js', { 'accept-encoding': 'br' });
    expect(r.headers['content-encoding']).toBe('br');
    // Compressed now from the current source, so the ETag is the source's, weakened.
    expect(r.headers.etag).toMatch(/^W\//);
    expect(brotliDecompressSync(r.body).equals(text)).toBe(true);
  });
});

describe('on-the-fly compression', () => {
  test('compressible, over 1 KB, no variant: compressed, no Content-Length, weak ETag', async () => {
    const plain = await get('/static/plain.txt');
    const r = await get('/static/plain.txt', { 'accept-encoding': 'gzip' });
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.headers.etag).toBe(`W/${plain.headers.etag}`);
    expect(r.headers.vary).toBe('accept-encoding');
    expect(r.headers['accept-ranges']).toBeUndefined();
    expect(gunzipSync(r.body).equals(text)).toBe(true);
    const br = await get('/static/plain.txt', { 'accept-encoding': 'br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).equals(text)).toBe(true);
  });

  test('the weakened ETag still revalidates (weak comparison) → 304', async () => {
    const first = await get('/static/plain.txt', { 'accept-encoding': 'gzip' });
    const r = await get('/static/plain.txt', {
      'accept-encoding': 'gzip',
      'if-none-match': String(first.headers.etag),
    });
    expect(r.status).toBe(304);
  });

  test('HEAD of a compressed response: same encoding headers, no length', async () => {
    const r = await get('/static/plain.txt', { 'accept-encoding': 'br' }, 'HEAD');
    expect(r.headers['content-encoding']).toBe('br');
    expect(r.headers['content-length']).toBeUndefined();
    expect(r.headers.etag).toMatch(/^W\//);
  });

  test.each([
    ['/static/small.txt', 'at or under 1 KB'],
    ['/static/big.png', 'an image'],
    ['/static/clip.mp4', 'video'],
    ['/static/blob.bin', 'octet-stream'],
    ['/api/list.json', 'a class with compress: false'],
  ])('%s is sent as is (%s)', async (path) => {
    const r = await get(path, { 'accept-encoding': 'gzip, br' });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.headers['content-length']).toBe(String(r.body.length));
    expect(String(r.headers.etag)).not.toMatch(/^W\//);
  });

  test('never for 206: a Range on a compressible object returns identity bytes', async () => {
    const r = await get('/static/plain.txt', { 'accept-encoding': 'gzip', range: 'bytes=0-4' });
    expect(r.status).toBe(206);
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.body.toString()).toBe('lorem');
    expect(r.headers.vary).toBe('accept-encoding');
  });
});
