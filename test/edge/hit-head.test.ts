/**
 * The compiled head of a memory-tier hit (src/edge/hit-head.ts): what a hit puts on the wire,
 * read byte for byte from a raw socket, with the viewer functions `edgewise cloudfront build`
 * writes (reused results, the defaults) and without them; and, at the seam, that a head is
 * compiled once per entry and remembered function result, with every value checked first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildFunctions, writeBuild } from '../../src/cloudfront/build.js';
import { createContext } from '../../src/edge/context.js';
import { deliverHit, type MemoryEntry } from '../../src/edge/hit-head.js';
import type { ResponseHook } from '../../src/edge/respond.js';
import { type CountingOrigin, startTestEdge, type TestEdge, useCountingOriginAndEdge } from './helpers.js';
import { countingHook, entryWith } from './hook-seam.js';

const { setup, cleanup } = useCountingOriginAndEdge();

interface RawResponse {
  /** The status line. */
  status: string;
  /** Header lines as sent: [name, value], in order. */
  fields: Array<[string, string]>;
  body: Buffer;
}

/**
 * Sends requests on one keep-alive connection (all written at once: pipelined) and parses the
 * responses from the bytes that come back. `bodiless` marks the requests whose answers carry no
 * body whatever their Content-Length (HEAD, 304).
 */
async function raw(
  url: string,
  requests: Array<{ head: string; bodiless?: boolean }>,
): Promise<RawResponse[]> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  socket.write(requests.map((r) => r.head).join(''));
  let buf = Buffer.alloc(0);
  const out: RawResponse[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const fields = lines.slice(1).map((l): [string, string] => {
          const colon = l.indexOf(':');
          return [l.slice(0, colon), l.slice(colon + 1).trim()];
        });
        const cl = fields.find(([k]) => k.toLowerCase() === 'content-length');
        const length = requests[out.length]?.bodiless || !cl ? 0 : Number(cl[1]);
        if (buf.length < end + 4 + length) return;
        out.push({ status: lines[0]!, fields, body: buf.subarray(end + 4, end + 4 + length) });
        buf = buf.subarray(end + 4 + length);
        if (out.length === requests.length) {
          socket.end();
          resolve();
          return;
        }
      }
    });
  });
  return out;
}

const GET = (path: string, extra = '') => ({
  head: `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`,
});

const field = (r: RawResponse, name: string) => r.fields.find(([k]) => k === name)?.[1];

/** A response's fields with Age and the request id (the per-request values) blanked. */
function constant(r: RawResponse): Array<[string, string]> {
  return r.fields.map(([k, v]): [string, string] => {
    if (k === 'age') return [k, '<age>'];
    const id = field(r, 'x-amz-cf-id')!;
    return [k, v.replaceAll(id, '<id>')];
  });
}

async function builtEdge(origin: CountingOrigin, first: TestEdge): Promise<TestEdge> {
  const fnDir = await mkdtemp(join(tmpdir(), 'edgewise-hit-head-'));
  cleanup.push(() => rm(fnDir, { recursive: true, force: true }));
  writeBuild(buildFunctions(first.store.current), fnDir);
  const edge = await startTestEdge(origin.url, {}, { functions: { dir: fnDir } });
  cleanup.push(() => edge.close());
  return edge;
}

