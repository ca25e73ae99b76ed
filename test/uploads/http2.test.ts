/** Uploads over cleartext HTTP/2 (prior knowledge), as `server.h2c` serves them. */
import { connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { API_KEY, eventually, startUploadOrigin, type UploadOrigin } from './helpers.js';

function put(
  o: UploadOrigin,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
  /** Send the body without ending the stream (a client that stalls). */
  stall = false,
) {
  return new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    const session = connect(o.url);
    session.on('error', reject);
    const req = session.request({
      ':method': 'PUT',
      ':path': `/uploads/${path}`,
      authorization: `Bearer ${API_KEY}`,
      'content-type': 'text/plain',
      ...headers,
    });
    let status = 0;
    let text = '';
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.setEncoding('utf8');
    req.on('data', (d) => {
      text += d;
    });
    req.on('end', () => {
      session.close();
      resolve({ status, json: JSON.parse(text) as Record<string, unknown> });
    });
    req.on('error', reject);
    if (stall) req.write(body);
    else req.end(body);
  });
}

describe('uploads over h2c', () => {
  let o: UploadOrigin;
  beforeAll(async () => {
    o = await startUploadOrigin(
      'fs',
      {
        maxBytes: 1024 * 1024,
        precompress: { enabled: false },
        slowBody: { idleTimeoutMs: 500, minBytesPerSecond: 0, windowMs: 500 },
      },
      { dev: { demo: { maxBytes: 1024 } } },
      { http2: true },
    );
  });
  afterAll(() => o.close());

  test('a PUT over HTTP/2 is stored', async () => {
    const r = await put(o, 'static/h2.txt', Buffer.from('over http/2'));
    expect(r).toMatchObject({ status: 201, json: { key: 'static/h2.txt', size: 11 } });
  });

  test('an early refusal over HTTP/2 is a clean 413 (no Connection header on h2)', async () => {
    const r = await put(o, 'static/h2-big.txt', Buffer.alloc(2 * 1024 * 1024, 'x'));
    expect(r).toMatchObject({ status: 413, json: { code: 'EDGEWISE_UPLOAD_TOO_LARGE' } });
    expect(await o.storage.head('static/h2-big.txt')).toBeUndefined();
  });

  test('a stalled body over HTTP/2 is 408 EDGEWISE_UPLOAD_TOO_SLOW, and the stream ends', async () => {
    const r = await put(
      o,
      'static/h2-stalled.txt',
      Buffer.from('a start'),
      { 'content-length': '100' },
      true,
    );
    expect(r).toMatchObject({ status: 408, json: { code: 'EDGEWISE_UPLOAD_TOO_SLOW' } });
    expect(await o.storage.head('static/h2-stalled.txt')).toBeUndefined();
    // The answer goes out when the body is cut; the driver's cleanup follows.
    await eventually(async () => (await o.leftovers()) === 0, 'the temp file to be removed');
  });
});
