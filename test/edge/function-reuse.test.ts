/**
 * Function-result reuse (src/edge/pipeline/function-memo.ts, docs/edge.md): the viewer functions
 * edgewise built from the running config have their results reused for requests that agree on
 * every field a run read. Each request here goes through two loads of the same built files,
 * one reusing results and one running the function for every request, and the two must leave
 * the request (path, query, headers in order) and the response (status, headers in order, body)
 * exactly the same.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFunctions, writeBuild } from '../../src/cloudfront/build.js';
import { requestEvent } from '../../src/cloudfront/events.js';
import { loadViewerFunction } from '../../src/cloudfront/runtime.js';
import { classifyViewerRequest, RunTrace } from '../../src/cloudfront/runtime-trace.js';
import { buildConfig } from '../../src/config/index.js';
import type { ContentClassConfig } from '../../src/config/sections/classes.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';
import {
  createContext,
  type EdgeContext,
  type ViewerRequest,
  type ViewerResponse,
} from '../../src/edge/context.js';
import { loadViewerFunctions, type ViewerFunctions } from '../../src/edge/pipeline/viewer-functions.js';

const RAW = {
  classes: [
    {
      name: 'api_all',
      pathPatterns: ['/q/*'],
      ttl: { min: 0, default: 60, max: 3600 },
      browserTtl: 0,
      cacheKey: { headers: [], cookies: [], queryStrings: [], queryStringBehavior: 'all' },
      viewerProtocolPolicy: 'https-only',
    },
    ...DEFAULT_CLASSES,
  ],
};

function setup(raw: object = RAW, memoEntries?: number) {
  const { config } = buildConfig(raw, undefined);
  const dir = mkdtempSync(join(tmpdir(), 'edgewise-fn-reuse-'));
  writeBuild(buildFunctions(config), dir);
  const opts = { dir, viewerRequest: true, viewerResponse: true };
  const reusing = loadViewerFunctions(
    { ...opts, build: () => buildFunctions(config), ...(memoEntries ? { memoEntries } : {}) },
    () => {},
  );
  const fresh = loadViewerFunctions(opts, () => {});
  return { config, dir, reusing, fresh };
}

/** A deterministic generator, so a failure names a reproducible request. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
}

interface RequestSpec {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  encrypted: boolean;
}

/** An IncomingMessage as createContext reads it (url, method, headers, socket). */
function contextFor(spec: RequestSpec): EdgeContext {
  const req = {
    url: spec.url,
    method: spec.method,
    headers: { ...spec.headers },
    httpVersion: '1.1',
    rawHeaders: [],
    socket: { remoteAddress: '192.0.2.7', remotePort: 50000, encrypted: spec.encrypted },
  } as unknown as ViewerRequest;
  const ctx = createContext(req, {} as ViewerResponse, true);
  if (typeof ctx === 'string') throw new Error(ctx);
  return ctx;
}

const PATHS = [
  '/static/app.js',
  '/static/app.0123abcd.js',
  '/static/',
  '/img/cat.jpg',
  '/img/a/b.png',
  '/api/items',
  '/q/search',
  '/u/file.txt',
  '/other',
  '/static/../etc/passwd',
  '/static/%2e%2e/x',
  '/static//double',
  `/static/${'a'.repeat(3000)}`,
];
const QUERIES = [
  '',
  'w=100',
  'w=100&h=50',
  'h=50&w=100',
  'q=75',
  'q=80&fmt=auto',
  'fmt=webp',
  'fmt=bogus',
  'w=abc',
  'fit=contain&w=10&h=10',
  'x=1&y=2',
  'b=2&a=1',
  'a=1&a=2',
  'Signature=abc&Expires=1',
  'w=100&w=200',
  'a',
  'a=&&b=1',
];
const ACCEPTS = [undefined, 'image/avif,image/webp,*/*', 'image/webp,*/*', '*/*', 'text/html'];
const HOSTS = [undefined, 'cdn.example', 'cdn.example:8080'];
const AGENTS = ['curl/8.5', 'Mozilla/5.0 (X11)', 'edgewise-prefetch/1', undefined];
const COOKIES = [undefined, 'a=1; b=2', 'a=1;b=2', 'x', 'session=s%20p; a=1'];

