/**
 * The built CloudFront Functions, run in node:vm through src/cloudfront/runtime.ts with events
 * shaped as the AWS "CloudFront Functions event structure" documentation describes (fixtures in
 * edge-functions/<name>/fixtures).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { classify } from '../../src/classes.js';
import { BuildError, buildFunctions, edgeFunctionsDir, kvsLookup } from '../../src/cloudfront/build.js';
import { type CfEvent, loadViewerFunction, type RunResult } from '../../src/cloudfront/runtime.js';
import { buildConfig } from '../../src/config/index.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';

const fixture = (fn: string, name: string): CfEvent =>
  JSON.parse(readFileSync(join(edgeFunctionsDir(), fn, 'fixtures', `${name}.json`), 'utf8')) as CfEvent;

function load(raw: object = {}) {
  const { config } = buildConfig(raw, undefined);
  const out = buildFunctions(config);
  const kvs = kvsLookup(out.kvs);
  return {
    out,
    request: loadViewerFunction(out.viewerRequest.code, { kvs }),
    response: loadViewerFunction(out.viewerResponse.code, { kvs }),
  };
}

function asRequest(r: RunResult) {
  if (r.kind !== 'request') throw new Error(`expected a request, got ${JSON.stringify(r)}`);
  return r.request;
}
function asResponse(r: RunResult) {
  if (r.kind !== 'response') throw new Error(`expected a response, got ${JSON.stringify(r)}`);
  return r.response;
}

for (const mode of ['inline', 'kvs'] as const) {
  describe(`viewer-request (${mode})`, () => {
    const fns = load({ cloudfront: { functions: { classSource: mode, kvsId: 'a1b2c3d4-test' } } });

    test("image: Accept gives the origin's negotiation token (auto-aw: AVIF and WebP), width and quality snap to the configured lists, other params dropped", async () => {
      const ev = fixture('viewer-request', 'image-accept-avif');
      ev.request.querystring.q = { value: '88' };
      const req = asRequest(await fns.request.run(ev));
      expect(Object.keys(req.querystring)).toEqual(['fmt', 'q', 'w']);
      expect(req.querystring).toEqual({ fmt: { value: 'auto-aw' }, q: { value: '90' }, w: { value: '384' } });
      expect(req.cookies).toEqual({ session: { value: 'abc' } });
    });

    test('image: values equal to the origin defaults leave the key (q → images.defaultQuality, fit=cover)', async () => {
      const req = asRequest(await fns.request.run(fixture('viewer-request', 'image-accept-avif')));
      expect(req.querystring).toEqual({ fmt: { value: 'auto-aw' }, w: { value: '384' } });
      const ev = fixture('viewer-request', 'image-accept-avif');
      ev.request.querystring = { w: { value: '100' }, h: { value: '100' }, fit: { value: 'contain' } };
      expect(asRequest(await fns.request.run(ev)).querystring).toMatchObject({ fit: { value: 'contain' } });
      ev.request.querystring = { w: { value: '100' }, h: { value: '100' }, fit: { value: 'cover' } };
      expect(asRequest(await fns.request.run(ev)).querystring.fit).toBeUndefined();
      ev.request.querystring = { w: { value: '100' }, fit: { value: 'contain' } };
      expect(asRequest(await fns.request.run(ev)).querystring.fit).toBeUndefined();
      ev.request.querystring = { w: { value: '100' }, h: { value: '100' }, fit: { value: 'stretch' } };
      expect(asResponse(await fns.request.run(ev)).statusCode).toBe(400);
    });

    test('regression: a PUT through a signed upload URL keeps its query (the signature covers it)', async () => {
      const ev = fixture('viewer-request', 'image-accept-webp');
      ev.request.method = 'PUT';
      ev.request.uri = '/uploads/demo/a.txt';
      ev.request.querystring = {
        key: { value: 'demo%2Fa.txt' },
        exp: { value: '1795846078' },
        sig: { value: 'abc' },
      };
      const req = asRequest(await fns.request.run(ev));
      expect(req.querystring).toEqual(ev.request.querystring);
      ev.request.method = 'GET';
      expect(asRequest(await fns.request.run(ev)).querystring).toEqual({});
    });

    test('image: auto-w when AVIF is not accepted; ties snap up (1100 → 1080 is nearer than 1200)', async () => {
      const req = asRequest(await fns.request.run(fixture('viewer-request', 'image-accept-webp')));
      expect(req.querystring).toEqual({ fmt: { value: 'auto-w' }, w: { value: '1080' } });
    });

    test('image: no image Accept → fmt=auto, which is what no fmt means (removed from the key)', async () => {
      const ev = fixture('viewer-request', 'image-accept-webp');
      ev.request.headers.accept = { value: 'image/png,*/*' };
      const req = asRequest(await fns.request.run(ev));
      expect(req.querystring).toEqual({ w: { value: '1080' } });
    });

    test('image: non-numeric width and unknown format are 400 at the edge', async () => {
      expect(asResponse(await fns.request.run(fixture('viewer-request', 'image-bad-width'))).statusCode).toBe(
        400,
      );
      const ev = fixture('viewer-request', 'image-accept-webp');
      ev.request.querystring.fmt = { value: 'bmp' };
      expect(asResponse(await fns.request.run(ev)).statusCode).toBe(400);
    });

    test('query allowlist: kept parameters sorted, first value only; equivalent URLs give one key', async () => {
      const a = asRequest(await fns.request.run(fixture('viewer-request', 'static-query-unsorted')));
      expect(Object.keys(a.querystring)).toEqual(['fit', 'q', 'w']);
      expect(a.querystring.w).toEqual({ value: '256' });
      const ev = fixture('viewer-request', 'static-query-unsorted');
      ev.request.querystring = { w: { value: '256' }, fit: { value: 'cover' }, q: { value: '75' } };
      const b = asRequest(await fns.request.run(ev));
      expect(JSON.stringify(b.querystring)).toBe(JSON.stringify(a.querystring));
    });

    test('http → https redirect for redirect-to-https classes, not for allow-all', async () => {
      const res = asResponse(await fns.request.run(fixture('viewer-request', 'http-to-https')));
      expect(res.statusCode).toBe(301);
      expect(res.headers?.location?.value).toBe('https://cdn.example.com/static/app.css?v=1');
      const api = asRequest(await fns.request.run(fixture('viewer-request', 'api-http-allowed')));
      // The API class keys on every parameter (cacheKey.queryStringBehavior all).
      expect(api.querystring).toEqual({ page: { value: '2' } });
      expect(api.headers.authorization?.value).toBe('Bearer t0ken');
    });

    test('traversal (plain and percent-encoded) and over-long URIs are rejected at the edge', async () => {
      expect(
        asResponse(await fns.request.run(fixture('viewer-request', 'traversal-encoded'))).statusCode,
      ).toBe(400);
      expect(asResponse(await fns.request.run(fixture('viewer-request', 'traversal-plain'))).statusCode).toBe(
        400,
      );
      const ev = fixture('viewer-request', 'static-query-unsorted');
      ev.request.uri = `/static/${'a'.repeat(8200)}`;
      expect(asResponse(await fns.request.run(ev)).statusCode).toBe(414);
      ev.request.uri = '/static/ok.css';
      ev.request.querystring = { x: { value: 'b'.repeat(8190) } };
      expect(asResponse(await fns.request.run(ev)).statusCode).toBe(414);
    });

    test('signed classes keep their query exactly (the signature covers it)', async () => {
      const ev = fixture('viewer-request', 'signed-user-content');
      const before = JSON.stringify(ev.request.querystring);
      const req = asRequest(await fns.request.run(ev));
      expect(JSON.stringify(req.querystring)).toBe(before);
    });

    test('path classification follows first-match order like src/classes.ts', async () => {
      const { config } = buildConfig(
        {
          classes: [
            {
              name: 'a',
              pathPatterns: ['/x/special?.css'],
              ttl: { default: 1, max: 2 },
              browserTtl: 1,
              cacheKey: { queryStrings: ['k'] },
            },
            { name: 'b', pathPatterns: ['/x/*'], ttl: { default: 1, max: 2 }, browserTtl: 1 },
            ...DEFAULT_CLASSES,
          ],
          defaultClass: 'b',
          cloudfront: { functions: { classSource: mode } },
        },
        undefined,
      );
      const out = buildFunctions(config);
      const f = loadViewerFunction(out.viewerRequest.code, { kvs: kvsLookup(out.kvs) });
      const ev = fixture('viewer-request', 'static-query-unsorted');
      ev.request.uri = '/x/special1.css';
      ev.request.querystring = { k: { value: '1' }, z: { value: '2' } };
      expect(asRequest(await f.run(ev)).querystring).toEqual({ k: { value: '1' } });
      ev.request.uri = '/x/special12.css';
      ev.request.querystring = { k: { value: '1' } };
      expect(asRequest(await f.run(ev)).querystring).toEqual({});
    });
  });

  describe(`viewer-response (${mode})`, () => {
    const fns = load({ cloudfront: { functions: { classSource: mode, kvsId: 'a1b2c3d4-test' } } });

    test('browser Cache-Control per class, security headers, Server-Timing; read-only headers untouched', async () => {
      const res = asResponse(await fns.response.run(fixture('viewer-response', 'static-css')));
      const h = res.headers ?? {};
      expect(h['cache-control']?.value).toBe(
        'public, max-age=3600, stale-while-revalidate=60, stale-if-error=86400',
      );
      expect(h['strict-transport-security']?.value).toBe('max-age=63072000; includeSubDomains');
      expect(h['x-content-type-options']?.value).toBe('nosniff');
      expect(h['referrer-policy']?.value).toBe('strict-origin-when-cross-origin');
      expect(h['server-timing']?.value).toBe('edgewise;desc="static_assets"');
      expect(h.via?.value).toBe('1.1 abc.cloudfront.net (CloudFront)');
    });

    test('fingerprinted files are immutable for a year; signed content stays private', async () => {
      const fp = asResponse(await fns.response.run(fixture('viewer-response', 'fingerprinted-js')));
      expect(fp.headers?.['cache-control']?.value).toBe('public, max-age=31536000, immutable');
      const signed = asResponse(await fns.response.run(fixture('viewer-response', 'signed-user-content')));
      expect(signed.headers?.['cache-control']?.value).toBe('private, max-age=3600');
    });

    test('an origin no-store is never widened; Server-Timing is appended; cookies pass through', async () => {
      const res = asResponse(await fns.response.run(fixture('viewer-response', 'api-no-store')));
      expect(res.headers?.['cache-control']?.value).toBe('no-store');
      expect(res.headers?.['server-timing']?.value).toBe('db;dur=12, edgewise;desc="api_responses"');
      expect(res.cookies?.id?.attributes).toContain('HttpOnly');
    });

    test('an error (CloudFront-generated, since CloudFront skips the function for origin ≥ 400) passes untouched', async () => {
      const ev = fixture('viewer-response', 'fingerprinted-js');
      const response = {
        ...ev.response!,
        statusCode: 404,
        headers: { 'content-type': { value: 'application/json' } },
      };
      const res = asResponse(await fns.response.run({ ...ev, response }));
      expect(res.statusCode).toBe(404);
      expect(res.headers).toEqual({ 'content-type': { value: 'application/json' } });
    });
  });
}

