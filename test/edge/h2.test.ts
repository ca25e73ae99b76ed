/**
 * HTTP/2 with TLS at the edge: bodiless GET/HEAD streams are answered through the core stream
 * adapters (src/edge/h2-stream.ts), everything else through Node's compat objects. Whichever
 * path a request takes, it must get what the same request gets over HTTP/1.1 (the pipeline is
 * one), and viewers that go away mid-answer must cost nothing but their stream.
 */
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { type ClientHttp2Session, connect, constants, createSecureServer } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_FIELDS } from '../../src/access-log/format.js';
import { makeSelfSigned, type SelfSigned } from '../../src/dev/self-signed.js';
import { createContext } from '../../src/edge/context.js';
import { serveStreams } from '../../src/edge/h2-stream.js';
import { deliverHit, type MemoryEntry } from '../../src/edge/hit-head.js';
import type { ResponseHook } from '../../src/edge/respond.js';
import { type CountingOrigin, type TestEdge, useCountingOriginAndEdge } from './helpers.js';
import { countingHook, entryWith } from './hook-seam.js';

const { setup, cleanup } = useCountingOriginAndEdge();
let tls: SelfSigned;
let certDir: string;

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'edgewise-h2-cert-'));
  tls = makeSelfSigned(certDir);
});
afterAll(() => rm(certDir, { recursive: true, force: true }));

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

async function tlsEdge(edgeCfg: Record<string, unknown> = {}, raw: Record<string, unknown> = {}) {
  const s = await setup(raw, { tls: { cert: tls.cert, key: tls.key }, ...edgeCfg });
  const agent = new Agent({ connect: { ca: tls.certPem } });
  const session = connect(s.edge.url, { ca: tls.certPem });
  session.on('error', () => {});
  cleanup.push(
    () => agent.close(),
    async () => session.close(),
  );
  return { ...s, agent, session };
}

async function h1(edge: TestEdge, agent: Agent, path: string, headers = {}, method = 'GET'): Promise<Answer> {
  const r = await request(`${edge.url}${path}`, { dispatcher: agent, method: method as 'GET', headers });
  return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
}

function h2(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: Buffer,
): Promise<Answer & { interim: Array<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':path': path, ':method': method, ...headers }, { endStream: !body });
    if (body) s.end(body);
    const chunks: Buffer[] = [];
    const interim: Array<Record<string, unknown>> = [];
    let head: Record<string, unknown> = {};
    s.on('headers', (h) => interim.push({ ...h }));
    s.on('response', (h) => {
      head = { ...h };
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      const { ':status': status, ...rest } = head;
      resolve({ status: Number(status), headers: rest, body: Buffer.concat(chunks), interim });
    });
    s.on('error', reject);
  });
}

/** The fields that differ per request or per transport by design. */
const PER_REQUEST = ['date', 'x-amz-cf-id', 'server-timing', 'age', 'connection', 'keep-alive'];

function comparable(h: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) if (!PER_REQUEST.includes(k)) out[k] = v;
  return out;
}

