/**
 * `storageDriverTests(makeDriver)`: the one suite every StorageDriver passes (undici's
 * `cacheStoreTests` pattern). Call it inside a `describe` per driver.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { StorageDriver } from '../../src/storage/types.js';

export interface DriverFixture {
  driver: StorageDriver;
  /** Writes in progress that a failed put may have left behind (temp files, multipart uploads). */
  leftovers(): Promise<number>;
  cleanup(): Promise<void>;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function* chunks(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** A body that sends `head`, then waits for `release()` before sending `tail` (or failing). */
/** A body that sends `head`, then waits; `reading` settles once the driver has asked for bytes. */
function gatedBody(head: Buffer, tail: Buffer) {
  let started!: () => void;
  const reading = new Promise<void>((r) => {
    started = r;
  });
  let sent = false;
  const stream = new Readable({
    read() {
      if (sent) return;
      sent = true;
      this.push(head);
      started();
    },
  });
  return {
    stream,
    reading,
    release: () => {
      stream.push(tail);
      stream.push(null);
    },
    fail: (err: Error) => stream.destroy(err),
  };
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; statusCode?: number }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; statusCode?: number };
  }
  throw new Error('expected a rejection');
}

export function storageDriverTests(makeDriver: () => Promise<DriverFixture>): void {
  let f: DriverFixture;
  let d: StorageDriver;
  // Unique per run, so a real bucket can be shared by concurrent runs.
  const p = `conf-${randomBytes(4).toString('hex')}/`;
  beforeAll(async () => {
    f = await makeDriver();
    d = f.driver;
  });
  afterAll(async () => {
    await f?.cleanup();
  });

  test('a missing key is undefined for head and get, and delete says false', async () => {
    expect(await d.head(`${p}missing`)).toBeUndefined();
    expect(await d.get(`${p}missing`)).toBeUndefined();
    expect(await d.delete(`${p}missing`)).toBe(false);
  });

  test('put then head/get returns the bytes, type, encoding, metadata, ETag and SHA-256', async () => {
    const body = Buffer.from('hello, conformance');
    const put = await d.put(`${p}a/hello.txt`, Readable.from([body]), {
      contentType: 'text/plain; charset=utf-8',
      contentEncoding: 'gzip',
      metadata: { 'source-etag': '"abc"', owner: 'u1' },
    });
    expect(put).toMatchObject({ key: `${p}a/hello.txt`, size: body.length, sha256: sha(body) });
    expect(put.etag).toMatch(/^"[^"]+"$/);
    const head = await d.head(`${p}a/hello.txt`);
    expect(head).toMatchObject({
      key: `${p}a/hello.txt`,
      size: body.length,
      contentType: 'text/plain; charset=utf-8',
      contentEncoding: 'gzip',
      etag: put.etag,
      sha256: sha(body),
      metadata: { 'source-etag': '"abc"', owner: 'u1' },
    });
    expect(head!.lastModified).toBeInstanceOf(Date);
    const got = await d.get(`${p}a/hello.txt`);
    expect(got!.meta.etag).toBe(put.etag);
    expect(got!.meta.size).toBe(body.length);
    expect((await readAll(got!.body)).equals(body)).toBe(true);
  });

  test('an empty body is an object of size 0', async () => {
    const put = await d.put(`${p}empty`, Readable.from([]), { contentType: 'application/octet-stream' });
    expect(put.size).toBe(0);
    const got = await d.get(`${p}empty`);
    expect(got!.meta.size).toBe(0);
    expect((await readAll(got!.body)).length).toBe(0);
  });

  test('byte ranges: inside, clamped at the end, and starting past the end', async () => {
    const body = Buffer.from('0123456789');
    await d.put(`${p}range.bin`, Readable.from([body]), { contentType: 'application/octet-stream' });
    const mid = await d.get(`${p}range.bin`, { range: { start: 2, end: 5 } });
    expect((await readAll(mid!.body)).toString()).toBe('2345');
    expect(mid!.range).toEqual({ start: 2, end: 5 });
    expect(mid!.meta.size).toBe(10);
    const tail = await d.get(`${p}range.bin`, { range: { start: 7, end: 100 } });
    expect((await readAll(tail!.body)).toString()).toBe('789');
    expect(tail!.range).toEqual({ start: 7, end: 9 });
    const past = await d.get(`${p}range.bin`, { range: { start: 20, end: 30 } });
    expect(past!.meta.size).toBe(10);
    expect((await readAll(past!.body)).length).toBe(0);
  });

  test('an overwrite replaces body and metadata and changes the ETag', async () => {
    const one = await d.put(`${p}over`, Readable.from([Buffer.from('one')]), { contentType: 'text/plain' });
    const two = await d.put(`${p}over`, Readable.from([Buffer.from('second')]), {
      contentType: 'text/css',
      metadata: { v: '2' },
    });
    expect(two.etag).not.toBe(one.etag);
    const got = await d.get(`${p}over`);
    expect((await readAll(got!.body)).toString()).toBe('second');
    expect(got!.meta).toMatchObject({ contentType: 'text/css', metadata: { v: '2' } });
  });

  test('delete removes the object and answers true', async () => {
    await d.put(`${p}del`, Readable.from([Buffer.from('x')]), { contentType: 'text/plain' });
    expect(await d.delete(`${p}del`)).toBe(true);
    expect(await d.head(`${p}del`)).toBeUndefined();
  });

  test('list returns objects under a prefix in key order, honours limit; a and a/b coexist', async () => {
    const keys = [`${p}ls/b`, `${p}ls/a`, `${p}ls/a/b`, `${p}ls/c.txt`, `${p}lsx`];
    for (const k of keys) await d.put(k, Readable.from([Buffer.from(k)]), { contentType: 'text/plain' });
    const all: string[] = [];
    for await (const m of d.list(`${p}ls/`)) all.push(m.key);
    // s3rver walks folders before files, so `a/b` may come before `a`; S3 and fs sort by key.
    expect(all.filter((k) => !k.endsWith('/a/b'))).toEqual([`${p}ls/a`, `${p}ls/b`, `${p}ls/c.txt`]);
    expect([...all].sort()).toEqual([`${p}ls/a`, `${p}ls/a/b`, `${p}ls/b`, `${p}ls/c.txt`]);
    const two: string[] = [];
    for await (const m of d.list(`${p}ls/`, { limit: 2 })) two.push(m.key);
    expect(two).toEqual(all.slice(0, 2));
    const a = await d.get(`${p}ls/a`);
    expect((await readAll(a!.body)).toString()).toBe(`${p}ls/a`);
  });

  test('unsafe keys are refused with EDGEWISE_BAD_KEY before any I/O', async () => {
    for (const key of [
      '../escape',
      `${p}a/../../x`,
      '/abs',
      `${p}ctl\u0001`,
      `${p}${'k'.repeat(1100)}`,
      '',
    ]) {
      expect((await rejection(d.head(key))).code).toBe('EDGEWISE_BAD_KEY');
      expect(
        (await rejection(d.put(key, Readable.from([Buffer.from('x')]), { contentType: 'text/plain' }))).code,
      ).toBe('EDGEWISE_BAD_KEY');
    }
  });

  test('maxBytes: 413 code, nothing stored, an existing object stays intact', async () => {
    await d.put(`${p}limit`, Readable.from([Buffer.from('keep me')]), { contentType: 'text/plain' });
    const err = await rejection(
      d.put(`${p}limit`, Readable.from([randomBytes(4096), randomBytes(4096)]), {
        contentType: 'text/plain',
        maxBytes: 5000,
      }),
    );
    expect(err).toMatchObject({ code: 'EDGEWISE_UPLOAD_TOO_LARGE', statusCode: 413 });
    const got = await d.get(`${p}limit`);
    expect((await readAll(got!.body)).toString()).toBe('keep me');
    const fresh = await rejection(
      d.put(`${p}limit-new`, Readable.from([randomBytes(6000)]), {
        contentType: 'text/plain',
        maxBytes: 5000,
      }),
    );
    expect(fresh.code).toBe('EDGEWISE_UPLOAD_TOO_LARGE');
    expect(await d.head(`${p}limit-new`)).toBeUndefined();
    expect(await f.leftovers()).toBe(0);
  });

  test('expectedSha256: a mismatch stores nothing; a match stores and records it', async () => {
    const body = Buffer.from('checksummed');
    const bad = await rejection(
      d.put(`${p}sum`, Readable.from([body]), {
        contentType: 'text/plain',
        expectedSha256: sha(Buffer.from('x')),
      }),
    );
    expect(bad).toMatchObject({ code: 'EDGEWISE_CHECKSUM_MISMATCH', statusCode: 400 });
    expect(await d.head(`${p}sum`)).toBeUndefined();
    const ok = await d.put(`${p}sum`, Readable.from([body]), {
      contentType: 'text/plain',
      expectedSha256: sha(body).toUpperCase(),
    });
    expect(ok.sha256).toBe(sha(body));
    expect((await d.head(`${p}sum`))!.sha256).toBe(sha(body));
    expect(await f.leftovers()).toBe(0);
  });

  test('nothing partial is visible: a reader polling during a slow put sees old-or-nothing, then all', async () => {
    const key = `${p}slow`;
    const head = randomBytes(64 * 1024);
    const tail = randomBytes(64 * 1024);
    const gate = gatedBody(head, tail);
    const writing = d.put(key, gate.stream, { contentType: 'application/octet-stream' });
    // Poll only once the driver is writing (it has read the first bytes).
    await gate.reading;
    const seen = new Set<number | undefined>();
    for (let i = 0; i < 20; i++) {
      seen.add((await d.head(key))?.size);
      const got = await d.get(key);
      if (got) seen.add((await readAll(got.body)).length);
    }
    expect([...seen]).toEqual([undefined]);
    gate.release();
    const meta = await writing;
    const full = Buffer.concat([head, tail]);
    expect(meta.sha256).toBe(sha(full));
    expect(sha(await readAll((await d.get(key))!.body))).toBe(sha(full));
  });

  test('a body that fails mid-stream stores nothing, leaves the old object and no leftovers', async () => {
    const key = `${p}broken`;
    await d.put(key, Readable.from([Buffer.from('old')]), { contentType: 'text/plain' });
    const gate = gatedBody(randomBytes(32 * 1024), Buffer.alloc(0));
    const writing = rejection(d.put(key, gate.stream, { contentType: 'text/plain' }));
    await gate.reading;
    gate.fail(new Error('client went away'));
    await writing;
    expect((await readAll((await d.get(key))!.body)).toString()).toBe('old');
    expect(await f.leftovers()).toBe(0);
  });

  test('an AbortSignal stops the write: EDGEWISE_UPLOAD_ABORTED, nothing stored, no leftovers', async () => {
    const key = `${p}aborted`;
    const gate = gatedBody(randomBytes(32 * 1024), Buffer.alloc(0));
    const ac = new AbortController();
    const writing = rejection(d.put(key, gate.stream, { contentType: 'text/plain', signal: ac.signal }));
    await gate.reading;
    ac.abort();
    expect((await writing).code).toBe('EDGEWISE_UPLOAD_ABORTED');
    expect(await d.head(key)).toBeUndefined();
    expect(await f.leftovers()).toBe(0);
  });

  test('a body larger than one part round-trips; failing after a part was sent leaves no upload', async () => {
    // The driver's declared multipart capability says where its multi-part path starts.
    const partSize = d.multipart?.partBytes ?? 5 * 1024 * 1024;
    const big = randomBytes(partSize * 2 + 12345);
    const meta = await d.put(
      `${p}big.bin`,
      Readable.from([big.subarray(0, partSize + 7), big.subarray(partSize + 7)]),
      {
        contentType: 'application/octet-stream',
      },
    );
    expect(meta.size).toBe(big.length);
    expect(meta.sha256).toBe(sha(big));
    const head = await d.head(`${p}big.bin`);
    expect(head!.size).toBe(big.length);
    expect(sha(await readAll((await d.get(`${p}big.bin`))!.body))).toBe(sha(big));
    // Exceeding maxBytes only after whole parts went out must abort them all.
    const err = await rejection(
      d.put(`${p}big-too.bin`, Readable.from(chunks(big, 64 * 1024)), {
        contentType: 'application/octet-stream',
        maxBytes: partSize * 2,
      }),
    );
    expect(err.code).toBe('EDGEWISE_UPLOAD_TOO_LARGE');
    expect(await d.head(`${p}big-too.bin`)).toBeUndefined();
    expect(await f.leftovers()).toBe(0);
  });

  test('declared capabilities hold: cleanup finds nothing after the failed puts above, a signing target is ours', async () => {
    if (d.cleanupIncomplete) {
      // Every failed put in this suite removed its own partial write; an hour from now they
      // would all be old enough to be found.
      expect(await d.cleanupIncomplete(Date.now() + 3600_000, true)).toEqual([]);
    }
    if (d.multipart) expect(d.multipart.partBytes).toBeGreaterThanOrEqual(5 * 1024 * 1024); // S3's minimum part
    if (d.presignedPost) expect(d.presignedPost.prefix).toMatch(/^$|\/$/);
  });

  test('check resolves when the store is reachable', async () => {
    await expect(d.check()).resolves.toBeUndefined();
  });
}
