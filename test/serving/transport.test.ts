/**
 * Transport over real sockets: HTTP/2 over TLS (undici allowH2) with the same semantics as
 * HTTP/1.1, the HTTP/1.1 fallback of the same server keeping connections alive (sockets
 * counted), h2c, and the advertised/enforced keep-alive timeout.
 */
import { connect as h2connect } from 'node:http2';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { Agent, Client, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../helpers/origin.js';
import { makeSelfSigned, type ProdOrigin, type SelfSigned, startProdOrigin } from './tls-helpers.js';

const body = Buffer.from('x'.repeat(4000));

async function seed(p: ProdOrigin) {
  return p.origin.app.edgewise.storage.put('static/t.txt', Readable.from([body]), {
    contentType: 'text/plain',
  });
}

describe('HTTP/2 over TLS with HTTP/1.1 fallback', () => {
  let tls: SelfSigned;
  let p: ProdOrigin;
  let etag: string;
  const secureSockets: Socket[] = [];
  let sessions = 0;
  let h2streams = 0;

  beforeAll(async () => {
    tls = makeSelfSigned(await tempDir('edgewise-tls-'));
    p = await startProdOrigin({ tls: { cert: tls.cert, key: tls.key } });
    etag = (await seed(p)).etag;
    p.origin.app.server.on('secureConnection', (s: Socket) => secureSockets.push(s));
    p.origin.app.server.on('session', () => sessions++);
    p.origin.app.server.on('stream', () => h2streams++);
  });
  afterAll(() => p.close());

  test('ALPN offers h2 and the origin speaks it', async () => {
    const session = h2connect(p.origin.url, { ca: tls.certPem });
    try {
      const alpn = await new Promise<string | false | undefined>((resolve, reject) => {
        session.once('connect', () => resolve(session.alpnProtocol));
        session.once('error', reject);
      });
      expect(alpn).toBe('h2');
    } finally {
      session.close();
    }
  });

  test('undici allowH2: 200, 304, 206, 416 and encodings behave as on HTTP/1.1', async () => {
    const before = sessions;
    const streamsBefore = h2streams;
    const agent = new Agent({ allowH2: true, connect: { ca: tls.certPem } });
    try {
      const get = async (headers: Record<string, string> = {}) => {
        const r = await request(`${p.origin.url}/static/t.txt`, { dispatcher: agent, headers });
        const b = Buffer.from(await r.body.arrayBuffer());
        return { status: r.statusCode, headers: r.headers, body: b };
      };
      const ok = await get();
      expect(ok.status).toBe(200);
      expect(ok.body.equals(body)).toBe(true);
      expect(ok.headers.etag).toBe(etag);
      expect(ok.headers['x-content-type-options']).toBe('nosniff');
      expect((await get({ 'if-none-match': etag })).status).toBe(304);
      expect((await get({ 'if-match': '"nope"' })).status).toBe(412);
      const part = await get({ range: 'bytes=1-3' });
      expect(part.status).toBe(206);
      expect(part.headers['content-range']).toBe(`bytes 1-3/${body.length}`);
      expect((await get({ range: 'bytes=99999-' })).status).toBe(416);
      const gz = await get({ 'accept-encoding': 'gzip' });
      expect(gz.headers['content-encoding']).toBe('gzip');
      // Every request was an HTTP/2 stream (no HTTP/1.1 fallback connection was used).
      expect(h2streams - streamsBefore).toBe(6);
      expect(sessions - before).toBeGreaterThanOrEqual(1);
    } finally {
      await agent.close();
    }
  });

  test('HTTP/1.1 fallback keeps the connection alive: 10 requests, one socket, Keep-Alive advertised', async () => {
    const before = secureSockets.length;
    const beforeSessions = sessions;
    const client = new Client(p.origin.url, { connect: { ca: tls.certPem }, pipelining: 1 });
    try {
      for (let i = 0; i < 10; i++) {
        const r = await client.request({ path: '/static/t.txt', method: 'GET' });
        await r.body.arrayBuffer();
        expect(r.statusCode).toBe(200);
        expect(r.headers['keep-alive']).toBe(
          `timeout=${Math.floor(p.store.current.server.keepAliveTimeoutMs / 1000)}`,
        );
      }
      expect(secureSockets.length - before).toBe(1);
      expect(sessions - beforeSessions).toBe(0);
      expect(secureSockets.at(-1)!.destroyed).toBe(false);
    } finally {
      await client.close();
    }
  });
});

describe('keep-alive timeout is enforced on the HTTP/1.1 fallback path (not infinite)', () => {
  test('an idle fallback connection is closed by the server after keepAliveTimeoutMs', async () => {
    const tls = makeSelfSigned(await tempDir('edgewise-tls-'));
    // The shortest keep-alive the config allows (the edge's own keep-alive must stay below it).
    const p = await startProdOrigin(
      { tls: { cert: tls.cert, key: tls.key }, keepAliveTimeoutMs: 2000, headersTimeoutMs: 3000 },
      { origin: { keepAliveMs: 1000 } },
    );
    await seed(p);
    // A raw TLS client that never closes on its own: only the server's idle timer can end it.
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: Number(new URL(p.origin.url).port),
      ca: tls.certPem,
      ALPNProtocols: ['http/1.1'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', () => resolve());
        socket.once('error', reject);
      });
      expect(socket.alpnProtocol).toBe('http/1.1');
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        received += d;
      });
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write('GET /static/t.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      // Event-driven: resolves when the server closes the idle socket (the test timeout bounds it).
      await closed;
      expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(received.toLowerCase()).toContain('keep-alive: timeout=2');
      expect(received.endsWith(body.toString())).toBe(true);
    } finally {
      socket.destroy();
      await p.close();
    }
  });
});

