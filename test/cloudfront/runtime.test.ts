/**
 * The CloudFront Functions emulator enforces what CloudFront enforces on a function's result,
 * and the static checker rejects what runtime 2.0 does not support.
 */
import { describe, expect, test, vi } from 'vitest';
import { buildFunctions } from '../../src/cloudfront/build.js';
import { requestEvent, responseEvent, serializeQuery } from '../../src/cloudfront/events.js';
import { type CfEvent, loadViewerFunction } from '../../src/cloudfront/runtime.js';
import { checkFunctionSource } from '../../src/cloudfront/runtime-check.js';
import { buildConfig } from '../../src/config/index.js';

const reqEvent = (url = '/static/a.css?b=2&a=1&a=3') =>
  requestEvent({
    method: 'GET',
    url,
    headers: {
      host: 'cdn.example.com',
      cookie: 'sid=1; theme=dark',
      accept: 'text/css',
      'x-forwarded-proto': 'https',
    },
    clientIp: '198.51.100.11',
  });

const fn = (body: string) => loadViewerFunction(`function handler(event) { ${body} }`);

describe('event shape (AWS event structure)', () => {
  test('query multiValue, lowercase headers, cookies split out, disallowed headers hidden', () => {
    const ev = reqEvent();
    expect(ev.version).toBe('1.0');
    expect(ev.context.eventType).toBe('viewer-request');
    expect(ev.viewer.ip).toBe('198.51.100.11');
    expect(ev.request.querystring).toEqual({
      b: { value: '2' },
      a: { value: '1', multiValue: [{ value: '1' }, { value: '3' }] },
    });
    expect(ev.request.cookies).toEqual({ sid: { value: '1' }, theme: { value: 'dark' } });
    expect(ev.request.headers.cookie).toBeUndefined();
    expect(ev.request.headers['x-forwarded-proto']).toBeUndefined();
    expect(serializeQuery(ev.request.querystring)).toBe('b=2&a=1&a=3');
  });

  test('HTTP/2 :authority becomes host; pseudo-headers are not exposed', () => {
    const ev = requestEvent({
      method: 'GET',
      url: '/a',
      headers: { ':authority': 'cdn.example.com', ':path': '/a', ':method': 'GET', accept: '*/*' },
      clientIp: '::1',
    });
    expect(ev.request.headers).toEqual({ host: { value: 'cdn.example.com' }, accept: { value: '*/*' } });
  });

  test('response event: Set-Cookie becomes cookies with attributes', () => {
    const ev = responseEvent(reqEvent().request, '198.51.100.11', {
      statusCode: 200,
      headers: { 'content-type': 'text/css', 'set-cookie': ['a=1; Path=/; HttpOnly', 'b=2'] },
    });
    expect(ev.response?.cookies).toEqual({
      a: { value: '1', attributes: 'Path=/; HttpOnly' },
      b: { value: '2' },
    });
    expect(ev.response?.headers?.['set-cookie']).toBeUndefined();
  });
});

