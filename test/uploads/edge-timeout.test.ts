/**
 * Through the local edge, upload paths get server.uploadTimeoutMs as their request deadline
 * (Node's default requestTimeout cut them at 300 s), and every other body keeps the shorter
 * server.requestTimeoutMs. Short limits (1 s / 3 s) so the test runs in seconds; it waits on
 * answers and socket closes only.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type CountingOrigin, startCountingOrigin, startTestEdge } from '../edge/helpers.js';
import { heldPut } from './helpers.js';

describe('edge request deadlines on upload routes (server.uploadTimeoutMs)', () => {
  let origin: CountingOrigin;
  let edge: Awaited<ReturnType<typeof startTestEdge>>;
  beforeAll(async () => {
    origin = await startCountingOrigin();
    // The origin reads the whole body and says how much it got.
    const consume = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ size: n }));
      });
    };
    origin.route('/uploads/slow.bin', consume);
    origin.route('/uploads/never.bin', consume);
    origin.route('/api/form', consume);
    edge = await startTestEdge(
      origin.url,
      {
        server: {
          requestTimeoutMs: 1000,
          uploadTimeoutMs: 3000,
          // The cross-checks that order these hold: origin keep-alive < server keep-alive <
          // headers deadline ≤ the larger request deadline.
          keepAliveTimeoutMs: 1500,
          headersTimeoutMs: 2000,
        },
        // Shorter than the upload: the edge's wait for the origin's answer must not cut the body.
        origin: { keepAliveMs: 1000, responseTimeoutMs: 1000 },
      },
      { keepAliveTimeoutMs: 1000 },
    );
  });
  afterAll(async () => {
    await edge.close();
    await origin.close();
  });

  test('an upload slower than requestTimeoutMs passes; another body that slow is 408', async () => {
    const upload = heldPut(edge.url, '/uploads/slow.bin', {
      length: 10,
      first: Buffer.from('12345'),
      headers: {},
    });
    const other = heldPut(edge.url, '/api/form', {
      method: 'POST',
      length: 10,
      first: Buffer.from('12345'),
      headers: {},
    });
    // The POST, sent after the upload started, is cut at requestTimeoutMs…
    const cut = await other.closed;
    expect(cut.status).toBe(408);
    expect(cut.json).toMatchObject({ statusCode: 408, code: 'EDGEWISE_REQUEST_TIMEOUT' });
    expect(String(cut.json?.message)).toContain('the whole request within 1000 ms');
    // …and the upload, open longer than that, still goes through when its body ends.
    upload.socket.write('67890');
    const done = await upload.closed;
    expect(done.status).toBe(201);
    expect(done.json).toEqual({ size: 10 });
  });

  test('an upload beyond uploadTimeoutMs is answered 408 with the catalogue JSON', async () => {
    const upload = heldPut(edge.url, '/uploads/never.bin', {
      length: 10,
      first: Buffer.from('1'),
      headers: {},
    });
    const cut = await upload.closed;
    expect(cut.status).toBe(408);
    expect(cut.json).toMatchObject({ statusCode: 408, code: 'EDGEWISE_REQUEST_TIMEOUT' });
    expect(String(cut.json?.message)).toContain('the whole request within 3000 ms');
  });
});
