/**
 * The fs driver's hot-object cache (src/storage/fs-hot.ts) changes no response: the same
 * requests against an origin with the cache and one without, over the same data directory,
 * give the same status, headers and bytes — hits included. Writes through the origin (upload
 * PUT, delete, resumable completion) are served at once; edits by another process are caught by
 * re-validation (validMs 0) and, with a long validMs, are not (the documented staleness bound).
 */
import { Readable } from 'node:stream';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FsDriver } from '../../src/storage/fs.js';
import { encodedVariantKey } from '../../src/storage/keys.js';
import { startTestOrigin, type TestOrigin, tempDir } from '../helpers/origin.js';

const API_KEY = 'hot-cache-test-api-key-0123456789';
const HOUR_MS = 3_600_000;

async function fetchRaw(base: string, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await request(`${base}${path}`, { method: method as 'GET', headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  const h = { ...res.headers };
  delete h.date;
  return { status: res.statusCode, headers: h, body: body.toString('base64') };
}

function putVia(driver: FsDriver, key: string, data: Buffer | string, contentType: string, extra = {}) {
  return driver.put(key, Readable.from([Buffer.from(data)]), { contentType, ...extra });
}

describe('responses are identical with the hot cache on and off', () => {
  let dataDir: string;
  let hot: TestOrigin;
  let cold: TestOrigin;
  let etag: string;
  let lastModified: string;

  beforeAll(async () => {
    dataDir = await tempDir();
    const writer = new FsDriver({ dataDir });
    const css = Buffer.from('body { color: red; }\n'.repeat(200));
    const cssMeta = await putVia(writer, 'static/site.css', css, 'text/css');
    etag = cssMeta.etag;
    lastModified = cssMeta.lastModified.toUTCString();
    await putVia(writer, encodedVariantKey('static/site.css', 'br'), brotliCompressSync(css), 'text/css', {
      contentEncoding: 'br',
      metadata: { 'source-etag': cssMeta.etag },
    });
    await putVia(writer, encodedVariantKey('static/site.css', 'gzip'), gzipSync(css), 'text/css', {
      contentEncoding: 'gzip',
      metadata: { 'source-etag': cssMeta.etag },
    });
    await putVia(writer, 'static/plain.txt', 'hello world, '.repeat(300), 'text/plain; charset=utf-8');
    await putVia(writer, 'static/data.bin', Buffer.alloc(3600, 7), 'application/octet-stream');
    await putVia(writer, 'static/empty.txt', '', 'text/plain');
    await putVia(writer, 'u/evil.html', '<script>alert(1)</script>', 'text/html');
    // Over objectMaxBytes: read from disk even with the cache on.
    await putVia(writer, 'static/big.bin', Buffer.alloc(100 * 1024, 9), 'application/octet-stream');
    const hotCache = { maxBytes: 1024 * 1024, objectMaxBytes: 64 * 1024, validMs: HOUR_MS };
    hot = await startTestOrigin({}, { storage: new FsDriver({ dataDir, hotCache }) });
    cold = await startTestOrigin({}, { storage: new FsDriver({ dataDir }) });
  });
  afterAll(async () => {
    await hot.close();
    await cold.close();
  });

  const cases: Array<[string, Record<string, string>, string?]> = [
    ['/static/site.css', {}],
    ['/static/site.css', {}, 'HEAD'],
    ['/static/site.css', { 'accept-encoding': 'br, gzip' }],
    ['/static/site.css', { 'accept-encoding': 'gzip' }],
    ['/static/site.css', { 'accept-encoding': 'br' }, 'HEAD'],
    ['/static/site.css', { range: 'bytes=0-9' }],
    ['/static/site.css', { range: 'bytes=-5' }],
    ['/static/site.css', { range: 'bytes=99999-' }],
    ['/static/site.css', { range: 'bytes=5-2' }],
    ['/static/site.css', { 'if-none-match': '__ETAG__' }],
    ['/static/site.css', { 'if-none-match': '"other"' }],
    ['/static/site.css', { 'if-match': '"other"' }],
    ['/static/site.css', { 'if-modified-since': '__LM__' }],
    ['/static/site.css', { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }],
    ['/static/site.css', { range: 'bytes=0-3', 'if-range': '__ETAG__' }],
    ['/static/site.css', { range: 'bytes=0-3', 'if-range': '"stale"' }],
    ['/static/plain.txt', { 'accept-encoding': 'gzip' }],
    ['/static/plain.txt', { 'accept-encoding': 'identity' }],
    ['/static/data.bin', {}],
    ['/static/data.bin', { range: 'bytes=100-199' }],
    ['/static/empty.txt', {}],
    ['/static/empty.txt', { range: 'bytes=0-0' }],
    ['/u/evil.html', {}],
    ['/static/big.bin', {}],
    ['/static/big.bin', { range: 'bytes=1000-1999' }],
    ['/static/missing.txt', {}],
    ['/static/missing.txt', {}, 'HEAD'],
    ['/static/site.css/under-an-object', {}],
  ];

  test.each(cases)('%s %o %s', async (path, rawHeaders, method = 'GET') => {
    const headers = Object.fromEntries(
      Object.entries(rawHeaders).map(([k, v]) => [
        k,
        v.replace('__ETAG__', etag).replace('__LM__', lastModified),
      ]),
    );
    const want = await fetchRaw(cold.url, path, headers, method);
    // First request loads the cache, the second is served from it: both as without it.
    for (let i = 0; i < 2; i++) expect(await fetchRaw(hot.url, path, headers, method)).toEqual(want);
  });
});

describe('writes through the origin are served at once', () => {
  let o: TestOrigin;
  let external: FsDriver;

  beforeAll(async () => {
    const dataDir = await tempDir();
    // The origin's driver with the cache on, trusting entries for an hour: only invalidation
    // (not re-validation) can make the tests below see new bytes.
    const storage = new FsDriver({
      dataDir,
      hotCache: { maxBytes: 1024 * 1024, objectMaxBytes: 64 * 1024, validMs: HOUR_MS },
    });
    o = await startTestOrigin(
      { uploads: { apiKeys: [API_KEY], precompress: { enabled: false } } },
      { storage },
    );
    external = new FsDriver({ dataDir });
  });
  afterAll(() => o.close());

  async function upload(key: string, body: string) {
    const res = await request(`${o.url}/uploads/${key}`, {
      method: 'PUT',
      body,
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/octet-stream' },
    });
    await res.body.text();
    expect(res.statusCode).toBe(201);
  }

  async function text(path: string) {
    const res = await request(`${o.url}${path}`);
    return { status: res.statusCode, body: await res.body.text() };
  }

  test('an upload overwriting a cached object is served new on the next request', async () => {
    expect((await text('/static/over.bin')).status).toBe(404); // cached as absent
    await upload('static/over.bin', 'first version');
    expect(await text('/static/over.bin')).toEqual({ status: 200, body: 'first version' });
    expect(await text('/static/over.bin')).toEqual({ status: 200, body: 'first version' });
    await upload('static/over.bin', 'second version, longer');
    expect(await text('/static/over.bin')).toEqual({ status: 200, body: 'second version, longer' });
  });

  test('a delete through the driver is a 404 at once', async () => {
    await upload('static/gone.bin', 'here');
    expect((await text('/static/gone.bin')).status).toBe(200);
    expect(await o.storage.delete('static/gone.bin')).toBe(true);
    expect((await text('/static/gone.bin')).status).toBe(404);
  });

  test('a resumable completion replaces a cached object at once', async () => {
    await upload('static/multi.bin', 'old bytes');
    expect((await text('/static/multi.bin')).body).toBe('old bytes');
    const r = (o.storage as FsDriver).resumable;
    const id = await r.create('static/multi.bin', { contentType: 'application/octet-stream', metadata: {} });
    const part = await r.putPart('static/multi.bin', id, 1, Readable.from([Buffer.from('new bytes')]), {
      maxBytes: 1024,
    });
    await r.complete('static/multi.bin', id, [{ partNumber: 1, etag: part!.etag }], {
      size() {},
      async type(_head, declared) {
        return declared;
      },
    });
    expect((await text('/static/multi.bin')).body).toBe('new bytes');
  });

  test('another process writing the data dir is not seen within validMs (the staleness bound)', async () => {
    await upload('static/ext.bin', 'origin wrote this');
    expect((await text('/static/ext.bin')).body).toBe('origin wrote this');
    await putVia(external, 'static/ext.bin', 'another process wrote this', 'application/octet-stream');
    expect((await text('/static/ext.bin')).body).toBe('origin wrote this');
  });
});

describe('re-validation catches edits by other processes', () => {
  test('with validMs 0, every read stats the file and an external overwrite or delete is seen', async () => {
    const dataDir = await tempDir();
    const hotDriver = new FsDriver({
      dataDir,
      hotCache: { maxBytes: 1024 * 1024, objectMaxBytes: 64 * 1024, validMs: 0 },
    });
    const o = await startTestOrigin({}, { storage: hotDriver });
    const external = new FsDriver({ dataDir });
    try {
      const read = async () => {
        const res = await request(`${o.url}/static/e.txt`);
        return { status: res.statusCode, body: await res.body.text() };
      };
      expect((await read()).status).toBe(404);
      await putVia(external, 'static/e.txt', 'one', 'text/plain');
      expect(await read()).toEqual({ status: 200, body: 'one' });
      await putVia(external, 'static/e.txt', 'two', 'text/plain');
      expect(await read()).toEqual({ status: 200, body: 'two' });
      await external.delete('static/e.txt');
      expect((await read()).status).toBe(404);
    } finally {
      await o.close();
    }
  });
});