describe('result rules', () => {
  test('adding a disallowed header is caught (CloudFront answers 502)', async () => {
    for (const name of ['x-cache', 'connection', 'x-amz-cf-pop', 'x-edge-location', 'upgrade']) {
      const r = await fn(`event.request.headers['${name}'] = { value: '1' }; return event.request;`).run(
        reqEvent(),
      );
      expect(r).toMatchObject({ kind: 'error', status: 502, code: 'EDGEWISE_FUNCTION_INVALID_RESULT' });
    }
  });

  test('read-only headers: host in viewer-request; via and content-length in viewer-response', async () => {
    expect(
      await fn("event.request.headers.host = { value: 'evil' }; return event.request;").run(reqEvent()),
    ).toMatchObject({
      status: 502,
    });
    expect(
      await fn('delete event.request.headers.host; return event.request;').run(reqEvent()),
    ).toMatchObject({ status: 502 });
    const resEv = (): CfEvent =>
      responseEvent(reqEvent().request, '1.2.3.4', {
        statusCode: 200,
        headers: { via: '1.1 x (CloudFront)', 'content-length': '10' },
      });
    expect(
      await fn("event.response.headers.via = { value: 'me' }; return event.response;").run(resEv()),
    ).toMatchObject({
      status: 502,
    });
    expect(
      await fn("event.response.headers['content-length'] = { value: '1' }; return event.response;").run(
        resEv(),
      ),
    ).toMatchObject({
      status: 502,
    });
    expect(
      await fn('event.response.headers.x = { value: "ok" }; return event.response;').run(resEv()),
    ).toMatchObject({
      kind: 'response',
    });
  });

  test('shape: method is read-only, uri must start with /, values must be {value}, names lowercase', async () => {
    const bad = [
      "event.request.method = 'POST'; return event.request;",
      "event.request.uri = 'nope'; return event.request;",
      "event.request.headers['x-a'] = 'v'; return event.request;",
      "event.request.headers['X-Up'] = { value: 'v' }; return event.request;",
      "event.request.headers['x-crlf'] = { value: 'a\\r\\nb' }; return event.request;",
      'event.request.querystring.a = { value: 1 }; return event.request;',
      'return null;',
      'return 42;',
      "return { statusCode: 'ok' };",
      "return { statusCode: 200, body: { data: 'x', encoding: 'hex' } };",
    ];
    for (const body of bad) expect((await fn(body).run(reqEvent())).kind, body).toBe('error');
  });

  test('a viewer-request response short-circuits; body limit 40 KB; viewer-response may not set a body', async () => {
    const r = await fn(
      "return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: '/x' } } };",
    ).run(reqEvent());
    expect(r).toMatchObject({ kind: 'response', response: { statusCode: 302 } });
    const big = await fn(`return { statusCode: 200, body: 'x'.repeat(${40 * 1024 + 1}) };`).run(reqEvent());
    expect(big).toMatchObject({ status: 502 });
    const resEv = responseEvent(reqEvent().request, '1.2.3.4', { statusCode: 200, headers: {} });
    expect(await fn("event.response.body = 'x'; return event.response;").run(resEv)).toMatchObject({
      status: 502,
    });
    expect(await fn('return event.request;').run(resEv)).toMatchObject({ status: 502 });
  });

  test('throws, timers, eval and non-runtime modules fail as CloudFront would (503)', async () => {
    for (const body of [
      "throw new Error('boom');",
      'setTimeout(function () {}, 1); return event.request;',
      "eval('1'); return event.request;",
      "new Function('return 1')(); return event.request;",
      "require('fs'); return event.request;",
    ])
      expect(await fn(body).run(reqEvent()), body).toMatchObject({
        kind: 'error',
        status: 503,
        code: 'EDGEWISE_FUNCTION_ERROR',
      });
  });

  test('runtime modules are available; async handlers are awaited', async () => {
    const f = loadViewerFunction(`
      var crypto = require('crypto');
      var qs = require('querystring');
      async function handler(event) {
        event.request.headers['x-h'] = { value: crypto.createHash('sha256').update('a').digest('hex').slice(0, 8) };
        event.request.headers['x-q'] = { value: qs.stringify({ a: 1 }) };
        return event.request;
      }`);
    const r = await f.run(reqEvent());
    expect(r.kind === 'request' && r.request.headers['x-h']?.value).toBe('ca978112');
    expect(r.kind === 'request' && r.request.headers['x-q']?.value).toBe('a=1');
  });

  test('a runaway loop is cut when a timeout is set', async () => {
    const f = loadViewerFunction('function handler(event) { for (;;) {} }', { timeoutMs: 20 });
    expect(await f.run(reqEvent())).toMatchObject({ status: 503 });
  });

  test('state is compiled once: top-level code runs once across runs', async () => {
    const f = loadViewerFunction(
      'var n = 0; function handler(event) { n++; event.request.headers["x-n"] = { value: String(n) }; return event.request; }',
    );
    await f.run(reqEvent());
    const r = await f.run(reqEvent());
    expect(r.kind === 'request' && r.request.headers['x-n']?.value).toBe('2');
  });
});

