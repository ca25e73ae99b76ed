/**
 * Issue 13 "Also answer": the origin refused absolute-form request targets
 * (`GET http://host/static/hello.txt HTTP/1.1`), which RFC 9112 §3.2.2 says a server must accept.
 * Sent on a raw socket (node:net), so the request line is exactly what the test wrote.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { absoluteFormTarget } from '../../src/http/request-target.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import { rawExchange } from '../helpers/raw-request.js';

const API_KEY = 'request-target-test-key-0123456789';
let o: TestOrigin;
let authority: string;

beforeAll(async () => {
  o = await startTestOrigin({ uploads: { apiKeys: [API_KEY] } });
  authority = new URL(o.url).host;
  await o.storage.put('static/hello.txt', Readable.from([Buffer.from('hello, absolute form')]), {
    contentType: 'text/plain',
  });
});
afterAll(() => o.close());

function send(method: string, target: string, headers: Record<string, string> = {}, body = '') {
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${headers.host ?? authority}`, 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) if (k !== 'host') lines.push(`${k}: ${v}`);
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return rawExchange(o.url, `${lines.join('\r\n')}\r\n\r\n${body}`);
}

describe('absolute-form request targets at the origin (RFC 9112 §3.2.2)', () => {
  test('GET and HEAD of http://<origin>/static/hello.txt answer as the origin-form request does', async () => {
    const abs = await send('GET', `http://${authority}/static/hello.txt`);
    const plain = await send('GET', '/static/hello.txt');
    expect(abs.status, abs.raw).toBe(200);
    expect(abs.text).toBe('hello, absolute form');
    for (const h of ['etag', 'content-type', 'cache-control', 'content-length'])
      expect(abs.headers[h], h).toBe(plain.headers[h]);
    const head = await send('HEAD', `http://${authority}/static/hello.txt`);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String('hello, absolute form'.length));
  });

  test('the scheme is case-insensitive, https targets and a query are accepted, the Host header is ignored', async () => {
    const r = await send('GET', `HTTPS://${authority}/static/hello.txt?v=1`, { host: 'evil.example' });
    expect(r.status, r.raw).toBe(200);
    expect(r.text).toBe('hello, absolute form');
  });

  test('the canonical-path rules judge the target’s path as sent (no silent URL normalisation)', async () => {
    for (const path of ['/static/../u/42/secret.txt', '/%75/42/secret.txt', '/static//hello.txt']) {
      const abs = await send('GET', `http://${authority}${path}`);
      const plain = await send('GET', path);
      expect(abs.status, path).toBe(400);
      expect(JSON.parse(abs.text).code, path).toBe(JSON.parse(plain.text).code);
    }
  });

  test('targets that are not http(s) absolute URLs are a clear 400 EDGEWISE_BAD_PATH', async () => {
    for (const target of [
      'ftp://h/static/hello.txt',
      'http://user@h/static/hello.txt',
      'http:///static/hello.txt',
    ]) {
      const r = await send('GET', target);
      expect(r.status, target).toBe(400);
      const body = JSON.parse(r.text) as { statusCode: number; code: string; message: string };
      expect(body.code, target).toBe('EDGEWISE_BAD_PATH');
      expect(body.statusCode).toBe(400);
    }
  });

  test('an upload sent in absolute-form is stored under the target’s path', async () => {
    const r = await send(
      'PUT',
      `http://${authority}/uploads/static/abs.txt`,
      { 'x-api-key': API_KEY, 'content-type': 'text/plain' },
      'put in absolute form',
    );
    expect(r.status, r.raw).toBe(201);
    expect(JSON.parse(r.text).url).toBe(`${o.url}/static/abs.txt`);
    expect((await o.storage.head('static/abs.txt'))?.size).toBe('put in absolute form'.length);
  });
});

describe('absoluteFormTarget', () => {
  test.each([
    ['http://h/a/b?c=d', '/a/b?c=d', 'h'],
    ['http://h:8080', '/', 'h:8080'],
    ['http://h?x=1', '/?x=1', 'h'],
    ['http://[::1]:9/p', '/p', '[::1]:9'],
    ['http://h/%2e%2e/x', '/%2e%2e/x', 'h'],
  ])('%s → %s (authority %s)', (target, url, auth) => {
    expect(absoluteFormTarget(target)).toEqual({ kind: 'origin-form', url, authority: auth });
  });
  test.each(['ftp://h/x', 'h/x', 'http://', 'http://u:p@h/x', 'mailto:a@b'])('%s is invalid', (t) => {
    expect(absoluteFormTarget(t).kind).toBe('invalid');
  });
});
