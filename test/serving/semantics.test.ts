/**
 * Content serving over real HTTP/1.1 sockets: validators, RFC 9110 §13 precedence, ranges,
 * HEAD, per-class headers and user-content safety.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildOrigin } from '../../src/app.js';
import { LiveConfig } from '../../src/config/live.js';
import { ACTIVE_CONTENT_CSP } from '../../src/http/active-content.js';
import { createLogger } from '../../src/logger.js';
import { FsDriver } from '../../src/storage/fs.js';
import { startTestOrigin, type TestOrigin, tempDir } from '../helpers/origin.js';

let o: TestOrigin;
const body = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(100)); // 3600 bytes
let etag: string;
let lastModified: string;

async function get(path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const res = await request(`${o.url}${path}`, { method, headers });
  const buf = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body: buf };
}

function put(key: string, data: Buffer | string, contentType: string) {
  return o.storage.put(key, Readable.from([Buffer.from(data)]), { contentType });
}

/** Counts storage reads by wrapping the driver the app uses (the seam, not our code). */
function countGets() {
  const storage = o.app.edgewise.storage;
  const original = storage.get.bind(storage);
  const calls: Array<{ key: string; range?: { start: number; end: number } | undefined }> = [];
  storage.get = async (key, options) => {
    calls.push({ key, range: options?.range });
    return original(key, options);
  };
  return {
    calls,
    restore() {
      storage.get = original;
    },
  };
}

beforeAll(async () => {
  o = await startTestOrigin();
  const meta = await put('static/data.bin', body, 'application/octet-stream');
  etag = meta.etag;
  lastModified = meta.lastModified.toUTCString();
  await put('static/app.3f9a2c1e.js', 'console.log(1)', 'text/javascript');
  await put('api/v1.json', '{"a":1}', 'application/json');
  await put('u/evil.html', '<script>alert(1)</script>', 'text/html');
  await put('u/evil.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>', 'image/svg+xml');
  await put('u/photo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'image/png');
  await put('static/empty.txt', '', 'text/plain');
});
afterAll(() => o.close());

describe('validators and plain GET', () => {
  test('200 carries strong ETag, Last-Modified, Content-Type, Content-Length, Accept-Ranges, nosniff', async () => {
    const r = await get('/static/data.bin');
    expect(r.status).toBe(200);
    expect(r.body.equals(body)).toBe(true);
    expect(r.headers.etag).toBe(etag);
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(r.headers['last-modified']).toBe(lastModified);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['content-length']).toBe(String(body.length));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });

  test('HEAD: same headers, no body, no storage read', async () => {
    const counter = countGets();
    try {
      const r = await get('/static/data.bin', {}, 'HEAD');
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(0);
      expect(r.headers['content-length']).toBe(String(body.length));
      expect(r.headers.etag).toBe(etag);
      expect(r.headers['accept-ranges']).toBe('bytes');
      expect(counter.calls).toHaveLength(0);
    } finally {
      counter.restore();
    }
  });

  test('HEAD ignores Range (RFC 9110 §14.2: GET only)', async () => {
    const r = await get('/static/data.bin', { range: 'bytes=0-9' }, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(body.length));
  });

  test('empty object: 200 with Content-Length 0', async () => {
    const r = await get('/static/empty.txt');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('0');
    expect(r.body.length).toBe(0);
  });

  test('missing object is a coded 404', async () => {
    const r = await get('/static/nope.txt');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body.toString()).code).toBe('EDGEWISE_NOT_FOUND');
  });
});

