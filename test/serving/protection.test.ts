/**
 * Overload protection (503 + Retry-After, coded) with liveness and metrics exempt, and the
 * per-route request-body deadline (short outside upload routes, long on them).
 */
import { rm } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildOrigin } from '../../src/app.js';
import { LiveConfig } from '../../src/config/live.js';
import { buildConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { transportOptions } from '../../src/server.js';
import { FsDriver } from '../../src/storage/fs.js';
import { startTestOrigin, type TestOrigin, tempDir } from '../helpers/origin.js';
import { makeSelfSigned } from './tls-helpers.js';

describe('overload protection', () => {
  let o: TestOrigin;
  beforeAll(async () => {
    // A heap limit of one byte: every sample is over it, so the origin is under pressure
    // from the first sample on, deterministically.
    o = await startTestOrigin({
      server: {
        overload: {
          maxHeapUsedBytes: 1,
          maxEventLoopDelayMs: 0,
          maxEventLoopUtilization: 0,
          sampleIntervalMs: 10,
          retryAfterSeconds: 7,
        },
        metricsAccess: { allowIps: ['127.0.0.1'] },
      },
    });
    await o.storage.put('static/a.txt', Readable.from([Buffer.from('a')]), { contentType: 'text/plain' });
    const app = o.app as unknown as { isUnderPressure(): boolean };
    for (let i = 0; i < 500 && !app.isUnderPressure(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(app.isUnderPressure()).toBe(true);
  });
  afterAll(() => o.close());

  test('content requests get a coded 503 with Retry-After', async () => {
    const r = await request(`${o.url}/static/a.txt`);
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('7');
    expect(r.headers['cache-control']).toBe('no-store');
    const body = (await r.body.json()) as { code: string; message: string };
    expect(body.code).toBe('EDGEWISE_OVERLOADED');
    expect(body.message).toContain('heapUsedBytes');
  });

  test('readiness reports the overload (load balancers drain), liveness and metrics still answer', async () => {
    const ready = await request(`${o.url}/readyz`);
    await ready.body.dump();
    expect(ready.statusCode).toBe(503);
    const live = await request(`${o.url}/healthz`);
    await live.body.dump();
    expect(live.statusCode).toBe(200);
    expect(live.headers['cache-control']).toBe('no-store');
    const metrics = await request(`${o.url}/metrics`);
    expect(metrics.statusCode).toBe(200);
    expect(await metrics.body.text()).toMatch(/edgewise_overload_rejections_total [1-9]/);
  });
});

describe('request-body deadline', () => {
  let url: URL;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const dir = await tempDir();
    const loaded = buildConfig(
      {
        server: { requestTimeoutMs: 1000, headersTimeoutMs: 66000 },
        storage: { driver: 'fs', fs: { dataDir: dir } },
      },
      undefined,
    );
    const app = await buildOrigin({
      config: new LiveConfig(loaded),
      storage: new FsDriver({ dataDir: dir }),
      logger: createLogger({ level: 'silent', pretty: false }),
    });
    // Two body-reading routes of our own, one outside and one under the upload prefix.
    const echo = async (req: { body: unknown }) => ({ got: req.body });
    app.post('/slow-form', echo);
    app.post('/uploads/slow-test', echo);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    url = new URL(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
    close = () => app.close();
  });
  afterAll(() => close());

  function slowPost(path: string): { socket: Socket; response: Promise<string> } {
    const socket = connect(Number(url.port), '127.0.0.1');
    socket.setEncoding('utf8');
    let data = '';
    socket.on('data', (d: string) => {
      data += d;
    });
    const response = new Promise<string>((resolve) => socket.once('close', () => resolve(data)));
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"a":`,
    );
    return { socket, response };
  }

  test('a trickling body outside upload routes gets a coded 408 after requestTimeoutMs; uploads keep going', async () => {
    const upload = slowPost('/uploads/slow-test');
    const form = slowPost('/slow-form');
    const formResponse = await form.response; // event-driven: the server ends it
    expect(formResponse).toMatch(/^HTTP\/1\.1 408 /);
    expect(formResponse).toContain('EDGEWISE_REQUEST_TIMEOUT');
    // The upload, started earlier with the same stalled body, is still open…
    expect(upload.socket.destroyed).toBe(false);
    // …and completes when its body does.
    upload.socket.end('"bcdef"}');
    const up = await upload.response;
    expect(up).toMatch(/^HTTP\/1\.1 200 /);
    expect(up).toContain('{"got":{"a":"bcdef"}}');
  });
});

describe('request-body deadline over HTTP/2', () => {
  test('a stalled stream gets 408 and the session stays usable (no connection-specific headers)', async () => {
    const dir = await tempDir();
    const tls = makeSelfSigned(dir);
    const store = new LiveConfig(
      buildConfig(
        {
          server: { requestTimeoutMs: 1000, tls: { cert: tls.cert, key: tls.key } },
          storage: { driver: 'fs', fs: { dataDir: dir } },
        },
        undefined,
      ),
    );
    const app = await buildOrigin({
      config: store,
      storage: new FsDriver({ dataDir: dir }),
      logger: createLogger({ level: 'silent', pretty: false }),
      fastify: transportOptions(store),
    });
    app.post('/slow-form', async (req) => ({ got: req.body }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    const session = h2connect(`https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`, {
      ca: tls.certPem,
    });
    const exchange = (headers: Record<string, string | number>, body?: string, end = true) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = session.request(headers);
        let status = 0;
        let text = '';
        req.setEncoding('utf8');
        req.on('response', (h) => {
          status = Number(h[':status']);
        });
        req.on('data', (d: string) => {
          text += d;
        });
        req.on('end', () => resolve({ status, text }));
        req.on('error', reject);
        if (body !== undefined) req.write(body);
        if (end) req.end();
      });
    try {
      const stalled = await exchange(
        {
          ':method': 'POST',
          ':path': '/slow-form',
          'content-type': 'application/json',
          'content-length': 13,
        },
        '{"a":',
        false,
      );
      expect(stalled.status).toBe(408);
      expect(stalled.text).toContain('EDGEWISE_REQUEST_TIMEOUT');
      const next = await exchange({ ':path': '/healthz' });
      expect(next.status).toBe(200);
    } finally {
      session.close();
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
