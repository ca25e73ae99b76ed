/**
 * Stored partial responses (src/edge/partial.ts): a range miss is forwarded as asked, the 206
 * is stored as a part, ranges inside it are hits, parts with one strong ETag combine, and what a
 * part cannot answer goes to the origin. The origin here answers ranges itself (range-parser),
 * so every answer can be compared with the bytes of the whole representation.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import rangeParser from 'range-parser';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CountingOrigin, startCountingOrigin, startTestEdge, type TestEdge } from './helpers.js';

let origin: CountingOrigin;
let edge: TestEdge | undefined;

beforeEach(async () => {
  origin = await startCountingOrigin();
});
afterEach(async () => {
  await edge?.close();
  edge = undefined;
  await origin.close();
});

const BODY = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

/** An origin object that honours single ranges; `etag` undefined sends none. */
function rangedObject(body: Buffer, etag: string | undefined = '"v1"', extra: Record<string, string> = {}) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const base: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'cache-control': 'max-age=600',
      ...(etag ? { etag } : {}),
      ...extra,
    };
    const header = req.headers.range;
    const r = header ? rangeParser(body.length, header) : -2;
    if (r === -1) {
      res.writeHead(416, { ...base, 'content-range': `bytes */${body.length}` });
      res.end();
      return;
    }
    if (typeof r === 'number' || r.length !== 1) {
      res.writeHead(200, { ...base, 'content-length': String(body.length) });
      res.end(body);
      return;
    }
    const { start, end } = r[0]!;
    res.writeHead(206, {
      ...base,
      'content-range': `bytes ${start}-${end}/${body.length}`,
      'content-length': String(end - start + 1),
    });
    res.end(body.subarray(start, end + 1));
  };
}

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(`${edge!.url}${path}`, { headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, cache: res.headers['x-cache'] };
}