function randomRequest(pick: ReturnType<typeof prng>): RequestSpec {
  const headers: Record<string, string | string[]> = {};
  const set = (name: string, v: string | string[] | undefined) => {
    if (v !== undefined) headers[name] = v;
  };
  set('host', pick(HOSTS));
  // HTTP/2 viewers carry the host as :authority.
  if (headers.host === undefined) set(':authority', pick([undefined, 'h2.example']));
  set('accept', pick(ACCEPTS));
  set('user-agent', pick(AGENTS));
  set('cookie', pick(COOKIES));
  set('cloudfront-forwarded-proto', pick([undefined, undefined, 'http', 'https']));
  set('x-forwarded-proto', pick([undefined, 'https', 'http']));
  set('x-real-ip', pick([undefined, '198.51.100.1'])); // CloudFront hides it from functions
  set('connection', pick([undefined, 'keep-alive']));
  set('x-multi', pick([undefined, ['1', '2'], ['only'], 'one']));
  set('x-request-tag', pick([undefined, String(Math.floor(pick([1, 2, 3, 4, 5, 6, 7]) * 1000))]));
  const q = pick(QUERIES);
  return {
    method: pick(['GET', 'GET', 'GET', 'HEAD', 'POST']),
    url: q ? `${pick(PATHS)}?${q}` : pick(PATHS),
    headers,
    encrypted: pick([false, false, true]),
  };
}

function randomResponse(pick: ReturnType<typeof prng>): { status: number; headers: OutgoingHttpHeaders } {
  const h: OutgoingHttpHeaders = {};
  const set = (name: string, v: OutgoingHttpHeaders[string]) => {
    if (v !== undefined) h[name] = v;
  };
  set('content-type', pick(['text/css', 'application/javascript', 'image/avif', undefined]));
  set('content-length', pick([1024, '1024', undefined]));
  set('cache-control', pick(['public, max-age=60', 'no-store', 'private, max-age=5', 'Private', undefined]));
  set('etag', pick(['"abc"', 'W/"abc"', undefined]));
  set('set-cookie', pick([undefined, 'a=1; Path=/', ['a=1; Path=/', 'b=2'], 'bad']));
  set('referrer-policy', pick([undefined, 'no-referrer']));
  set('server-timing', pick([undefined, 'cdn-cache-hit,cdn-pop;desc="LOCAL"']));
  set('x-cache', pick([undefined, 'Hit from edgewise']));
  set('via', pick([undefined, '1.1 edgewise']));
  set('x-amz-cf-id', 'fixed-id');
  set('age', pick(['0', '12', undefined]));
  set('x-multi', pick([undefined, ['a', 'b'], ['single']]));
  set('content-encoding', pick([undefined, 'br']));
  return { status: pick([200, 200, 200, 206, 304, 301, 404, 500]), headers: h };
}

/** What a viewer-request step did to the request and what it answered, key order included. */
function requestView(ctx: EdgeContext, answer: unknown): string {
  return JSON.stringify({
    answer: answer === undefined ? undefined : normaliseAnswer(answer),
    path: ctx.path,
    query: ctx.query,
    headers: Object.entries(ctx.headers),
  });
}

function normaliseAnswer(a: unknown): unknown {
  const o = a as { headers?: OutgoingHttpHeaders; body?: Buffer };
  return {
    ...o,
    headers: o.headers ? Object.entries(o.headers) : undefined,
    body: o.body?.toString('base64'),
  };
}

async function throughBoth(
  fns: { reusing: ViewerFunctions; fresh: ViewerFunctions },
  spec: RequestSpec,
  response: { status: number; headers: OutgoingHttpHeaders },
): Promise<{ memo: string; fresh: string }> {
  const out = { memo: '', fresh: '' };
  for (const which of ['reusing', 'fresh'] as const) {
    const f = fns[which];
    const ctx = contextFor(spec);
    const answer = await f.request!(ctx, undefined as unknown as ContentClassConfig);
    let res = '';
    if (answer === undefined) {
      const r = await f.response!(ctx, response.status, { ...response.headers });
      res = JSON.stringify({
        status: r.status,
        headers: Object.entries(r.headers),
        body: r.replaceBody?.toString(),
      });
    }
    out[which === 'reusing' ? 'memo' : 'fresh'] = `${requestView(ctx, answer)}\n${res}`;
  }
  return out;
}