describe('conditional requests (RFC 9110 §13.2.2 order)', () => {
  test('If-None-Match match → 304 with validators and Cache-Control, no body read', async () => {
    const counter = countGets();
    try {
      const r = await get('/static/data.bin', { 'if-none-match': etag });
      expect(r.status).toBe(304);
      expect(r.body.length).toBe(0);
      expect(r.headers.etag).toBe(etag);
      expect(r.headers['cache-control']).toContain('max-age=');
      expect(counter.calls).toHaveLength(0);
    } finally {
      counter.restore();
    }
  });

  test('If-None-Match uses weak comparison: W/ form of the tag still matches', async () => {
    const r = await get('/static/data.bin', { 'if-none-match': `"other", W/${etag}` });
    expect(r.status).toBe(304);
  });

  test('If-None-Match beats If-Modified-Since: a matching tag with an old date is 304', async () => {
    const r = await get('/static/data.bin', {
      'if-none-match': etag,
      'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT',
    });
    expect(r.status).toBe(304);
  });

  test('If-None-Match beats If-Modified-Since: a non-matching tag with a current date is 200', async () => {
    const r = await get('/static/data.bin', {
      'if-none-match': '"stale"',
      'if-modified-since': lastModified,
    });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(body.length);
  });

  test('If-Modified-Since alone: not modified → 304; modified since → 200', async () => {
    expect((await get('/static/data.bin', { 'if-modified-since': lastModified })).status).toBe(304);
    const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect((await get('/static/data.bin', { 'if-modified-since': earlier })).status).toBe(200);
  });

  test('request Cache-Control: no-cache does not stop the origin from answering 304', async () => {
    const r = await get('/static/data.bin', { 'if-none-match': etag, 'cache-control': 'no-cache' });
    expect(r.status).toBe(304);
  });

  test('If-Match mismatch → coded 412; strong comparison refuses a weak tag', async () => {
    const r = await get('/static/data.bin', { 'if-match': '"nope"' });
    expect(r.status).toBe(412);
    expect(JSON.parse(r.body.toString()).code).toBe('EDGEWISE_PRECONDITION_FAILED');
    expect(r.headers['cache-control']).toBe('no-store');
    expect((await get('/static/data.bin', { 'if-match': `W/${etag}` })).status).toBe(412);
  });

  test('If-Match match or * → 200', async () => {
    expect((await get('/static/data.bin', { 'if-match': `"x", ${etag}` })).status).toBe(200);
    expect((await get('/static/data.bin', { 'if-match': '*' })).status).toBe(200);
  });

  test('If-Unmodified-Since before Last-Modified → 412; at it → 200', async () => {
    const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect((await get('/static/data.bin', { 'if-unmodified-since': earlier })).status).toBe(412);
    expect((await get('/static/data.bin', { 'if-unmodified-since': lastModified })).status).toBe(200);
  });

  test('If-Match takes precedence over If-Unmodified-Since (which is then ignored)', async () => {
    const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
    const r = await get('/static/data.bin', { 'if-match': etag, 'if-unmodified-since': earlier });
    expect(r.status).toBe(200);
  });

  test('If-Match is evaluated before If-None-Match: failing If-Match is 412 even when If-None-Match matches', async () => {
    const r = await get('/static/data.bin', { 'if-match': '"nope"', 'if-none-match': etag });
    expect(r.status).toBe(412);
  });

  test('If-None-Match: * matches any current representation → 304; HEAD revalidates too', async () => {
    expect((await get('/static/data.bin', { 'if-none-match': '*' })).status).toBe(304);
    const head = await get('/static/data.bin', { 'if-none-match': etag }, 'HEAD');
    expect(head.status).toBe(304);
    expect(head.headers.etag).toBe(etag);
  });

  test('invalid If-Modified-Since date is ignored', async () => {
    expect((await get('/static/data.bin', { 'if-modified-since': 'yesterday-ish' })).status).toBe(200);
  });
});