describe('classification agrees with src/classes.ts', () => {
  test('same class for every path, with ?, mid-path * and regex metacharacters in patterns', async () => {
    const cls = (name: string, pathPatterns: string[]) => ({
      name,
      pathPatterns,
      ttl: { default: 1, max: 2 },
      browserTtl: 1,
    });
    const { config } = buildConfig(
      {
        classes: [
          cls('exact', ['/a/file(1).css', '/x+y/*.js']),
          cls('one_char', ['/v?/app.js', '/img/*/thumb-??.png']),
          cls('mid_star', ['/docs/*/index.html', '*.map']),
          cls('prefix', ['/a/*', '/s/*']),
          ...DEFAULT_CLASSES,
        ],
        defaultClass: 'static_assets',
      },
      undefined,
    );
    const fnRes = loadViewerFunction(buildFunctions(config).viewerResponse.code);
    const paths = [
      '/a/file(1).css',
      '/a/file11.css',
      '/a/fileX1).css',
      '/x+y/lib.js',
      '/xxy/lib.js',
      '/v1/app.js',
      '/v12/app.js',
      '/img/p/thumb-01.png',
      '/img/p/q/thumb-1.png',
      '/docs/guide/index.html',
      '/docs/index.html',
      '/app.js.map',
      '/static/app.map',
      '/a/b',
      '/static/x.css',
      '/api/x',
      '/u/a%20b.jpg',
      '/',
      '/other',
      '/a/\n',
    ];
    for (const path of paths) {
      const ev = fixture('viewer-response', 'static-css');
      ev.request.uri = path;
      const res = asResponse(await fnRes.run(ev));
      expect(res.headers?.['server-timing']?.value, path).toBe(
        `edgewise;desc="${classify(config, path).name}"`,
      );
    }
  });
});