describe('h2c (cleartext HTTP/2, prior knowledge)', () => {
  test('serves over HTTP/2 without TLS', async () => {
    const p = await startProdOrigin({ h2c: true });
    await seed(p);
    const session = h2connect(p.origin.url);
    try {
      const { status, data } = await new Promise<{ status: number; data: Buffer }>((resolve, reject) => {
        const req = session.request({ ':path': '/static/t.txt' });
        let status = 0;
        const chunks: Buffer[] = [];
        req.on('response', (h) => {
          status = Number(h[':status']);
        });
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve({ status, data: Buffer.concat(chunks) }));
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
      expect(data.equals(body)).toBe(true);
    } finally {
      session.close();
      await p.close();
    }
  });
});

describe('graceful shutdown over HTTP/2', () => {
  test('GOAWAY: the in-flight stream completes, shutdown is clean, no new connections', async () => {
    const tls = makeSelfSigned(await tempDir('edgewise-tls-'));
    const p = await startProdOrigin({ tls: { cert: tls.cert, key: tls.key } });
    const big = Buffer.alloc(8 * 1024 * 1024, 7);
    await p.origin.app.edgewise.storage.put('static/big.bin', Readable.from([big]), {
      contentType: 'application/octet-stream',
    });
    const session = h2connect(p.origin.url, { ca: tls.certPem });
    try {
      const req = session.request({ ':path': '/static/big.bin' });
      const status = await new Promise<number>((resolve) =>
        req.once('response', (h) => resolve(Number(h[':status']))),
      );
      expect(status).toBe(200);
      req.pause(); // hold the download in flight
      const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
      const done = p.origin.shutdown(20_000);
      await goaway;
      let received = 0;
      req.on('data', (c: Buffer) => {
        received += c.length;
      });
      const ended = new Promise<void>((resolve) => req.once('end', () => resolve()));
      req.resume();
      await ended;
      expect(received).toBe(big.length);
      expect(await done).toBe('clean');
      await expect(
        new Promise((resolve, reject) => {
          const s = h2connect(p.origin.url, { ca: tls.certPem });
          s.once('connect', () => {
            s.destroy();
            resolve('connected');
          });
          s.once('error', reject);
        }),
      ).rejects.toThrow();
    } finally {
      session.destroy();
      await p.close();
    }
  });
});

describe('HTTP/2 session timeout', () => {
  test('an idle session is closed by the server after http2SessionTimeoutMs', async () => {
    const tls = makeSelfSigned(await tempDir('edgewise-tls-'));
    const p = await startProdOrigin({ tls: { cert: tls.cert, key: tls.key }, http2SessionTimeoutMs: 1000 });
    await seed(p);
    const session = h2connect(p.origin.url, { ca: tls.certPem });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': '/static/t.txt' });
        req.once('response', (h) => resolve(Number(h[':status'])));
        req.once('error', reject);
        req.resume();
      });
      expect(status).toBe(200);
      // Event-driven: the server's idle timer sends GOAWAY and the session closes.
      await new Promise<void>((resolve) => session.once('close', () => resolve()));
      expect(session.closed || session.destroyed).toBe(true);
    } finally {
      session.destroy();
      await p.close();
    }
  });
});
