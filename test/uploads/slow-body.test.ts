/**
 * Slow and abusive upload bodies (issue 17 item 3): a stalled or trickling body is cut with
 * 408 EDGEWISE_UPLOAD_TOO_SLOW, nothing is left in storage, and its slot is free again; one
 * signed upload URL cannot take every slot (429 EDGEWISE_UPLOAD_GRANT_BUSY). Limits are small
 * so the tests run in seconds; they wait on socket closes and answers, never on sleeps.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { grantFor, signedUploadUrl } from '../../src/uploads/grant.js';
import { BodyRateJudge } from '../../src/uploads/slow-body.js';
import {
  API_KEY,
  type DriverKind,
  eventually,
  heldPut,
  startUploadOrigin,
  type UploadOrigin,
} from './helpers.js';

const MiB = 1024 * 1024;

async function putNow(url: string, body: Buffer, headers: Record<string, string> = { 'x-api-key': API_KEY }) {
  const res = await request(url, {
    method: 'PUT',
    body,
    headers: { 'content-type': 'application/octet-stream', ...headers },
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    json: (await res.body.json()) as Record<string, unknown>,
  };
}

describe('BodyRateJudge (the rule, on explicit times)', () => {
  const limits = { idleTimeoutMs: 1000, minBytesPerSecond: 100, windowMs: 2000 };
  test('no byte for idleTimeoutMs is too slow; a byte resets the idle clock', () => {
    const j = new BodyRateJudge({ ...limits, minBytesPerSecond: 0 }, 0);
    expect(j.check(999)).toBeUndefined();
    j.received(1, 999);
    expect(j.check(1998)).toBeUndefined();
    expect(j.check(1999)).toBe('no body bytes for 1000 ms');
  });
  test('the rate is judged one window after the start, over the last window', () => {
    const j = new BodyRateJudge(limits, 0);
    for (let t = 500; t <= 1500; t += 500) {
      j.received(10, t);
      expect(j.check(t)).toBeUndefined(); // inside the grace window
    }
    j.received(10, 2000);
    expect(j.check(2000)).toBe('less than 100 bytes/s over 2000 ms');
  });
  test('enough bytes over the window pass, also long after the start', () => {
    const j = new BodyRateJudge(limits, 0);
    for (let t = 500; t <= 10_000; t += 500) {
      j.received(60, t);
      expect(j.check(t)).toBeUndefined();
    }
  });
  test('time the server was behind is excused: the window starts again', () => {
    const j = new BodyRateJudge({ ...limits, idleTimeoutMs: 10_000 }, 0);
    j.received(1, 500);
    j.excuse(1900);
    expect(j.check(2500)).toBeUndefined();
    j.received(300, 3000);
    expect(j.check(3900)).toBeUndefined();
    expect(j.check(4000)).toBeUndefined(); // 300 bytes in the 2.1 s since 1900
    expect(j.check(5000)).toBeUndefined(); // the same 300 bytes since the 2500 sample
    expect(j.check(6000)).toBe('less than 100 bytes/s over 2000 ms'); // none since 4000
  });
});

describe.each<DriverKind>(['fs', 's3'])('a stalled upload body (%s driver)', (kind) => {
  let o: UploadOrigin;
  beforeAll(async () => {
    o = await startUploadOrigin(kind, {
      maxBytes: 16 * MiB,
      maxConcurrent: 1,
      precompress: { enabled: false },
      slowBody: { idleTimeoutMs: 1500, minBytesPerSecond: 0, windowMs: 1000 },
    });
  });
  afterAll(() => o.close());

  test('is answered 408 EDGEWISE_UPLOAD_TOO_SLOW, leaves nothing in storage and frees its slot', async () => {
    // 6 MiB then silence: past the s3 driver's 5 MiB part, so a multipart upload is open on S3.
    const held = heldPut(o.url, '/uploads/stalled/big.bin', { length: 8 * MiB, first: randomBytes(6 * MiB) });
    if (kind === 's3')
      await eventually(async () => (await o.leftovers()) > 0, 'the multipart upload to open');
    const answer = await held.closed;
    expect(answer.status).toBe(408);
    expect(answer.json).toEqual({
      statusCode: 408,
      code: 'EDGEWISE_UPLOAD_TOO_SLOW',
      message: 'Upload body too slow: no body bytes for 1500 ms',
    });
    // maxConcurrent is 1: this upload runs only because the stalled one gave its slot back.
    const next = await putNow(`${o.url}/uploads/stalled/next.bin`, randomBytes(1024));
    expect(next.status).toBe(201);
    await eventually(async () => (await o.leftovers()) === 0, 'temp files / multipart uploads to go');
    expect(await o.storage.head('stalled/big.bin')).toBeUndefined();
    expect(o.logs.some((l) => l.msg === 'upload body too slow: cut, nothing stored')).toBe(true);
  });

  test('a multipart POST that stalls mid-file is cut the same way; no file of it is stored', async () => {
    const boundary = 'edgewise-stall';
    const first = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: form-data; name="a"; filename="one.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`,
      ),
      randomBytes(1024),
      Buffer.from(
        `\r\n--${boundary}\r\ncontent-disposition: form-data; name="b"; filename="two.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`,
      ),
      randomBytes(6 * MiB),
    ]);
    const held = heldPut(o.url, '/uploads', {
      method: 'POST',
      length: first.length + MiB,
      first,
      headers: { 'x-api-key': API_KEY, 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    const answer = await held.closed;
    expect(answer.status).toBe(408);
    expect(answer.json?.code).toBe('EDGEWISE_UPLOAD_TOO_SLOW');
    await eventually(async () => (await o.leftovers()) === 0, 'temp files / multipart uploads to go');
    expect(await o.storage.head('one.bin')).toBeUndefined();
    expect(await o.storage.head('two.bin')).toBeUndefined();
    expect((await putNow(`${o.url}/uploads/stalled/after-post.bin`, randomBytes(16))).status).toBe(201);
  });
});

describe('trickling bodies (the issue finding: 1 byte every few seconds on every slot)', () => {
  let o: UploadOrigin;
  beforeAll(async () => {
    o = await startUploadOrigin('fs', {
      maxConcurrent: 4,
      precompress: { enabled: false },
      // 1 byte every 50 ms is 20 B/s: never idle for 1 s, far below 1000 B/s.
      slowBody: { idleTimeoutMs: 5000, minBytesPerSecond: 1000, windowMs: 800 },
    });
  });
  afterAll(() => o.close());

  test('are cut once their rate is judged, and legitimate uploads get their slots back', async () => {
    const held = Array.from({ length: 4 }, (_, i) =>
      heldPut(o.url, `/uploads/trickle/${i}.bin`, { length: 4096, first: Buffer.from('x'), trickleMs: 50 }),
    );
    // All four slots held: a real upload is refused for now.
    await eventually(
      async () => (await putNow(`${o.url}/uploads/trickle/real.bin`, randomBytes(64))).status === 503,
      'the tricklers to hold every slot',
    );
    for (const h of held) {
      const a = await h.closed;
      expect(a.status).toBe(408);
      expect(a.json?.code).toBe('EDGEWISE_UPLOAD_TOO_SLOW');
      expect(a.json?.message).toBe('Upload body too slow: less than 1000 bytes/s over 800 ms');
    }
    const real = await putNow(`${o.url}/uploads/trickle/real.bin`, randomBytes(64 * 1024));
    expect(real.status).toBe(201);
    for (let i = 0; i < 4; i++) expect(await o.storage.head(`trickle/${i}.bin`)).toBeUndefined();
    expect(await o.leftovers()).toBe(0);
  });

  test('a body sent at line speed passes the same limits', async () => {
    const r = await putNow(`${o.url}/uploads/trickle/fast.bin`, randomBytes(4 * MiB));
    expect(r.status).toBe(201);
    expect(r.json.size).toBe(4 * MiB);
  });
});

describe('per-grant concurrency (uploads.maxConcurrentPerGrant)', () => {
  let o: UploadOrigin;
  const urlFor = (prefix: string) =>
    signedUploadUrl(
      o.store.current.uploads,
      grantFor(o.store.current.uploads, { prefix, method: 'PUT' }),
      o.url,
    );
  beforeAll(async () => {
    o = await startUploadOrigin('fs', {
      maxConcurrent: 8,
      maxConcurrentPerGrant: 2,
      precompress: { enabled: false },
      slowBody: { idleTimeoutMs: 30_000, minBytesPerSecond: 0, windowMs: 30_000 },
    });
  });
  afterAll(() => o.close());

  test('one signed URL is held to its share; other grants and API keys keep uploading', async () => {
    const a = urlFor('grant-a/');
    const b = urlFor('grant-b/');
    const at = (url: string, name: string) => {
      const u = new URL(url);
      return `${u.pathname}${name}${u.search}`;
    };
    const held = [1, 2].map((i) =>
      heldPut(o.url, at(a, `held-${i}.bin`), { length: 1024, first: Buffer.from('x'), headers: {} }),
    );
    let refused: Awaited<ReturnType<typeof putNow>> | undefined;
    await eventually(async () => {
      const r = await putNow(`${o.url}${at(a, 'probe.bin')}`, randomBytes(16), {});
      if (r.status === 429) refused = r;
      return r.status === 429;
    }, 'grant A to hold its two slots');
    expect(refused?.json).toEqual({
      statusCode: 429,
      code: 'EDGEWISE_UPLOAD_GRANT_BUSY',
      message: 'Too many uploads in progress with this upload URL (2 running); retry shortly',
    });
    expect(refused?.headers['retry-after']).toBe('1');
    expect((await putNow(`${o.url}${at(b, 'other.bin')}`, randomBytes(16), {})).status).toBe(201);
    expect((await putNow(`${o.url}/uploads/by-api-key.bin`, randomBytes(16))).status).toBe(201);
    // The held uploads end (the client gives up): grant A may upload again.
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    await eventually(
      async () => (await putNow(`${o.url}${at(a, 'after.bin')}`, randomBytes(16), {})).status === 201,
      'grant A to get its slots back',
    );
  });
});