/** Polls a condition each 10 ms (bounded by the test's timeout). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

const OBJECT = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(30));

function cacheable(origin: CountingOrigin, path: string, body = OBJECT) {
  origin.route(path, (_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'cache-control': 'max-age=60',
      etag: '"v1"',
      'last-modified': 'Mon, 07 Dec 2026 10:00:00 GMT',
    });
    res.end(body);
  });
}

describe('HTTP/2 with TLS', () => {
  it('answers a hit, a 304, a 206 and a HEAD with what HTTP/1.1 answers for the same request', async () => {
    const { origin, edge, agent, session } = await tlsEdge();
    // Node emits 'request' only for what goes through its compat objects (and HTTP/1.1).
    let compat = 0;
    edge.edge.server.on('request', (req: { httpVersionMajor: number }) => {
      if (req.httpVersionMajor === 2) compat++;
    });
    cacheable(origin, '/t/obj');
    expect((await h2(session, '/t/obj')).headers['x-cache']).toBe('Miss from edgewise');
    const cases: Array<[Record<string, string>, string, number]> = [
      [{}, 'GET', 200],
      [{ 'if-none-match': '"v1"' }, 'GET', 304],
      [{ range: 'bytes=2-9' }, 'GET', 206],
      [{}, 'HEAD', 200],
      [{ 'if-none-match': '"v1"' }, 'HEAD', 304],
    ];
    for (const [headers, method, status] of cases) {
      const a = await h1(edge, agent, '/t/obj', headers, method);
      const b = await h2(session, '/t/obj', headers, method);
      expect({ status: b.status, method, headers }).toEqual({ status, method, headers });
      expect(a.status).toBe(b.status);
      expect(comparable(b.headers)).toEqual(comparable(a.headers));
      expect(b.body.equals(a.body)).toBe(true);
      expect(b.headers['x-cache']).toBe('Hit from edgewise');
    }
    const range = await h2(session, '/t/obj', { range: 'bytes=2-9' });
    expect(range.body.toString()).toBe('23456789');
    expect(range.headers['content-range']).toBe(`bytes 2-9/${OBJECT.length}`);
    expect(origin.count('/t/obj')).toBe(1);
    // A bodiless answer from the origin on a miss (its empty body stream meets an ended stream).
    origin.route('/t/empty', (_req, res) => {
      res.writeHead(204, { 'cache-control': 'no-store' });
      res.end();
    });
    const empty = await h2(session, '/t/empty');
    expect(empty.status).toBe(204);
    expect(comparable(empty.headers)).toEqual(comparable((await h1(edge, agent, '/t/empty')).headers));
    // Every one of those h2 requests took the core stream path.
    expect(compat).toBe(0);
  });

  it('logs an h2 request with its protocol version, TLS parameters and bytes', async () => {
    const { origin, edge, session } = await tlsEdge();
    cacheable(origin, '/t/logged');
    await h2(session, '/t/logged');
    await h2(session, '/t/logged', { 'user-agent': 'h2-test' });
    await edge.edge.app.logs?.close();
    const dir = join(edge.dir, 'logs', 'edge');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.gz'));
    const text = (
      await Promise.all(files.map(async (f) => gunzipSync(await readFile(join(dir, f))).toString()))
    ).join('');
    const line = text
      .split('\n')
      .find((l) => l.includes('h2-test'))!
      .split('\t');
    const field = (n: string) => line[LOG_FIELDS.indexOf(n as (typeof LOG_FIELDS)[number])];
    expect(field('cs-protocol-version')).toBe('HTTP/2.0');
    expect(field('cs-protocol')).toBe('https');
    expect(field('ssl-protocol')).toMatch(/^TLSv1\.[23]$/);
    expect(field('ssl-cipher')).not.toBe('-');
    expect(field('c-ip')).toBe('127.0.0.1');
    expect(Number(field('c-port'))).toBeGreaterThan(0);
    expect(field('x-edge-result-type')).toBe('Hit');
    expect(Number(field('sc-bytes'))).toBeGreaterThan(OBJECT.length);
  });

  it('still serves requests with a body, Expect and the edge routes through the compat objects', async () => {
    const { origin, edge, session } = await tlsEdge();
    let compat = 0;
    edge.edge.server.on('request', () => compat++);
    origin.route('/t/post', async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`got ${Buffer.concat(chunks).length}`);
    });
    const post = await h2(session, '/t/post', { 'content-length': '5000' }, 'POST', Buffer.alloc(5000, 1));
    expect(post.status).toBe(200);
    expect(post.body.toString()).toBe('got 5000');
    // HTTP/2 needs no Content-Length (RFC 9113 §8.1): the body is what the DATA frames carry.
    const unsized = await h2(session, '/t/post', {}, 'POST', Buffer.alloc(3000, 2));
    expect(unsized.body.toString()).toBe('got 3000');
    // Node's compat answers an Expect it does not know with 417, as before.
    const expect417 = await h2(session, '/t/post', { expect: 'something' });
    expect(expect417.status).toBe(417);
    const metrics = await h2(session, edge.store.current.edge.metricsPath);
    expect([200, 401, 403]).toContain(metrics.status);
    // The two POSTs and the metrics GET; the 417 is answered by compat before any 'request'.
    expect(compat).toBe(3);
  });

  it('relays a 103 Early Hints from the origin to an h2 viewer before the final answer', async () => {
    const { origin, session } = await tlsEdge();
    origin.route('/t/hinted', (_req, res) => {
      res.writeEarlyHints({ link: '</t/style.css>; rel=preload; as=style' });
      setTimeout(() => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('hinted');
      }, 20);
    });
    const r = await h2(session, '/t/hinted');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('hinted');
    expect(r.interim.map((h) => [h[':status'], h.link])).toEqual([
      [103, '</t/style.css>; rel=preload; as=style'],
    ]);
  });

  it('survives viewers that reset mid-body and before the origin answered, and keeps serving', async () => {
    const { origin, edge, session } = await tlsEdge();
    const big = Buffer.alloc(600 * 1024, 7);
    cacheable(origin, '/t/big', big);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    origin.route('/t/slow', async (_req, res) => {
      await held;
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('late');
    });
    expect((await h2(session, '/t/big')).body.length).toBe(big.length);
    // A hit whose body is larger than the stream's window: reset after the first chunk.
    for (let i = 0; i < 5; i++) {
      const s = session.request({ ':path': '/t/big' });
      s.on('error', () => {});
      await once(s, 'data');
      s.close(constants.NGHTTP2_CANCEL);
      await once(s, 'close');
    }
    // A miss whose viewer leaves while the origin works: the edge then answers a closed stream.
    const s = session.request({ ':path': '/t/slow' });
    s.on('error', () => {});
    await until(() => origin.count('/t/slow') === 1);
    s.close(constants.NGHTTP2_CANCEL);
    await once(s, 'close');
    release();
    // The same session and a new one still get whole answers, and the late fill was cached.
    expect((await h2(session, '/t/big')).body.equals(big)).toBe(true);
    const again = connect(edge.url, { ca: tls.certPem });
    cleanup.push(async () => again.close());
    const late = await h2(again, '/t/slow');
    expect(late.body.toString()).toBe('late');
    // The late fill was stored after its viewer left: the next viewer gets it from the cache.
    expect(late.headers['x-cache']).toBe('Hit from edgewise');
    expect(origin.count('/t/slow')).toBe(1);
  });
});

describe('the HTTP/2 whole-request deadline', () => {
  it('answers a body that stops arriving with the catalogue 408 and closes only that stream', async () => {
    const { origin, session } = await tlsEdge({}, { server: { requestTimeoutMs: 1000 } });
    let originSaw = 0;
    origin.route('/t/trickle', async (req, res) => {
      for await (const c of req) originSaw += (c as Buffer).length;
      res.end('never');
    });
    cacheable(origin, '/t/after');
    // Ten of the thousand bytes it announced, then nothing (the session stays busy with PINGs).
    const s = session.request({ ':path': '/t/trickle', ':method': 'POST', 'content-length': '1000' });
    s.on('error', () => {});
    s.write(Buffer.alloc(10, 1));
    const chunks: Buffer[] = [];
    let status = 0;
    s.on('response', (h) => {
      status = Number(h[':status']);
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    const pinging = setInterval(() => session.ping(() => {}), 200);
    await once(s, 'close');
    clearInterval(pinging);
    expect(status).toBe(408);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { code: string; message: string };
    expect(body.code).toBe('EDGEWISE_REQUEST_TIMEOUT');
    expect(body.message).toContain('1000 ms');
    expect(originSaw).toBeLessThanOrEqual(10);
    // The connection carries on.
    expect((await h2(session, '/t/after')).status).toBe(200);
  });

  it('closes a session that keeps pinging but opens no request, as HTTP/1.1 closes an idle keep-alive', async () => {
    // The edge sets Node's HTTP/2 timeout to keepAliveTimeoutMs (src/edge/server.ts). Node counts
    // stream activity as activity, PING frames not: a PING-only session is closed like an idle
    // HTTP/1.1 keep-alive. Without server.setTimeout this session stays open.
    const { origin, session } = await tlsEdge({ keepAliveTimeoutMs: 1000 });
    // An answer that trickles for 2.5 s, a byte each 250 ms.
    origin.route('/t/slow', (_req, res) => {
      let n = 0;
      const tick = setInterval(() => {
        res.write('s');
        if (++n === 10) {
          clearInterval(tick);
          res.end();
        }
      }, 250);
    });
    const pinging = setInterval(() => session.ping(() => {}), 200);
    cleanup.push(async () => clearInterval(pinging));
    let goaway: number | undefined;
    session.on('goaway', (code: number) => {
      goaway = code;
    });
    const closed = once(session, 'close');
    // A stream that keeps sending for longer than the limit holds the session.
    const slow = await h2(session, '/t/slow');
    expect(slow.status).toBe(200);
    expect(slow.body.toString()).toBe('s'.repeat(10));
    expect(session.closed || session.destroyed).toBe(false);
    // Then only PINGs.
    const outcome = await Promise.race([
      closed.then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('still open after 10 s'), 10_000).unref()),
    ]);
    expect(outcome).toBe('closed');
    expect(goaway).toBe(constants.NGHTTP2_NO_ERROR);
  });
});

describe('an h2 hit at the response-hook seam', () => {
  /** An h2 server answering every stream from `entry` through serveStreams and deliverHit. */
  async function serve(entry: MemoryEntry, hook: ResponseHook, failures: unknown[]) {
    const server = createSecureServer({ cert: tls.certPem, key: await readFile(tls.key) });
    serveStreams(
      server,
      (req, res) => {
        const ctx = createContext(req, res, false);
        if (typeof ctx === 'string') throw new Error(ctx);
        deliverHit(ctx, 'Hit', entry, 42, { pop: 'TST1', hook }).catch((err: unknown) => {
          failures.push(err);
          res.destroy();
        });
      },
      { isOwnRoute: () => false, deadlineMs: () => 60_000, log: { info() {} } },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    const session = connect(`https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`, {
      ca: tls.certPem,
    });
    session.on('error', () => {});
    cleanup.push(async () => {
      session.close();
      await new Promise((r) => server.close(r));
    });
    return session;
  }

  it('sends the head compiled once per entry and remembered result, Age and the id filled per request', async () => {
    const { hook, calls } = countingHook();
    const failures: unknown[] = [];
    const session = await serve(entryWith({ 'content-type': 'text/plain' }), hook, failures);
    const a = await h2(session, '/x');
    const b = await h2(session, '/x');
    expect(failures).toEqual([]);
    expect(calls).toEqual({ replay: 1, run: 0 });
    expect(a.headers['x-fn']).toBe('replayed');
    expect(a.headers.age).toBe('42');
    expect(a.headers['x-amz-cf-id']).not.toBe(b.headers['x-amz-cf-id']);
    expect(b.headers['server-timing']).toContain(`cdn-rid;desc="${String(b.headers['x-amz-cf-id'])}"`);
    expect(a.body.toString()).toBe('hello');
  });

  it('refuses a value that could not be sent over h2 as over HTTP/1.1: nothing of it reaches the viewer', async () => {
    const { hook, calls } = countingHook();
    const failures: unknown[] = [];
    const session = await serve(entryWith({ 'x-bad': 'a\u0001b' }), hook, failures);
    const s = session.request({ ':path': '/x' });
    s.on('error', () => {});
    let head: Record<string, unknown> | undefined;
    s.on('response', (h) => {
      head = h;
    });
    s.resume();
    await once(s, 'close');
    expect(head).toBeUndefined();
    expect(failures).toHaveLength(1);
    expect((failures[0] as { code?: string }).code).toBe('ERR_INVALID_CHAR');
    expect(calls.run).toBe(1);
  });
});
