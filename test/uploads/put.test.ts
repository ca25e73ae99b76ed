import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureDevSigningKeys } from '../../src/cloudfront/keys.js';
import { tempDir } from '../helpers/origin.js';
import { API_KEY, type DriverKind, eventually, startUploadOrigin, type UploadOrigin } from './helpers.js';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const sha = (b: Buffer) => createHash('sha256').update(b).digest();
const auth = { authorization: `Bearer ${API_KEY}` };

async function put(
  o: UploadOrigin,
  path: string,
  body: Buffer | PassThrough,
  headers: Record<string, string> = {},
) {
  const res = await request(`${o.url}/uploads/${path}`, {
    method: 'PUT',
    body,
    headers: { ...auth, 'content-type': 'text/plain', ...headers },
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    json: (await res.body.json()) as Record<string, unknown>,
  };
}

async function getText(o: UploadOrigin, path: string): Promise<{ status: number; body: string }> {
  const res = await request(`${o.url}/${path}`);
  return { status: res.statusCode, body: await res.body.text() };
}

describe.each<DriverKind>(['fs', 's3'])('PUT /uploads/<key> (%s driver)', (kind) => {
  let o: UploadOrigin;
  beforeAll(async () => {
    o = await startUploadOrigin(kind, { maxBytes: 10 * 1024 * 1024, precompress: { enabled: false } });
  });
  afterAll(() => o.close());

  test('stores the body and answers 201 with key, size, type, etag, sha256 and the edge URL', async () => {
    const body = Buffer.from('hello upload');
    const r = await put(o, 'static/dir/hello%20world.txt', body);
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      key: 'static/dir/hello world.txt',
      size: body.length,
      contentType: 'text/plain',
      sha256: sha(body).toString('hex'),
      url: `${o.url}/static/dir/hello%20world.txt`,
    });
    expect(r.json.etag).toMatch(/^"/);
    expect(await getText(o, 'static/dir/hello%20world.txt')).toEqual({ status: 200, body: 'hello upload' });
    const meta = await o.storage.head('static/dir/hello world.txt');
    expect(meta?.etag).toBe(r.json.etag);
  });

  test('x-api-key works like Bearer; a wrong key is 401, no credentials at all is 403', async () => {
    const ok = await put(o, 'static/x.txt', Buffer.from('x'), { authorization: '', 'x-api-key': API_KEY });
    expect(ok.status).toBe(201);
    const wrong = await put(o, 'static/y.txt', Buffer.from('y'), {
      authorization: 'Bearer wrong-key-wrong-key',
    });
    expect(wrong).toMatchObject({ status: 401, json: { code: 'EDGEWISE_UNAUTHORIZED' } });
    const none = await put(o, 'static/y.txt', Buffer.from('y'), { authorization: '' });
    expect(none).toMatchObject({ status: 403, json: { code: 'EDGEWISE_UPLOAD_SIGNATURE_MISSING' } });
    expect(await o.storage.head('static/y.txt')).toBeUndefined();
    // Credentials never reach the log.
    expect(JSON.stringify(o.logs)).not.toContain(API_KEY);
  });

  test('a declared Content-Length over the limit is 413 before any byte is stored', async () => {
    const r = await put(o, 'static/big.bin', randomBytes(11 * 1024 * 1024), {
      'content-type': 'application/octet-stream',
    });
    expect(r).toMatchObject({ status: 413, json: { code: 'EDGEWISE_UPLOAD_TOO_LARGE' } });
    // The unread body is not drained: the connection is closed instead.
    expect(r.headers.connection).toBe('close');
    expect(await o.storage.head('static/big.bin')).toBeUndefined();
  });

  test('a chunked body that grows past the limit mid-stream is 413; nothing stored, no leftovers', async () => {
    const body = new PassThrough();
    const sending = put(o, 'static/chunked.bin', body, { 'content-type': 'application/octet-stream' });
    // Fed in 1 MiB pieces, with no Content-Length: the limit is only discovered on the way.
    for (let i = 0; i < 14 && !body.destroyed; i++) {
      if (!body.write(randomBytes(1024 * 1024)))
        await new Promise((r) => body.once('drain', r).once('close', r));
    }
    body.end();
    const r = await sending.catch((err: Error) => ({ status: 0, json: { code: err.message } }));
    // The server may close before the client finishes sending; either way nothing is stored.
    if (r.status !== 0) expect(r).toMatchObject({ status: 413, json: { code: 'EDGEWISE_UPLOAD_TOO_LARGE' } });
    await eventually(async () => (await o.leftovers()) === 0, 'no leftovers');
    expect(await o.storage.head('static/chunked.bin')).toBeUndefined();
  });

  test('Content-Digest and x-amz-checksum-sha256: a mismatch is 400 and stores nothing', async () => {
    const body = Buffer.from('checked body');
    const bad = await put(o, 'static/sum.txt', body, {
      'content-digest': `sha-256=:${sha(Buffer.from('other')).toString('base64')}:`,
    });
    expect(bad).toMatchObject({ status: 400, json: { code: 'EDGEWISE_CHECKSUM_MISMATCH' } });
    expect(await o.storage.head('static/sum.txt')).toBeUndefined();
    const good = await put(o, 'static/sum.txt', body, {
      'content-digest': `sha-512=:AAAA:, sha-256=:${sha(body).toString('base64')}:`,
    });
    expect(good.status).toBe(201);
    const amz = await put(o, 'static/sum2.txt', body, {
      'x-amz-checksum-sha256': sha(body).toString('base64'),
    });
    expect(amz.status).toBe(201);
    const amzBad = await put(o, 'static/sum3.txt', body, {
      'x-amz-checksum-sha256': sha(body.subarray(1)).toString('base64'),
    });
    expect(amzBad).toMatchObject({ status: 400, json: { code: 'EDGEWISE_CHECKSUM_MISMATCH' } });
    const malformed = await put(o, 'static/sum4.txt', body, { 'content-digest': 'sha-256=nope' });
    expect(malformed).toMatchObject({ status: 400, json: { code: 'EDGEWISE_BAD_UPLOAD_REQUEST' } });
    expect(await o.leftovers()).toBe(0);
  });

  test('unsafe keys are 400: EDGEWISE_BAD_KEY, or the path code when the path itself is not canonical', async () => {
    for (const [path, code] of [
      ['a%2F..%2Fb', 'EDGEWISE_BAD_PATH'],
      ['%2Fabs', 'EDGEWISE_BAD_PATH'],
      ['ctl%01x', 'EDGEWISE_BAD_PATH'],
      [`${'k'.repeat(1025)}`, 'EDGEWISE_BAD_KEY'],
      ['.edgewise/enc/br/x', 'EDGEWISE_BAD_KEY'],
      ['a//b', 'EDGEWISE_NON_CANONICAL_PATH'],
    ] as const) {
      const r = await put(o, path, Buffer.from('x'));
      expect(r.status, path).toBe(400);
      expect(r.json.code, path).toBe(code);
    }
  });

  test('415 for a type not allowed, and for bytes that contradict the declared type', async () => {
    const html = await put(o, 'static/x.html', Buffer.from('<script>alert(1)</script>'), {
      'content-type': 'text/html',
    });
    expect(html).toMatchObject({ status: 415, json: { code: 'EDGEWISE_UNSUPPORTED_TYPE' } });
    const fakePng = await put(o, 'static/fake.png', Buffer.from('<svg onload=alert(1)>'), {
      'content-type': 'image/png',
    });
    expect(fakePng).toMatchObject({ status: 415, json: { code: 'EDGEWISE_UNSUPPORTED_TYPE' } });
    const pngAsText = await put(o, 'static/real.txt', PNG, { 'content-type': 'text/plain' });
    expect(pngAsText).toMatchObject({ status: 415, json: { code: 'EDGEWISE_UNSUPPORTED_TYPE' } });
    const jpegAsPng = await put(
      o,
      'static/j.png',
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]),
      {
        'content-type': 'image/png',
      },
    );
    expect(jpegAsPng.status).toBe(415);
    for (const k of ['static/x.html', 'static/fake.png', 'static/real.txt', 'static/j.png'])
      expect(await o.storage.head(k)).toBeUndefined();
    const png = await put(o, 'static/real.png', PNG, { 'content-type': 'image/png' });
    expect(png.status).toBe(201);
    // "Don't know" takes the type the bytes show.
    const sniffed = await put(o, 'static/unknown', PNG, { 'content-type': 'application/octet-stream' });
    expect(sniffed).toMatchObject({ status: 201, json: { contentType: 'image/png' } });
  });

  test('nothing partial is visible: readers see 404 (new key) or the old bytes (overwrite) until the end', async () => {
    await put(o, 'static/atomic.txt', Buffer.from('old version'));
    const body = new PassThrough();
    const sending = put(o, 'static/atomic.txt', body);
    const sendingNew = new PassThrough();
    const sendingFresh = put(o, 'static/fresh.txt', sendingNew);
    body.write(Buffer.alloc(100_000, 'n'));
    sendingNew.write(Buffer.alloc(100_000, 'f'));
    for (let i = 0; i < 15; i++) {
      expect(await getText(o, 'static/atomic.txt')).toEqual({ status: 200, body: 'old version' });
      expect(await getText(o, 'static/fresh.txt')).toMatchObject({ status: 404 });
      await new Promise((r) => setImmediate(r));
    }
    body.end(Buffer.alloc(100, 'n'));
    sendingNew.end();
    expect((await sending).status).toBe(201);
    expect((await sendingFresh).status).toBe(201);
    expect((await getText(o, 'static/atomic.txt')).body).toBe('n'.repeat(100_100));
  });

  test('a client whose socket dies mid-body: nothing stored, no leftovers, logged at info', async () => {
    const { port } = new URL(o.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const total = 6 * 1024 * 1024;
    socket.write(
      `PUT /uploads/static/cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${total}\r\n\r\n`,
    );
    // More than one S3 part size on the s3 driver, so a multipart upload has begun.
    for (let sent = 0; sent < 5.5 * 1024 * 1024; sent += 256 * 1024) {
      if (!socket.write(randomBytes(256 * 1024))) await new Promise((r) => socket.once('drain', r));
    }
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    await eventually(
      () => o.logs.some((l) => l.msg === 'upload aborted by the client; nothing stored' && l.level === 30),
      'the abort log line',
    );
    await eventually(async () => (await o.leftovers()) === 0, 'no leftovers');
    expect(await o.storage.head('static/cut.bin')).toBeUndefined();
    // Not an error-level event: the client went away.
    expect(o.logs.some((l) => (l.level as number) >= 50)).toBe(false);
  });

  test('over maxConcurrent uploads, the next one gets 503 EDGEWISE_UPLOADS_BUSY with Retry-After', async () => {
    const limited = await startUploadOrigin(kind, { maxConcurrent: 1, precompress: { enabled: false } });
    try {
      const body = new PassThrough();
      const first = put(limited, 'static/one.txt', body);
      body.write('partial');
      await new Promise((r) => setTimeout(r, 50));
      const second = await put(limited, 'static/two.txt', Buffer.from('two'));
      expect(second).toMatchObject({ status: 503, json: { code: 'EDGEWISE_UPLOADS_BUSY' } });
      expect(second.headers['retry-after']).toBe('1');
      body.end(' done');
      expect((await first).status).toBe(201);
      expect((await put(limited, 'static/two.txt', Buffer.from('two'))).status).toBe(201);
    } finally {
      await limited.close();
    }
  });

  test('upload metrics record bytes and failures by code', async () => {
    const text = await o.app.edgewise.metrics.registry.metrics();
    expect(text).toMatch(/edgewise_upload_bytes_total\{route="\/uploads\/\*"\} [1-9]/);
    expect(text).toMatch(/edgewise_upload_failures_total\{code="EDGEWISE_CHECKSUM_MISMATCH"\} [1-9]/);
  });
});

