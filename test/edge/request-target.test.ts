/**
 * Absolute-form request targets (RFC 9112 §3.2.2) at the edge follow the origin's rule
 * (src/http/request-target.ts): the target's path as sent, so `..` and escapes meet the
 * canonical-path refusal instead of being resolved by a URL parser; only http(s) targets.
 * Before, the edge answered `ftp://x/static/hello.txt` and `http://x/static/../static/hello.txt`
 * with 200 while the origin refused them.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import { rawExchange } from '../helpers/raw-request.js';
import { startTestEdge, type TestEdge } from './helpers.js';

let origin: TestOrigin;
let edge: TestEdge;

beforeAll(async () => {
  origin = await startTestOrigin();
  await origin.storage.put('static/hello.txt', Readable.from([Buffer.from('hello')]), {
    contentType: 'text/plain',
  });
  const cfg = origin.store.current;
  edge = await startTestEdge(origin.url, { classes: cfg.classes, defaultClass: cfg.defaultClass });
});
afterAll(async () => {
  await edge?.close();
  await origin?.close();
});

const send = (base: string, target: string) =>
  rawExchange(base, `GET ${target} HTTP/1.1\r\nHost: cdn.example\r\nConnection: close\r\n\r\n`);

describe('absolute-form targets: the edge answers as the origin does', () => {
  test.each([
    'http://cdn.example/static/hello.txt',
    'HTTPS://cdn.example/static/hello.txt?v=1',
    'http://cdn.example/static/../static/hello.txt',
    'http://cdn.example/static/%2e%2e/static/hello.txt',
    'http://cdn.example/%75/42/secret.txt',
    'ftp://cdn.example/static/hello.txt',
    'http:///static/hello.txt',
    'http://user@cdn.example/static/hello.txt',
  ])('%s', async (target) => {
    const atOrigin = await send(origin.url, target);
    const atEdge = await send(edge.url, target);
    expect(atEdge.status, atEdge.raw).toBe(atOrigin.status);
    if (atOrigin.status >= 400) expect(JSON.parse(atEdge.text).code).toBe(JSON.parse(atOrigin.text).code);
    else expect(atEdge.text).toBe(atOrigin.text);
  });
});