describe('ranges (RFC 9110 §14)', () => {
  test('single range → 206 with Content-Range, read from storage as a range', async () => {
    const counter = countGets();
    try {
      const r = await get('/static/data.bin', { range: 'bytes=10-19' });
      expect(r.status).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes 10-19/${body.length}`);
      expect(r.headers['content-length']).toBe('10');
      expect(r.body.toString()).toBe(body.subarray(10, 20).toString());
      expect(counter.calls).toEqual([{ key: 'static/data.bin', range: { start: 10, end: 19 } }]);
    } finally {
      counter.restore();
    }
  });

  test('suffix and open-ended ranges', async () => {
    const a = await get('/static/data.bin', { range: 'bytes=-5' });
    expect(a.status).toBe(206);
    expect(a.body.equals(body.subarray(body.length - 5))).toBe(true);
    const b = await get('/static/data.bin', { range: `bytes=${body.length - 3}-` });
    expect(b.headers['content-range']).toBe(`bytes ${body.length - 3}-${body.length - 1}/${body.length}`);
    expect(b.body.length).toBe(3);
  });

  test('range past the end is clamped to the object', async () => {
    const r = await get('/static/data.bin', { range: 'bytes=3590-99999' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 3590-3599/${body.length}`);
    expect(r.body.length).toBe(10);
  });

  test('multiple disjoint ranges → the whole object with 200 (documented choice)', async () => {
    const r = await get('/static/data.bin', { range: 'bytes=0-1,100-101' });
    expect(r.status).toBe(200);
    expect(r.headers['content-range']).toBeUndefined();
    expect(r.body.equals(body)).toBe(true);
  });

  test('overlapping ranges coalesce into one 206', async () => {
    const r = await get('/static/data.bin', { range: 'bytes=0-9,5-19' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 0-19/${body.length}`);
  });

  test('unsatisfiable → coded 416 with Content-Range: bytes */size', async () => {
    const r = await get('/static/data.bin', { range: 'bytes=99999-' });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${body.length}`);
    expect(JSON.parse(r.body.toString()).code).toBe('EDGEWISE_RANGE_NOT_SATISFIABLE');
    const empty = await get('/static/empty.txt', { range: 'bytes=0-0' });
    expect(empty.status).toBe(416);
    expect(empty.headers['content-range']).toBe('bytes */0');
  });

  test('malformed Range or another unit is ignored → 200', async () => {
    expect((await get('/static/data.bin', { range: 'bytes=abc' })).status).toBe(200);
    expect((await get('/static/data.bin', { range: 'items=0-1' })).status).toBe(200);
  });

  test('If-Range with the current ETag → 206; with another ETag → 200 full', async () => {
    const ok = await get('/static/data.bin', { range: 'bytes=0-3', 'if-range': etag });
    expect(ok.status).toBe(206);
    const stale = await get('/static/data.bin', { range: 'bytes=0-3', 'if-range': '"old"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(body.length);
  });

  test('If-Range needs strong comparison: a weak tag never matches', async () => {
    const r = await get('/static/data.bin', { range: 'bytes=0-3', 'if-range': `W/${etag}` });
    expect(r.status).toBe(200);
  });

  test('If-Range with the Last-Modified date → 206; another date → 200', async () => {
    expect((await get('/static/data.bin', { range: 'bytes=0-3', 'if-range': lastModified })).status).toBe(
      206,
    );
    const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect((await get('/static/data.bin', { range: 'bytes=0-3', 'if-range': earlier })).status).toBe(200);
  });

  test('preconditions come before Range: If-None-Match match with Range → 304', async () => {
    const r = await get('/static/data.bin', { range: 'bytes=0-3', 'if-none-match': etag });
    expect(r.status).toBe(304);
  });
});

describe('headers per content class', () => {
  test('static_assets: public, browser TTL as max-age, edge TTL as s-maxage, stale-*', async () => {
    const r = await get('/static/data.bin');
    expect(r.headers['cache-control']).toBe(
      'public, max-age=3600, s-maxage=86400, stale-while-revalidate=60, stale-if-error=86400',
    );
  });

  test('fingerprinted names are immutable for a year', async () => {
    const r = await get('/static/app.3f9a2c1e.js');
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, s-maxage=31536000, immutable');
  });

  test('api_responses: max-age=0 with the edge TTL, no compression Vary', async () => {
    const r = await get('/api/v1.json', { 'accept-encoding': 'gzip' });
    expect(r.headers['cache-control']).toBe('public, max-age=0, s-maxage=300, stale-if-error=60');
    expect(r.headers.vary).toBeUndefined();
    expect(r.headers['content-encoding']).toBeUndefined();
  });

  test('config reload (what SIGHUP runs): the next response uses the new TTLs', async () => {
    const dir = await tempDir();
    const file = join(dir, 'edgewise.yaml');
    const yaml = (ttl: number) =>
      `storage:\n  driver: fs\n  fs:\n    dataDir: ${JSON.stringify(join(dir, 'data'))}\n` +
      `classes:\n  - name: static_assets\n    pathPatterns: ['/static/*']\n    ttl: { min: 0, default: ${ttl * 10}, max: 86400 }\n    browserTtl: ${ttl}\n` +
      `  - name: user_content\n    pathPatterns: ['/u/*']\n    ttl: { min: 0, default: 60, max: 60 }\n    browserTtl: 60\n`;
    await writeFile(file, yaml(100));
    const store = LiveConfig.load({ file, env: {} });
    const storage = new FsDriver({ dataDir: join(dir, 'data') });
    await storage.put('static/x.txt', Readable.from([Buffer.from('x')]), { contentType: 'text/plain' });
    const app = await buildOrigin({
      config: store,
      storage,
      logger: createLogger({ level: 'silent', pretty: false }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/static/x.txt`;
    try {
      const before = await request(url);
      await before.body.dump();
      expect(before.headers['cache-control']).toBe('public, max-age=100, s-maxage=1000');
      await writeFile(file, yaml(7));
      store.reload();
      const after = await request(url);
      await after.body.dump();
      expect(after.headers['cache-control']).toBe('public, max-age=7, s-maxage=70');
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('user content safety', () => {
  test('HTML upload: attachment + CSP sandbox + nosniff, private cache unless signed', async () => {
    const r = await get('/u/evil.html');
    expect(r.status).toBe(200);
    expect(r.headers['content-disposition']).toBe('attachment');
    expect(r.headers['content-security-policy']).toBe(ACTIVE_CONTENT_CSP);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    // user_content is signed by default: the edge checks the signature and may cache it.
    expect(r.headers['cache-control']).toBe('public, max-age=3600, s-maxage=3600, stale-if-error=3600');
  });

  test('SVG upload is an attachment too; a PNG is inline but still sandboxed', async () => {
    const svg = await get('/u/evil.svg');
    expect(svg.headers['content-disposition']).toBe('attachment');
    const png = await get('/u/photo.png');
    expect(png.headers['content-disposition']).toBeUndefined();
    expect(png.headers['content-security-policy']).toBe('sandbox');
  });

  test('an unsigned user-content class is private: no shared cache may keep it', async () => {
    const classes = o.store.current.classes.map((c) =>
      c.name === 'user_content' ? { ...c, signed: false } : c,
    );
    const other = await startTestOrigin({ classes });
    try {
      await other.storage.put('u/note.txt', Readable.from([Buffer.from('hi')]), {
        contentType: 'text/plain',
      });
      const res = await request(`${other.url}/u/note.txt`);
      await res.body.dump();
      expect(res.headers['cache-control']).toBe('private, max-age=3600');
      expect(res.headers['content-security-policy']).toBe('sandbox');
    } finally {
      await other.close();
    }
  });

  test('HTML outside user-content classes renders inline, sandboxed (uploads can land anywhere)', async () => {
    await put('static/page.html', '<p>hi</p>', 'text/html; charset=utf-8');
    const r = await get('/static/page.html');
    expect(r.headers['content-disposition']).toBeUndefined();
    expect(r.headers['content-security-policy']).toBe(ACTIVE_CONTENT_CSP);
  });
});
