/**
 * What Node's HTTP parser and timeouts refuse before any handler runs, at the origin (as
 * `edgewise serve` starts it) and at the edge: the catalogue's JSON with its code and
 * `Connection: close`, never Node's empty 400/408/431 or Fastify's code-less JSON (issue 13).
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LiveConfig } from '../../src/config/live.js';
import { buildConfig } from '../../src/config/load.js';
import type { catalogue } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { type RunningOrigin, startOrigin } from '../../src/server.js';
import { startTestEdge, type TestEdge } from '../edge/helpers.js';
import { tempDir } from '../helpers/origin.js';
import { type RawExchange, rawExchange } from '../helpers/raw-request.js';

let origin: RunningOrigin;
let edge: TestEdge;
let dataDir: string;

beforeAll(async () => {
  dataDir = await tempDir();
  const store = new LiveConfig(
    buildConfig(
      {
        server: { host: '127.0.0.1', port: 0, keepAliveTimeoutMs: 2000, headersTimeoutMs: 2500 },
        origin: { keepAliveMs: 1000 },
        storage: { driver: 'fs', fs: { dataDir } },
      },
      undefined,
    ),
  );
  origin = await startOrigin(store, createLogger({ level: 'silent', pretty: false }));
  edge = await startTestEdge(origin.url, {}, { keepAliveTimeoutMs: 1000 });
});
afterAll(async () => {
  await edge?.close();
  await origin?.shutdown(1000);
  await rm(dataDir, { recursive: true, force: true });
});

function expectCatalogueAnswer(res: RawExchange, status: number, code: keyof typeof catalogue) {
  expect(res.raw).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers.connection).toBe('close');
  expect(res.headers['cache-control']).toBe('no-store');
  expect(Number(res.headers['content-length'])).toBe(res.body.length);
  const body = JSON.parse(res.text) as { statusCode: number; code: string; message: string };
  expect(Object.keys(body).sort()).toEqual(['code', 'message', 'statusCode']);
  expect(body.statusCode).toBe(status);
  expect(body.code).toBe(code);
  expect(body.message.length).toBeGreaterThan(10);
  // No internal address, port, path or stack in any body.
  expect(res.text).not.toMatch(/127\.0\.0\.1|:\d{4,5}\b|\/tmp\/|node:|at .*\(/);
}

const layers = [
  { name: 'origin', url: () => origin.url },
  { name: 'edge', url: () => edge.url },
] as const;

describe.each(layers)('Node parser refusals at the $name', ({ url }) => {
  test('a malformed request line is 400 EDGEWISE_BAD_REQUEST', async () => {
    expectCatalogueAnswer(await rawExchange(url(), 'GARBAGE\r\n\r\n'), 400, 'EDGEWISE_BAD_REQUEST');
    expectCatalogueAnswer(
      await rawExchange(url(), 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'),
      400,
      'EDGEWISE_BAD_REQUEST',
    );
  });

  test('a refused HEAD gets the header fields and no body (a client would read it as the next response)', async () => {
    const res = await rawExchange(
      url(),
      'HEAD /static/a\u00e9.css HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n',
    );
    expect(res.raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(res.headers.connection).toBe('close');
    expect(Number(res.headers['content-length'])).toBeGreaterThan(10);
    expect(res.body.length).toBe(0);
  });

  test('header fields over maxHeaderSize are 431 EDGEWISE_HEADERS_TOO_LARGE', async () => {
    const res = await rawExchange(url(), `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectCatalogueAnswer(res, 431, 'EDGEWISE_HEADERS_TOO_LARGE');
  });

  test('a request line over maxHeaderSize is 414 EDGEWISE_URI_TOO_LONG (RFC 9112 §3)', async () => {
    const res = await rawExchange(url(), `GET /static/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expectCatalogueAnswer(res, 414, 'EDGEWISE_URI_TOO_LONG');
  });

  test('headers that never finish are 408 EDGEWISE_REQUEST_TIMEOUT once headersTimeout passes', async () => {
    // The server closes the connection itself: the exchange ends on its close, not on a timer here.
    const res = await rawExchange(url(), 'GET /static/a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: 1', {
      timeoutMs: 15_000,
    });
    expectCatalogueAnswer(res, 408, 'EDGEWISE_REQUEST_TIMEOUT');
  });

  test('the server still answers well-formed requests afterwards', async () => {
    const res = await rawExchange(url(), 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(res.status).toBeGreaterThan(0);
    expect(res.status).toBeLessThan(500);
  });
});