describe('runtime 2.0 feature check', () => {
  test('the built functions pass, inline and kvs', () => {
    for (const classSource of ['inline', 'kvs'] as const) {
      const { config } = buildConfig({ cloudfront: { functions: { classSource } } }, undefined);
      const out = buildFunctions(config);
      expect(checkFunctionSource(out.viewerRequest.code)).toEqual([]);
      expect(checkFunctionSource(out.viewerResponse.code)).toEqual([]);
      expect(out.viewerRequest.bytes).toBeLessThan(10 * 1024);
      expect(out.viewerResponse.bytes).toBeLessThan(10 * 1024);
    }
  });

  const rejects: Array<[string, string]> = [
    ['eval', "function handler(e) { return eval('e'); }"],
    ['Function', "function handler(e) { return Function('return e')(); }"],
    ['new Function', "function handler(e) { return new Function('x', 'return x')(e); }"],
    ['setTimeout', 'function handler(e) { setTimeout(function () {}, 1); return e.request; }'],
    ['setInterval', 'function handler(e) { setInterval(function () {}, 1); return e.request; }'],
    ['require fs', "var fs = require('fs'); function handler(e) { return e.request; }"],
    ['require dynamic', 'var m = "fs"; var x = require(m); function handler(e) { return e.request; }'],
    ['import', "import fs from 'fs'; function handler(e) { return e.request; }"],
    ['dynamic import', "function handler(e) { import('fs'); return e.request; }"],
    ['class', 'class A {} function handler(e) { return e.request; }'],
    ['generator', 'function* g() {} function handler(e) { return e.request; }'],
    ['destructuring', 'function handler(e) { var { request } = e; return request; }'],
    ['for of', 'function handler(e) { for (var x of []) {} return e.request; }'],
    ['optional chaining', 'function handler(e) { return e?.request; }'],
    ['nullish', 'function handler(e) { return e.request ?? e; }'],
    ['async arrow', 'var f = async () => 1; function handler(e) { return e.request; }'],
    ['process', 'function handler(e) { process.exit(1); }'],
    ['export', 'export function handler(e) { return e.request; }'],
    ['no handler', 'function main(e) { return e.request; }'],
    ['syntax', 'function handler(e) { return e.request'],
    ['size', `function handler(e) { return ${JSON.stringify('x'.repeat(10 * 1024))}; }`],
  ];
  for (const [name, src] of rejects)
    test(`rejects ${name}`, () => {
      expect(checkFunctionSource(src).length).toBeGreaterThan(0);
    });

  test('accepts runtime modules, const/let, arrows, templates, async declarations, and property names like .eval', () => {
    const src = `
      import cf from 'cloudfront';
      const crypto = require('crypto');
      let n = 2 ** 3;
      const f = (a, ...rest) => \`\${a}\${rest.length}\`;
      async function handler(event) { var o = { eval: 1 }; o.setTimeout = 2; await cf.kvs('x').get('k'); return event.request; }`;
    expect(checkFunctionSource(src)).toEqual([]);
  });

  // "JavaScript runtime 2.0 features for CloudFront Functions" lists what exists; the rest does not.
  const unlisted: Array<[string, string]> = [
    ['Map', 'function handler(e) { var m = new Map(); return e.request; }'],
    ['Set', 'function handler(e) { var m = new Set(); return e.request; }'],
    ['Reflect', 'function handler(e) { Reflect.ownKeys(e); return e.request; }'],
    ['Proxy', 'function handler(e) { return new Proxy(e.request, {}); }'],
    ['Intl', 'function handler(e) { Intl.DateTimeFormat(); return e.request; }'],
    ['Array.from', 'function handler(e) { Array.from([]); return e.request; }'],
    ['Object.fromEntries', 'function handler(e) { Object.fromEntries([]); return e.request; }'],
    ['escape', 'function handler(e) { escape("a"); return e.request; }'],
  ];
  for (const [name, src] of unlisted)
    test(`rejects ${name}, which runtime 2.0 does not list`, () => {
      expect(
        checkFunctionSource(src)
          .map((p) => p.message)
          .join('; '),
      ).toMatch(/not in the runtime 2\.0 list/);
    });

  test('accepts what the page lists: globalThis, atob/btoa, TextEncoder, Promise.allSettled, labels, local names', () => {
    const src = `
      function Map2() {}
      async function handler(event) {
        var g = globalThis; var b = btoa('a') + atob('YQ=='); var t = new TextEncoder().encode('x');
        await Promise.allSettled([]);
        outer: for (var i = 0; i < 1; i++) { continue outer; }
        var Map = 1; new Map2();
        return event.request;
      }`;
    expect(checkFunctionSource(src)).toEqual([]);
  });
});

describe('the realm has only the listed built-ins (a source the checker was not asked about fails at run time)', () => {
  for (const [name, body] of [
    ['Map', 'new Map(); return event.request;'],
    ['Array.from', 'Array.from([1]); return event.request;'],
    ['[].flat', '[[1]].flat(); return event.request;'],
    ['Reflect', 'Reflect.ownKeys({}); return event.request;'],
    ['the event arrays too', 'event.request.querystring.a.multiValue.at(0); return event.request;'],
  ] as const)
    test(name, async () => {
      expect(await fn(body).run(reqEvent())).toMatchObject({ kind: 'error', status: 503 });
    });

  test('globalThis, atob and Buffer work; Date is the run start time (fake timers reach it)', async () => {
    vi.useFakeTimers({ now: new Date('2025-03-01T00:00:00Z'), toFake: ['Date'] });
    try {
      const f = fn(
        "event.request.headers['x-t'] = { value: new Date().toISOString() + ' ' + Date.now() + ' ' + atob(btoa('ok')) + Buffer.from('a').toString('hex') + typeof globalThis.Map }; return event.request;",
      );
      const r = await f.run(reqEvent());
      expect(r.kind === 'request' && r.request.headers['x-t']?.value).toBe(
        `2025-03-01T00:00:00.000Z ${Date.parse('2025-03-01T00:00:00Z')} ok61undefined`,
      );
    } finally {
      vi.useRealTimers();
    }
  });

  test('strict mode, as CloudFront runs every function', async () => {
    expect(await fn('undeclared = 1; return event.request;').run(reqEvent())).toMatchObject({ status: 503 });
  });

  test('import syntax: default, namespace and named imports of runtime modules', async () => {
    const f = loadViewerFunction(`import cf from 'cloudfront';
      import * as crypto from 'crypto';
      import { stringify } from 'querystring';
      function handler(event) {
        event.request.headers['x-a'] = { value: typeof cf.kvs + crypto.createHash('md5').update('').digest('hex') + stringify({ a: 1 }) };
        return event.request;
      }`);
    const r = await f.run(reqEvent());
    expect(r.kind === 'request' && r.request.headers['x-a']?.value).toBe(
      'functiond41d8cd98f00b204e9800998ecf8427ea=1',
    );
  });
});