describe('size limit', () => {
  test('a class table that would push a function over 10 KB is a build error, not a bigger file', () => {
    const classes = Array.from({ length: 24 }, (_, i) => ({
      name: `c${i}`,
      pathPatterns: Array.from({ length: 10 }, (_, j) => `/section-${i}/sub-${j}/long-segment-name/*`),
      ttl: { default: 1, max: 2 },
      browserTtl: 1,
    }));
    const { config } = buildConfig(
      { classes: [...classes, DEFAULT_CLASSES[2]!], defaultClass: 'c0' },
      undefined,
    );
    expect(() => buildFunctions(config)).toThrow(BuildError);
    expect(() => buildFunctions(config)).toThrow(/over CloudFront's 10240-byte limit/);
  });
});

describe('KeyValueStore mode when the store lacks the keys', () => {
  test('the request passes through unchanged and Cache-Control is left as sent; the failure is logged', async () => {
    const { config } = buildConfig({ cloudfront: { functions: { classSource: 'kvs' } } }, undefined);
    const out = buildFunctions(config);
    const lines: string[] = [];
    const empty = { get: () => undefined };
    const reqFn = loadViewerFunction(out.viewerRequest.code, { kvs: empty, log: (l) => lines.push(l) });
    const ev = fixture('viewer-request', 'static-query-unsorted');
    const before = JSON.stringify(ev.request);
    expect(JSON.stringify(asRequest(await reqFn.run(ev)))).toBe(before);
    const resFn = loadViewerFunction(out.viewerResponse.code, { kvs: empty, log: (l) => lines.push(l) });
    const res = asResponse(await resFn.run(fixture('viewer-response', 'static-css')));
    expect(res.headers?.['cache-control']?.value).toBe('public, max-age=3600, s-maxage=86400');
    expect(res.headers?.['x-content-type-options']?.value).toBe('nosniff');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/KeyValueStore read failed/);
  });
});

describe('TTL edits flow from YAML into the built functions', () => {
  test('browserTtl change changes the inline function and the KVS entry', async () => {
    const base = load();
    const edited = load({
      classes: DEFAULT_CLASSES.map((c) =>
        c.name === 'static_assets' ? { ...c, browserTtl: 600, staleWhileRevalidate: 0, staleIfError: 0 } : c,
      ),
    });
    expect(edited.out.viewerResponse.code).not.toBe(base.out.viewerResponse.code);
    const res = asResponse(await edited.response.run(fixture('viewer-response', 'static-css')));
    expect(res.headers?.['cache-control']?.value).toBe('public, max-age=600');
  });
});
