/**
 * Resumable uploads in Uppy's @uppy/aws-s3 protocol (src/routes/multipart-resumable.ts), against
 * a real origin on 127.0.0.1:0 with the fs driver and with the s3 driver on s3rver. The client
 * here is plain fetch speaking the shapes @uppy/aws-s3 6.x's CompanionS3 sends and reads
 * (POST /s3/multipart, GET /s3/multipart/:id/:n, GET /s3/multipart/:id, POST …/complete,
 * DELETE), except that it sends parts in parallel, as a mobile client would.
 * s3rver takes presigned UploadPart URLs but has no ListParts: test/helpers/s3rver.ts fills it
 * in from s3rver's own part files (a part cut mid-body has no .md5 there and is not listed,
 * which matches S3, where a part whose body is cut is not stored at all).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cleanupIncomplete } from '../../src/storage/cleanup.js';
import { grantFor } from '../../src/uploads/grant.js';
import { resumableEndpoint } from '../../src/uploads/multipart-token.js';
import { type DriverKind, startUploadOrigin, type UploadOrigin } from './helpers.js';

const MiB = 1024 * 1024;

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: protocol answers, asserted field by field
  json: any;
  headers: Headers;
}

/** One protocol client bound to an endpoint E (Uppy's companionEndpoint). */
function client(E: string) {
  const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(`${E}/s3${path}`, {
      method,
      ...(body !== undefined
        ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
        : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
  const q = (key: string) => `?${new URLSearchParams({ key })}`;
  return {
    create: (filename: string, type: string) =>
      call('POST', '/multipart', { filename, type, metadata: { name: filename } }),
    sign: (id: string, n: number, key: string) =>
      call('GET', `/multipart/${encodeURIComponent(id)}/${n}${q(key)}`),
    list: (id: string, key: string) => call('GET', `/multipart/${encodeURIComponent(id)}${q(key)}`),
    complete: (id: string, key: string, parts: Array<{ PartNumber: number; ETag: string }>) =>
      call('POST', `/multipart/${encodeURIComponent(id)}/complete${q(key)}`, { parts }),
    abort: (id: string, key: string) => call('DELETE', `/multipart/${encodeURIComponent(id)}${q(key)}`),
    params: (filename: string, type: string) =>
      call('GET', `/params?${new URLSearchParams({ filename, type })}`),
  };
}

/** PUT one part's bytes to its signed URL; the ETag the client keeps for completion. */
async function putPart(url: string, bytes: Buffer): Promise<{ status: number; etag: string | null }> {
  const res = await fetch(url, { method: 'PUT', body: bytes });
  await res.arrayBuffer();
  return { status: res.status, etag: res.headers.get('etag') };
}

/** A PUT cut after `sent` bytes (the connection drops), as a lossy link does. */
async function cutPart(url: string, bytes: Buffer, sent: number): Promise<void> {
  const ac = new AbortController();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.subarray(0, sent));
      setTimeout(() => ac.abort(), 200);
    },
  });
  await fetch(url, {
    method: 'PUT',
    body,
    signal: ac.signal,
    headers: { 'content-length': String(bytes.length) },
    duplex: 'half',
  } as RequestInit).catch(() => undefined);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function stored(o: UploadOrigin, key: string): Promise<Buffer | undefined> {
  const got = await o.storage.get(key);
  if (!got) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of got.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe.each<DriverKind>(['fs', 's3'])('resumable uploads (%s driver)', (kind) => {
  let o: UploadOrigin;
  let E: string;
  let c: ReturnType<typeof client>;
  const endpoint = (req: Parameters<typeof grantFor>[1]) => {
    const uploads = o.store.current.uploads;
    return resumableEndpoint(uploads, grantFor(uploads, req), o.url);
  };

  beforeAll(async () => {
    o = await startUploadOrigin(kind, { precompress: { enabled: false } });
    E = endpoint({ prefix: 'r/', maxBytes: 64 * MiB });
    c = client(E);
  });
  afterAll(() => o?.close());

  test('create → parallel parts, one cut → list → resume the missing one → complete: same bytes', async () => {
    const file = randomBytes(11 * MiB);
    const sizes = [5 * MiB, 5 * MiB, 1 * MiB];
    const chunks = sizes.map((_, i) => file.subarray(i * 5 * MiB, i * 5 * MiB + sizes[i]!));
    const created = await c.create('movie.bin', 'application/octet-stream');
    expect(created.status).toBe(200);
    const { uploadId, key } = created.json as { uploadId: string; key: string };
    expect(key).toBe('r/movie.bin');
    const urls = await Promise.all([1, 2, 3].map((n) => c.sign(uploadId, n, key)));
    for (const u of urls)
      expect(u.json).toMatchObject({ url: expect.any(String), expires: expect.any(Number) });
    if (kind === 's3') {
      // Bytes go to the bucket, never through the origin, and the URL asks for no checksum a
      // browser could not send.
      expect(new URL(urls[0]!.json.url).port).toBe(new URL(o.s3rver!.endpoint).port);
      expect(urls[0]!.json.url).not.toMatch(/x-amz-checksum|x-amz-sdk-checksum/i);
    } else {
      expect(urls[0]!.json.url).toContain(`${o.url}/uploads/.edgewise/parts/`);
    }
    // Parts 1 and 3 arrive (in parallel); part 2 is cut half way.
    const [p1, , p3] = await Promise.all([
      putPart(urls[0]!.json.url, chunks[0]!),
      cutPart(urls[1]!.json.url, chunks[1]!, 2 * MiB),
      putPart(urls[2]!.json.url, chunks[2]!),
    ]);
    expect(p1.status).toBe(200);
    expect(p3.status).toBe(200);
    expect(p1.etag).toMatch(/^"[0-9a-f]{32}"$/);

    // A reload later: the client has only uploadId and key. List what is stored.
    const listed = await c.list(uploadId, key);
    expect(listed.status).toBe(200);
    expect(listed.json.map((p: { PartNumber: number }) => p.PartNumber)).toEqual([1, 3]);
    expect(listed.json[0]).toMatchObject({ PartNumber: 1, Size: 5 * MiB, ETag: p1.etag });
    expect(listed.json[1]).toMatchObject({ PartNumber: 3, Size: 1 * MiB, ETag: p3.etag });

    // Resume: only the missing part is sent again.
    const again = await c.sign(uploadId, 2, key);
    const p2 = await putPart(again.json.url, chunks[1]!);
    expect(p2.status).toBe(200);
    // Uppy sends the ETag bare (it strips the quotes it read from the header).
    const parts = [
      { PartNumber: 1, ETag: listed.json[0].ETag },
      { PartNumber: 2, ETag: p2.etag!.replace(/"/g, '') },
      { PartNumber: 3, ETag: listed.json[1].ETag },
    ];
    expect(await stored(o, key)).toBeUndefined();
    const done = await c.complete(uploadId, key, parts);
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ key, size: file.length, location: `${o.url}/r/movie.bin` });
    const bytes = await stored(o, key);
    expect(bytes && sha256(bytes)).toBe(sha256(file));
    // Finished: the upload is gone.
    expect((await c.list(uploadId, key)).json).toMatchObject({ code: 'EDGEWISE_MULTIPART_NOT_FOUND' });
    expect(await o.leftovers()).toBe(0);
  });

  test('over the grant size: refused when signed, and an over-limit completion is aborted', async () => {
    const small = client(endpoint({ prefix: 'small/', maxBytes: 6 * MiB }));
    const { uploadId, key } = (await small.create('big.bin', 'application/octet-stream')).json;
    // ⌈6 MiB / 5 MiB⌉ = 2 parts at most.
    const third = await small.sign(uploadId, 3, key);
    expect(third.status).toBe(413);
    expect(third.json).toMatchObject({ code: 'EDGEWISE_UPLOAD_TOO_LARGE' });
    const u1 = (await small.sign(uploadId, 1, key)).json.url;
    const u2 = (await small.sign(uploadId, 2, key)).json.url;
    const p1 = await putPart(u1, randomBytes(5 * MiB));
    const p2 = await putPart(u2, randomBytes(2 * MiB));
    if (kind === 'fs') {
      // The origin receives fs parts, so it refuses the one that would pass the limit.
      expect(p2.status).toBe(413);
      const done = await small.complete(uploadId, key, [{ PartNumber: 1, ETag: p1.etag! }]);
      expect(done.status).toBe(200);
      expect(done.json.size).toBe(5 * MiB);
      return;
    }
    // S3 takes the part (a presigned URL cannot bound its size); completion refuses the total.
    expect(p2.status).toBe(200);
    const done = await small.complete(uploadId, key, [
      { PartNumber: 1, ETag: p1.etag! },
      { PartNumber: 2, ETag: p2.etag! },
    ]);
    expect(done.status).toBe(413);
    expect(done.json).toMatchObject({ code: 'EDGEWISE_UPLOAD_TOO_LARGE' });
    expect(await stored(o, key)).toBeUndefined();
    expect((await small.list(uploadId, key)).status).toBe(404);
    expect(await o.s3rver!.pendingUploads()).toEqual([]);
  });

  test('bytes that contradict the declared type are refused at completion; nothing is visible', async () => {
    const { uploadId, key } = (await c.create('fake.png', 'image/png')).json;
    const url = (await c.sign(uploadId, 1, key)).json.url;
    const p = await putPart(url, Buffer.from('MZ this is not a PNG'.repeat(100)));
    const done = await c.complete(uploadId, key, [{ PartNumber: 1, ETag: p.etag! }]);
    expect(done.status).toBe(415);
    expect(done.json).toMatchObject({ code: 'EDGEWISE_UNSUPPORTED_TYPE' });
    expect(await stored(o, key)).toBeUndefined();
    expect((await c.list(uploadId, key)).status).toBe(404);
    // …also not under the staging key.
    const left = [];
    for await (const m of o.storage.list('')) left.push(m.key);
    expect(left.filter((k) => k.includes('fake'))).toEqual([]);
  });

  test('a type the grant does not allow is refused at creation', async () => {
    const r = await c.create('page.html', 'text/html');
    expect(r.status).toBe(415);
    expect(r.json).toMatchObject({ code: 'EDGEWISE_UNSUPPORTED_TYPE' });
  });

  test('a key outside the grant is refused; a key inside it names no other upload', async () => {
    const { uploadId, key } = (await c.create('mine.bin', 'application/octet-stream')).json;
    const outside = await c.sign(uploadId, 1, 'elsewhere/mine.bin');
    expect(outside.status).toBe(403);
    expect(outside.json).toMatchObject({ code: 'EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY' });
    const other = await c.list(uploadId, 'r/other.bin');
    expect(other.status).toBe(404);
    expect(other.json).toMatchObject({ code: 'EDGEWISE_MULTIPART_NOT_FOUND' });
    const bad = await c.complete(uploadId, key, [{ PartNumber: 1, ETag: '"nope"' }]);
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'EDGEWISE_MULTIPART_BAD_PART' });
    const tampered = `${E.slice(0, -3)}AAA`;
    const r = await client(tampered).list(uploadId, key);
    expect(r.status).toBe(403);
    expect(r.json.code).toMatch(/^EDGEWISE_UPLOAD_SIGNATURE_/);
    await c.abort(uploadId, key);
  });

  test('abort removes the stored parts', async () => {
    const { uploadId, key } = (await c.create('gone.bin', 'application/octet-stream')).json;
    await putPart((await c.sign(uploadId, 1, key)).json.url, randomBytes(1000));
    expect((await c.list(uploadId, key)).json).toHaveLength(1);
    const r = await c.abort(uploadId, key);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({});
    expect((await c.list(uploadId, key)).status).toBe(404);
    expect((await c.abort(uploadId, key)).status).toBe(404);
    if (kind === 's3') expect(await o.s3rver!.pendingUploads()).toEqual([]);
    else expect(await readdir(join(o.dataDir, 'multipart'))).toEqual([]);
  });

  test('storage cleanup removes an abandoned upload (older than the threshold), not a fresh one', async () => {
    const old = (await c.create('abandoned.bin', 'application/octet-stream')).json;
    await putPart((await c.sign(old.uploadId, 1, old.key)).json.url, randomBytes(1000));
    const past = new Date(Date.now() - 3 * 3600_000);
    if (kind === 's3') await o.s3rver!.backdateUploads(3 * 3600_000);
    else await utimes(join(o.dataDir, 'multipart', old.uploadId), past, past);
    const fresh = (await c.create('fresh.bin', 'application/octet-stream')).json;
    const found = await cleanupIncomplete(o.storage, { olderThanMs: 3600_000 });
    expect(found.map((f) => f.uploadId)).toContain(old.uploadId.split('.').pop());
    expect((await c.list(old.uploadId, old.key)).status).toBe(404);
    expect((await c.list(fresh.uploadId, fresh.key)).status).toBe(200);
    await c.abort(fresh.uploadId, fresh.key);
  });

  test('GET /s3/params: a one-request form POST for small files', async () => {
    const r = await c.params('small.txt', 'text/plain');
    expect(r.status).toBe(200);
    expect(r.json.method).toBe('POST');
    // Seconds from now, as Companion answers (never past the grant, at most 15 minutes).
    expect(r.json.expires).toBeGreaterThan(0);
    expect(r.json.expires).toBeLessThanOrEqual(900);
    if (kind === 's3') {
      // An S3 presigned POST straight to the bucket, for exactly this key and type.
      expect(r.json.fields).toMatchObject({ key: 'r/small.txt', 'Content-Type': 'text/plain' });
      expect(r.json.url).toContain(o.s3rver!.endpoint);
      return;
    }
    expect(r.json.fields).toEqual({ key: 'r/small.txt' });
    // What Uppy sends: the fields, then the file.
    const form = new FormData();
    for (const [k, v] of Object.entries(r.json.fields as Record<string, string>)) form.set(k, v);
    form.set('file', new Blob(['hello'], { type: 'text/plain' }), 'small.txt');
    const res = await fetch(r.json.url, { method: 'POST', body: form });
    expect(res.status).toBe(201);
    expect((await stored(o, 'r/small.txt'))?.toString()).toBe('hello');
  });

  test('API-key clients use the endpoint without a token; no key is 401', async () => {
    const bare = `${o.url}/uploads/resumable/s3/multipart`;
    const none = await fetch(bare, { method: 'POST', body: '{"filename":"a.bin"}' });
    expect(none.status).toBe(401);
    const ok = await fetch(bare, {
      method: 'POST',
      body: JSON.stringify({ filename: 'api/a.bin', type: 'application/octet-stream' }),
      headers: { authorization: 'Bearer test-api-key-0123456789abcdef', 'content-type': 'application/json' },
    });
    expect(ok.status).toBe(200);
    // The API key grants any key (prefix ''): the file name's last segment is the key…
    expect(await ok.json()).toMatchObject({ key: 'a.bin' });
    // …unless the client names its key.
    const named = await fetch(bare, {
      method: 'POST',
      body: JSON.stringify({ filename: 'a.bin', key: 'api/7/a.bin' }),
      headers: { 'x-api-key': 'test-api-key-0123456789abcdef' },
    });
    expect(await named.json()).toMatchObject({ key: 'api/7/a.bin' });
    // A named key outside a signed prefix is refused.
    const outside = await c.create('x.bin', 'application/octet-stream');
    expect(outside.status).toBe(200);
    const refused = await fetch(`${E}/s3/multipart`, {
      method: 'POST',
      body: JSON.stringify({ key: 'not-r/x.bin' }),
    });
    expect(refused.status).toBe(403);
    await c.abort(outside.json.uploadId, outside.json.key);
  });

  test('malformed bodies are 400 with catalogue codes', async () => {
    const r = await fetch(`${E}/s3/multipart`, { method: 'POST', body: '{not json' });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ code: 'EDGEWISE_BAD_UPLOAD_REQUEST' });
    const { uploadId, key } = (await c.create('x.bin', 'application/octet-stream')).json;
    const empty = await c.complete(uploadId, key, []);
    expect(empty.json).toMatchObject({ code: 'EDGEWISE_MULTIPART_BAD_PART' });
    const zero = await c.sign(uploadId, 0, key);
    expect(zero.json).toMatchObject({ code: 'EDGEWISE_MULTIPART_BAD_PART' });
    await c.abort(uploadId, key);
  });

  if (kind === 'fs')
    test('fs part URLs are signed: another part number or an edited limit is 403', async () => {
      const { uploadId, key } = (await c.create('p.bin', 'application/octet-stream')).json;
      const url = new URL((await c.sign(uploadId, 1, key)).json.url);
      const other = new URL(url);
      other.pathname = other.pathname.replace(/\/1$/, '/2');
      const r1 = await fetch(other, { method: 'PUT', body: 'x' });
      expect(r1.status).toBe(403);
      expect(await r1.json()).toMatchObject({ code: 'EDGEWISE_PART_URL_INVALID' });
      const bigger = new URL(url);
      bigger.searchParams.set('max', String(10 ** 12));
      const r2 = await fetch(bigger, { method: 'PUT', body: 'x' });
      expect(r2.status).toBe(403);
      await c.abort(uploadId, key);
    });
});