describe('a memory-tier hit on the wire', () => {
  it('sends every header a hit sends, in order, with Age growing and a new id per request (built functions on)', async () => {
    const { origin, edge: first } = await setup();
    const edge = await builtEdge(origin, first);
    const date = new Date(Date.now() - 5000).toUTCString();
    origin.route('/t/a.bin', (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': '1024',
        'cache-control': 'max-age=600',
        etag: '"v1"',
        date,
        'x-origin': 'o',
      });
      res.end(Buffer.alloc(1024, 7));
    });
    const [miss] = await raw(edge.url, [GET('/t/a.bin')]);
    expect(field(miss!, 'x-cache')).toBe('Miss from edgewise');
    const hits = await raw(edge.url, [GET('/t/a.bin'), GET('/t/a.bin'), GET('/t/a.bin')]);
    for (const h of hits) {
      expect(h.status).toBe('HTTP/1.1 200 OK');
      expect(h.body).toEqual(Buffer.alloc(1024, 7));
      const id = field(h, 'x-amz-cf-id')!;
      expect(id).toMatch(/^[\w-]+$/);
      expect(constant(h)).toEqual([
        ['content-type', 'application/octet-stream'],
        ['content-length', '1024'],
        // The viewer-response function sets the class's browser TTL (testClass: 0).
        ['cache-control', expect.any(String)],
        ['etag', '"v1"'],
        // The origin's Date, as CloudFront passes it (Node adds none when one is set).
        ['date', date],
        ['x-origin', 'o'],
        ['age', '<age>'],
        ['accept-ranges', 'bytes'],
        ...constant(miss!).filter(([k]) =>
          ['strict-transport-security', 'x-content-type-options', 'referrer-policy'].includes(k),
        ),
        ['server-timing', expect.stringMatching(/^cdn-cache-hit,cdn-pop;desc="[^"]+",cdn-rid;desc="<id>"/)],
        ['x-cache', 'Hit from edgewise'],
        ['x-amz-cf-pop', field(miss!, 'x-amz-cf-pop')!],
        ['x-amz-cf-id', '<id>'],
        ['via', '1.1 edgewise'],
        ['Connection', 'keep-alive'],
        ['Keep-Alive', expect.stringMatching(/^timeout=\d+$/)],
      ]);
      expect(field(h, 'cache-control')).toBe(field(miss!, 'cache-control'));
      expect(field(h, 'server-timing')).toBe(
        field(miss!, 'server-timing')!
          .replace('cdn-cache-miss', 'cdn-cache-hit')
          .replace(/,cdn-upstream-fbl;dur=\d+/, '')
          .replaceAll(field(miss!, 'x-amz-cf-id')!, id),
      );
    }
    // The viewer-response function's own headers are there (the built one sets these).
    expect(field(hits[0]!, 'x-content-type-options')).toBe('nosniff');
    expect(new Set(hits.map((h) => field(h, 'x-amz-cf-id'))).size).toBe(3);
    // Age is the entry's age now, not the age the head was compiled at: wait for it to move.
    const age0 = Number(field(hits[0]!, 'age'));
    let later = age0;
    for (let i = 0; i < 40 && later <= age0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      later = Number(field((await raw(edge.url, [GET('/t/a.bin')]))[0]!, 'age'));
    }
    expect(later).toBeGreaterThan(age0);
    expect(origin.count('/t/a.bin')).toBe(1);
  });

  it('answers HEAD, 304 and 206 on a held entry with the same fields as before', async () => {
    const { origin, edge: first } = await setup();
    const edge = await builtEdge(origin, first);
    origin.route('/t/b.txt', (_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'cache-control': 'max-age=600',
        etag: '"b1"',
        'last-modified': new Date(Date.now() - 60_000).toUTCString(),
      });
      res.end('0123456789');
    });
    await raw(edge.url, [GET('/t/b.txt')]);
    const [get, head, notModified, part] = await raw(edge.url, [
      GET('/t/b.txt'),
      { head: 'HEAD /t/b.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', bodiless: true },
      { ...GET('/t/b.txt', 'If-None-Match: "b1"\r\n'), bodiless: true },
      GET('/t/b.txt', 'Range: bytes=2-4\r\n'),
    ]);
    expect(get!.body.toString()).toBe('0123456789');
    // HEAD: GET's head exactly, no body (the next response on the socket parsed cleanly).
    expect(head!.status).toBe('HTTP/1.1 200 OK');
    expect(constant(head!)).toEqual(constant(get!));
    expect(head!.body.length).toBe(0);
    expect(notModified!.status).toBe('HTTP/1.1 304 Not Modified');
    expect(field(notModified!, 'etag')).toBe('"b1"');
    expect(field(notModified!, 'content-length')).toBeUndefined();
    expect(field(notModified!, 'x-cache')).toBe('Hit from edgewise');
    expect(part!.status).toBe('HTTP/1.1 206 Partial Content');
    expect(field(part!, 'content-range')).toBe('bytes 2-4/10');
    expect(field(part!, 'content-length')).toBe('3');
    expect(part!.body.toString()).toBe('234');
    expect(origin.count('/t/b.txt')).toBe(1);
  });

  it('sends the same head without viewer functions, less what the function adds', async () => {
    const { origin, edge } = await setup();
    origin.route('/t/c.bin', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'max-age=600' });
      res.end('png');
    });
    await raw(edge.url, [GET('/t/c.bin')]);
    const [a, b] = await raw(edge.url, [GET('/t/c.bin'), GET('/t/c.bin')]);
    expect(constant(a!)).toEqual(constant(b!));
    expect(constant(a!).map(([k]) => k)).toEqual([
      'content-type',
      'cache-control',
      'date',
      'age',
      'accept-ranges',
      // The origin sent its body chunked: the edge stored it whole and says how long it is.
      'content-length',
      'x-cache',
      'via',
      'x-amz-cf-pop',
      'x-amz-cf-id',
      'server-timing',
      'Connection',
      'Keep-Alive',
    ]);
  });
});

describe('deliverHit at the response-hook seam', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  /** A server answering every request from `entry` through deliverHit with `hook`. */
  async function serve(entry: MemoryEntry, hook: ResponseHook, failures: unknown[] = []) {
    const server = createServer((req, res) => {
      const ctx = createContext(req, res, false);
      if (typeof ctx === 'string') throw new Error(ctx);
      deliverHit(ctx, 'Hit', entry, 42, { pop: 'TST1', hook }).catch((err: unknown) => {
        failures.push(err);
        res.destroy();
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  it('compiles an entry’s head once per remembered result and fills Age and the id per request', async () => {
    const { hook, calls } = countingHook();
    const url = await serve(
      entryWith({ 'content-type': 'text/plain', date: 'Mon, 07 Dec 2026 00:00:00 GMT' }),
      hook,
    );
    const [a, b] = await raw(url, [GET('/x'), GET('/x')]);
    expect(calls).toEqual({ replay: 1, run: 0 });
    expect(field(a!, 'x-fn')).toBe('replayed');
    expect(field(a!, 'age')).toBe('42');
    expect(field(a!, 'x-amz-cf-pop')).toBe('TST1');
    expect(field(a!, 'x-amz-cf-id')).not.toBe(field(b!, 'x-amz-cf-id'));
    expect(field(b!, 'server-timing')).toContain(`cdn-rid;desc="${field(b!, 'x-amz-cf-id')}"`);
    expect(constant(a!)).toEqual(constant(b!));
    expect(a!.body.toString()).toBe('hello');
  });

  it('never compiles a value that could not be sent: the hit fails as writeHead fails it', async () => {
    const { hook, calls } = countingHook();
    const failures: unknown[] = [];
    const url = await serve(entryWith({ 'x-bad': 'a\u0001b' }), hook, failures);
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.write(GET('/x').head);
    const sent = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
      });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(sent).not.toContain('x-bad');
    expect(failures).toHaveLength(1);
    expect((failures[0] as { code?: string }).code).toBe('ERR_INVALID_CHAR');
    // The general path ran the hook (no compiled head was kept).
    expect(calls.run).toBe(1);
  });
});