describe('viewer-function results reused for identical inputs', () => {
  it('gives exactly what running the function gives, over 3,000 varied requests', async () => {
    const s = setup();
    expect(s.reusing.reuse).toEqual({ request: 'on', response: 'on' });
    expect(s.fresh.reuse.request).not.toBe('on');
    const pick = prng(20);
    for (let i = 0; i < 3000; i++) {
      const spec = randomRequest(pick);
      const res = randomResponse(pick);
      const { memo, fresh } = await throughBoth(s, spec, res);
      if (memo !== fresh) {
        // Names the request that differed, with both outcomes.
        expect({ i, spec, res, memo }).toEqual({ i, spec, res, memo: fresh });
      }
    }
    const stats = s.reusing.memoStats();
    // Most requests agree with an earlier one on what the functions read.
    expect(stats.requestReused).toBeGreaterThan(1000);
    expect(stats.responseReused).toBeGreaterThan(500);
    expect(s.fresh.memoStats()).toEqual({ request: 0, response: 0, requestReused: 0, responseReused: 0 });
  });

  it('a field the function did not read may change (reused); one it read may not (run again)', async () => {
    const s = setup();
    const base: RequestSpec = {
      method: 'GET',
      url: '/img/cat.jpg?w=100',
      headers: { host: 'cdn.example', accept: 'image/avif,image/webp,*/*', 'user-agent': 'a' },
      encrypted: true,
    };
    const res = { status: 200, headers: { 'content-type': 'image/avif', 'cache-control': 'public' } };
    const first = await throughBoth(s, base, res);
    expect(first.memo).toBe(first.fresh);
    expect(s.reusing.memoStats().requestReused).toBe(0);

    // User-Agent and Cookie are not read by the built viewer-request function: reused.
    const otherAgent = { ...base, headers: { ...base.headers, 'user-agent': 'b', cookie: 'k=v' } };
    const second = await throughBoth(s, otherAgent, res);
    expect(second.memo).toBe(second.fresh);
    expect(s.reusing.memoStats().requestReused).toBe(1);
    // The rewritten request still carries the viewer's own User-Agent and Cookie.
    expect(second.memo).toContain('"user-agent","b"');
    expect(second.memo).toContain('"cookie","k=v"');

    // Accept is read on image paths (it picks fmt): a different Accept runs the function again.
    const webpOnly = { ...base, headers: { ...base.headers, accept: 'image/webp,*/*' } };
    const third = await throughBoth(s, webpOnly, res);
    expect(third.memo).toBe(third.fresh);
    expect(s.reusing.memoStats().requestReused).toBe(1);
    expect(third.memo).toMatch(/"query":"fmt=auto-w&w=\d+"/);
    expect(first.memo).toMatch(/"query":"fmt=auto-aw&w=\d+"/);
  });

  it('a reused https HTTP/2 request carries CloudFront-Forwarded-Proto and Host from :authority, as a run does', async () => {
    const s = setup();
    const h2: RequestSpec = {
      method: 'GET',
      url: '/static/app.js',
      headers: { ':authority': 'h2.example', accept: '*/*', 'user-agent': 'a' },
      encrypted: true,
    };
    const res = { status: 200, headers: { 'content-type': 'text/css' } };
    const first = await throughBoth(s, h2, res);
    const second = await throughBoth(s, { ...h2, headers: { ...h2.headers, 'user-agent': 'b' } }, res);
    expect(s.reusing.memoStats().requestReused).toBe(1);
    expect(first.memo).toBe(first.fresh);
    expect(second.memo).toBe(second.fresh);
    const headers = JSON.parse(second.memo.split('\n')[0]!).headers as [string, string][];
    expect(Object.fromEntries(headers)).toMatchObject({
      'cloudfront-forwarded-proto': 'https',
      host: 'h2.example',
      'user-agent': 'b',
    });
    // Over plain http the edge adds no CloudFront-Forwarded-Proto (viewerHeadersOf).
    const plain = await throughBoth(s, { ...h2, encrypted: false }, res);
    expect(plain.memo).toBe(plain.fresh);
    expect(plain.memo).not.toContain('cloudfront-forwarded-proto');
  });

  it('never reuses a hand-written function, even one that starts like a built one', async () => {
    const s = setup();
    const file = join(s.dir, 'viewer-request.js');
    writeFileSync(file, `${readFileSync(file, 'utf8')}// edited by hand\n`);
    const edited = loadViewerFunctions(
      { dir: s.dir, viewerRequest: true, viewerResponse: false, build: () => buildFunctions(s.config) },
      () => {},
    );
    expect(edited.reuse.request).toBe('the file is not what edgewise builds from this config');
    const spec: RequestSpec = { method: 'GET', url: '/static/app.js', headers: {}, encrypted: false };
    for (let i = 0; i < 3; i++) await edited.request!(contextFor(spec), undefined as never);
    expect(edited.memoStats()).toEqual({ request: 0, response: 0, requestReused: 0, responseReused: 0 });
  });

  it('a reload that rebuilds the functions drops what was remembered', async () => {
    const s = setup();
    const spec: RequestSpec = {
      method: 'GET',
      url: '/static/app.js?w=100&x=1',
      headers: {},
      encrypted: false,
    };
    const run = async () => {
      const ctx = contextFor(spec);
      await s.reusing.request!(ctx, undefined as never);
      return ctx.query;
    };
    expect(await run()).toBe('w=100');
    expect(await run()).toBe('w=100');
    expect(s.reusing.memoStats()).toMatchObject({ request: 1, requestReused: 1 });
    // The new config keeps every query parameter on static paths.
    const { config } = buildConfig(
      {
        classes: RAW.classes.map((c) =>
          c.name === 'static_assets'
            ? { ...c, cacheKey: { ...c.cacheKey, queryStrings: [], queryStringBehavior: 'all' } }
            : c,
        ),
      },
      undefined,
    );
    expect(s.reusing.update(buildFunctions(config))).toBe('updated');
    expect(s.reusing.memoStats()).toMatchObject({ request: 0, response: 0 });
    expect(await run()).toBe('w=100&x=1');
  });

  it('holds at most memoEntries results per function', async () => {
    const s = setup(RAW, 8);
    for (let i = 0; i < 50; i++)
      await s.reusing.request!(
        contextFor({ method: 'GET', url: `/static/f${i}.js`, headers: {}, encrypted: false }),
        undefined as never,
      );
    expect(s.reusing.memoStats().request).toBe(8);
  });
});