async function held(path: string, range: string) {
  for (let i = 0; i < 200; i++) {
    if ((await get(path, { range, 'cache-control': 'only-if-cached' })).status === 206) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the edge never held ${range} of ${path}`);
}

describe('stored partial responses', () => {
  beforeEach(async () => {
    edge = await startTestEdge(origin.url);
  });

  it('forwards a range miss as asked, stores the 206 and answers ranges inside it from the part', async () => {
    origin.route('/t/a.bin', rangedObject(BODY));
    const first = await get('/t/a.bin', { range: 'bytes=10-19' });
    expect(first.status).toBe(206);
    expect(first.cache).toBe('Miss from edgewise');
    expect(first.body.toString()).toBe('abcdefghij');
    expect(origin.requests[0]?.headers.range).toBe('bytes=10-19');

    for (const [range, want, cr] of [
      ['bytes=10-19', 'abcdefghij', 'bytes 10-19/36'],
      ['bytes=12-14', 'cde', 'bytes 12-14/36'],
      ['bytes=15-19', 'fghij', 'bytes 15-19/36'],
    ] as const) {
      const hit = await get('/t/a.bin', { range });
      expect(hit.status, range).toBe(206);
      expect(hit.cache, range).toBe('Hit from edgewise');
      expect(hit.body.toString(), range).toBe(want);
      expect(hit.headers['content-range'], range).toBe(cr);
      expect(hit.headers['content-length'], range).toBe(String(want.length));
      expect(hit.headers.etag, range).toBe('"v1"');
    }
    expect(origin.count('/t/a.bin')).toBe(1);
  });

  it('serves suffix and open ranges from a stored tail part', async () => {
    origin.route('/t/tail.bin', rangedObject(BODY));
    expect((await get('/t/tail.bin', { range: 'bytes=-6' })).body.toString()).toBe('uvwxyz');
    const suffix = await get('/t/tail.bin', { range: 'bytes=-2' });
    expect([suffix.cache, suffix.body.toString(), suffix.headers['content-range']]).toEqual([
      'Hit from edgewise',
      'yz',
      'bytes 34-35/36',
    ]);
    const open = await get('/t/tail.bin', { range: 'bytes=32-' });
    expect([open.cache, open.body.toString()]).toEqual(['Hit from edgewise', 'wxyz']);
    expect(origin.count('/t/tail.bin')).toBe(1);
  });

  it('a range outside the part and a whole-object request go to the origin; the complete copy then answers all', async () => {
    origin.route('/t/b.bin', rangedObject(BODY));
    await get('/t/b.bin', { range: 'bytes=0-3' });
    const outside = await get('/t/b.bin', { range: 'bytes=20-25' });
    expect([outside.status, outside.cache, outside.body.toString()]).toEqual([
      206,
      'Miss from edgewise',
      'klmnop',
    ]);
    expect(origin.requests[1]?.headers.range).toBe('bytes=20-25');
    const whole = await get('/t/b.bin');
    expect([whole.status, whole.cache]).toEqual([200, 'Miss from edgewise']);
    expect(whole.body.equals(BODY)).toBe(true);
    expect(origin.requests[2]?.headers.range).toBeUndefined();
    const after = await get('/t/b.bin', { range: 'bytes=30-' });
    expect([after.status, after.cache, after.body.toString()]).toEqual([206, 'Hit from edgewise', 'uvwxyz']);
    expect((await get('/t/b.bin')).cache).toBe('Hit from edgewise');
    expect(origin.count('/t/b.bin')).toBe(3);
  });

  it('combines parts that share a strong ETag, until they are the whole representation', async () => {
    origin.route('/t/c.bin', rangedObject(BODY));
    await get('/t/c.bin', { range: 'bytes=0-9' });
    await get('/t/c.bin', { range: 'bytes=10-29' });
    // 0-9 and 10-29 touch: one part 0-29, so a range across the seam is a hit.
    const seam = await get('/t/c.bin', { range: 'bytes=5-14' });
    expect([seam.cache, seam.body.toString()]).toEqual(['Hit from edgewise', '56789abcde']);
    await get('/t/c.bin', { range: 'bytes=25-35' });
    const whole = await get('/t/c.bin');
    expect([whole.status, whole.cache, whole.headers['content-length']]).toEqual([
      200,
      'Hit from edgewise',
      String(BODY.length),
    ]);
    expect(whole.body.equals(BODY)).toBe(true);
    expect(origin.count('/t/c.bin')).toBe(3);
  });

  it('does not combine parts without a strong validator: the newer part replaces the older', async () => {
    origin.route('/t/weak.bin', rangedObject(BODY, 'W/"w1"'));
    await get('/t/weak.bin', { range: 'bytes=0-9' });
    await get('/t/weak.bin', { range: 'bytes=10-19' });
    expect((await get('/t/weak.bin', { range: 'bytes=12-13' })).cache).toBe('Hit from edgewise');
    const old = await get('/t/weak.bin', { range: 'bytes=2-3' });
    expect([old.cache, old.body.toString()]).toEqual(['Miss from edgewise', '23']);
  });

  it('answers conditionals and unsatisfiable ranges from a part’s validators and length', async () => {
    origin.route('/t/d.bin', rangedObject(BODY));
    await get('/t/d.bin', { range: 'bytes=0-9' });
    const nm = await get('/t/d.bin', { 'if-none-match': '"v1"' });
    expect([nm.status, nm.cache]).toEqual([304, 'Hit from edgewise']);
    const bad = await get('/t/d.bin', { range: 'bytes=99-' });
    expect([bad.status, bad.headers['content-range']]).toEqual([416, 'bytes */36']);
    expect(origin.count('/t/d.bin')).toBe(1);
  });

  it('stores nothing for a 416, a part with an unknown length, or a part the origin may not let caches store', async () => {
    origin.route('/t/e.bin', rangedObject(BODY));
    expect((await get('/t/e.bin', { range: 'bytes=99-' })).status).toBe(416);
    expect((await get('/t/e.bin')).cache).toBe('Miss from edgewise');
    origin.route('/t/star.bin', (_req, res) => {
      res.writeHead(206, { 'cache-control': 'max-age=600', 'content-range': 'bytes 0-1/*' });
      res.end('01');
    });
    await get('/t/star.bin', { range: 'bytes=0-1' });
    expect((await get('/t/star.bin', { range: 'bytes=0-1' })).cache).toBe('Miss from edgewise');
    origin.route('/t/private.bin', rangedObject(BODY, '"p"', { 'cache-control': 'private, max-age=600' }));
    await get('/t/private.bin', { range: 'bytes=0-1' });
    expect((await get('/t/private.bin', { range: 'bytes=0-1' })).cache).toBe('Miss from edgewise');
    expect(origin.count('/t/star.bin') + origin.count('/t/private.bin')).toBe(4);
  });

  it('fetches the whole object for If-Range and for several ranges, and answers them from it', async () => {
    origin.route('/t/f.bin', rangedObject(BODY));
    const ifRange = await get('/t/f.bin', { range: 'bytes=0-1', 'if-range': '"v1"' });
    expect([ifRange.status, ifRange.body.toString()]).toEqual([206, '01']);
    expect(origin.requests[0]?.headers.range).toBeUndefined();
    expect((await get('/t/f.bin')).cache).toBe('Hit from edgewise');
    origin.route('/t/g.bin', rangedObject(BODY));
    const multi = await get('/t/g.bin', { range: 'bytes=0-1,5-6' });
    expect(multi.status).toBe(200);
    expect(origin.requests[2]?.headers.range).toBeUndefined();
  });

  it('a part the origin sends with fewer bytes than its Content-Range says is not kept', async () => {
    origin.route('/t/short.bin', (_req, res) => {
      res.writeHead(206, { 'cache-control': 'max-age=600', 'content-range': 'bytes 0-9/36' });
      res.end('01234');
    });
    await get('/t/short.bin', { range: 'bytes=0-9' });
    await get('/t/short.bin', { range: 'bytes=0-4' });
    expect(origin.count('/t/short.bin')).toBe(2);
  });
});

describe('stored partial responses in the disk tier', () => {
  it('serves ranges of a part whose bytes live in a file, and combines with it', async () => {
    edge = await startTestEdge(origin.url, {}, { cache: { diskThresholdBytes: 1024 } });
    const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => 33 + (i % 90)));
    origin.route('/t/big.bin', rangedObject(big));
    await get('/t/big.bin', { range: 'bytes=1000-3999' });
    // The disk tier writes the file after the viewer's answer ended: wait until the edge holds
    // it, asking with only-if-cached (a probe never reaches the origin).
    await held('/t/big.bin', 'bytes=2000-2002');
    const hit = await get('/t/big.bin', { range: 'bytes=2000-2002' });
    expect([hit.cache, hit.headers['content-range']]).toEqual(['Hit from edgewise', 'bytes 2000-2002/5000']);
    expect(hit.body.equals(big.subarray(2000, 2003))).toBe(true);
    expect((await get('/t/big.bin', { range: 'bytes=0-1499' })).cache).toBe('Miss from edgewise');
    await held('/t/big.bin', 'bytes=500-2500');
    const seam = await get('/t/big.bin', { range: 'bytes=500-2500' });
    expect(seam.cache).toBe('Hit from edgewise');
    expect(seam.body.equals(big.subarray(500, 2501))).toBe(true);
    expect(origin.count('/t/big.bin')).toBe(2);
  });
});