describe('upload response URL', () => {
  test('uses server.publicUrl, and flags user_content URLs signed:false without a CloudFront key', async () => {
    const o = await startUploadOrigin(
      'fs',
      { precompress: { enabled: false } },
      {
        server: { publicUrl: 'https://cdn.example.com' },
      },
    );
    try {
      const a = await put(o, 'static/a%20b.css', Buffer.from('a{}'), { 'content-type': 'text/css' });
      expect(a.json.url).toBe('https://cdn.example.com/static/a%20b.css');
      expect(a.json.signed).toBeUndefined();
      const u = await put(o, 'u/42/photo.txt', Buffer.from('hi'));
      expect(u.json).toMatchObject({ url: 'https://cdn.example.com/u/42/photo.txt', signed: false });
    } finally {
      await o.close();
    }
  });
});

describe('upload response URL for a signed class with a CloudFront key', () => {
  test('is a CloudFront signed URL for the key', async () => {
    const dir = await tempDir('edgewise-cfkeys-');
    const keys = ensureDevSigningKeys(dir);
    const o = await startUploadOrigin(
      'fs',
      { precompress: { enabled: false } },
      {
        server: { publicUrl: 'https://cdn.example.com' },
        cloudfront: { signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile } },
      },
    );
    try {
      const u = await put(o, 'u/42/photo.txt', Buffer.from('hi'));
      expect(u.status).toBe(201);
      expect(u.json.signed).toBe(true);
      const url = new URL(u.json.url as string);
      expect(`${url.origin}${url.pathname}`).toBe('https://cdn.example.com/u/42/photo.txt');
      expect(url.searchParams.get('Key-Pair-Id')).toBe(keys.keyPairId);
      expect(url.searchParams.get('Signature')).toBeTruthy();
      expect(Number(url.searchParams.get('Expires'))).toBeGreaterThan(Date.now() / 1000);
    } finally {
      await o.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