describe('the run trace', () => {
  const event = () =>
    requestEvent({
      method: 'GET',
      url: '/a?x=1',
      headers: { host: 'h', accept: 'text/html', 'user-agent': 'u' },
      clientIp: '192.0.2.1',
      requestId: 'rid-1',
    });
  const traced = async (body: string) => {
    const fn = loadViewerFunction(`function handler(event) { var r = event.request; ${body} return r; }`);
    const trace = new RunTrace(classifyViewerRequest);
    const result = await fn.run(event(), trace);
    return { trace, result };
  };

  it('names the fields a run read', async () => {
    const { trace } = await traced("if (r.headers.accept && r.uri !== '/') r.querystring = {};");
    expect([...trace.reads]).toEqual(['h:accept', 'u']);
    expect([...trace.writes]).toEqual(['q']);
    expect(trace.unusable).toBeUndefined();
  });

  it('a run that enumerates the headers, reads the request id or writes a header is not reusable', async () => {
    expect((await traced('for (var k in r.headers) {}')).trace.unusable).toMatch(/keys of request\.headers/);
    expect((await traced('var id = event.context.requestId;')).trace.unusable).toMatch(/requestId/);
    expect((await traced("r.headers['x-a'] = { value: '1' };")).trace.unusable).toMatch(/write/);
    expect((await traced('var all = JSON.stringify(r);')).trace.unusable).toBeDefined();
  });

  it('Math.random, the clock and console.log count as impure', async () => {
    const fn = loadViewerFunction(
      'function handler(event) { if (event.request.uri === "/r") Math.random(); if (event.request.uri === "/d") Date.now(); return event.request; }',
    );
    const before = fn.impurity();
    await fn.run(requestEvent({ method: 'GET', url: '/x', headers: {}, clientIp: '-' }));
    expect(fn.impurity()).toBe(before);
    await fn.run(requestEvent({ method: 'GET', url: '/r', headers: {}, clientIp: '-' }));
    expect(fn.impurity()).toBe(before + 1);
    await fn.run(requestEvent({ method: 'GET', url: '/d', headers: {}, clientIp: '-' }));
    expect(fn.impurity()).toBe(before + 2);
  });
});
