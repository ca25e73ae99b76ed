/**
 * The differential corpus: requests every layer must answer alike. Built from the objects the
 * harness seeds (their validators are only known once stored), the shared path and Accept
 * tables, and every request named in issue 13.
 */
import { ACCEPT_CASES } from './accept.js';
import { PATH_CASES } from './paths.js';

export interface CorpusRequest {
  /** Printed when the layers disagree. */
  name: string;
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS';
  url: string;
  headers: Record<string, string>;
  /** A request body, sent whole. */
  body?: Buffer;
}

export interface Validators {
  etag: string;
  lastModified: string;
}

const OLD = 'Mon, 01 Jan 2001 00:00:00 GMT';
const FUTURE = 'Fri, 01 Jan 2100 00:00:00 GMT';

function weak(etag: string): string {
  return etag.startsWith('W/') ? etag : `W/${etag}`;
}

/** Conditional headers alone and in the pairs RFC 9110 §13.2.2 orders. */
function conditionals(v: Validators): Array<Record<string, string>> {
  const etags = [v.etag, '"nope"', '*', weak(v.etag), `"nope", ${v.etag}`];
  const dates = [OLD, v.lastModified, FUTURE, 'not a date'];
  const out: Array<Record<string, string>> = [];
  for (const e of etags) out.push({ 'if-match': e }, { 'if-none-match': e });
  for (const d of dates) out.push({ 'if-modified-since': d }, { 'if-unmodified-since': d });
  for (const e of [v.etag, '"nope"']) {
    for (const d of [OLD, FUTURE]) {
      out.push({ 'if-none-match': e, 'if-modified-since': d });
      out.push({ 'if-match': e, 'if-unmodified-since': d });
    }
    out.push({ 'if-match': e, 'if-none-match': e });
  }
  return out;
}

const RANGES = [
  'bytes=0-9',
  'bytes=-5',
  'bytes=10-',
  'bytes=0-0',
  'bytes=5000000-',
  'bytes=0-1,3-4',
  'bytes=x',
  'items=0-1',
  'bytes=9-2',
];

export function corpus(objects: {
  css: Validators;
  text: Validators;
  signedUrl: string;
  badSignatureUrl: string;
  uploadKey: string;
}): CorpusRequest[] {
  const out: CorpusRequest[] = [];
  const add = (
    name: string,
    method: CorpusRequest['method'],
    url: string,
    headers: Record<string, string> = {},
  ) => out.push({ name, method, url, headers });

  // Hostile and canonical path spellings (test/differential/paths.ts), GET and HEAD.
  for (const [p] of PATH_CASES.filter(([raw]) => raw.startsWith('/')))
    for (const m of ['GET', 'HEAD'] as const) add(`path ${p}`, m, p);

  // Every conditional alone and in pairs, on two objects, GET and HEAD.
  for (const [path, v] of [
    ['/static/app.css', objects.css],
    ['/static/hello.txt', objects.text],
  ] as const)
    for (const h of conditionals(v))
      for (const m of ['GET', 'HEAD'] as const) add(`conditional ${JSON.stringify(h)}`, m, path, h);

  // Ranges, alone and with If-Range.
  const v = objects.css;
  for (const range of RANGES)
    for (const ifRange of [undefined, v.etag, '"nope"', v.lastModified, weak(v.etag), OLD])
      add(`range ${range} if-range ${ifRange}`, 'GET', '/static/app.css', {
        range,
        ...(ifRange ? { 'if-range': ifRange } : {}),
      });

  // Accept negotiation (test/differential/accept.ts) on an image, and explicit formats.
  for (const [accept] of ACCEPT_CASES)
    add(`accept ${accept}`, 'GET', '/img/photo.jpg?w=32', accept ? { accept } : {});
  for (const fmt of ['webp', 'avif', 'jpeg', 'png', 'auto', 'gif'])
    add(`fmt ${fmt}`, 'GET', `/img/photo.jpg?w=32&fmt=${fmt}`, { accept: 'image/avif,image/webp,*/*' });
  for (const q of ['w=abc', 'w=100000', 'w=32&h=32&fit=cover', 'w=32&utm_source=x', 'h=16', 'q=50&w=32'])
    add(`image query ${q}`, 'GET', `/img/photo.jpg?${q}`);

  // Accept-Encoding variants on a compressible object.
  for (const ae of [
    '',
    'gzip',
    'br',
    'gzip, br',
    'br;q=0, gzip',
    'identity',
    '*',
    'gzip;q=0',
    'deflate',
    'GZIP',
  ])
    for (const m of ['GET', 'HEAD'] as const)
      add(`accept-encoding ${ae}`, m, '/static/app.css', ae ? { 'accept-encoding': ae } : {});

  // Errors: missing objects in each class (a fingerprinted name too), other methods.
  for (const p of [
    '/static/missing.css',
    '/static/app.0123abcd.css',
    '/img/missing.jpg?w=32',
    '/api/missing.json',
    '/u/42/missing.txt',
    '/nothing-here',
  ])
    for (const m of ['GET', 'HEAD'] as const) add(`missing ${p}`, m, p);
  add('POST to a read-only class', 'POST', '/static/app.css', { 'content-type': 'text/plain' });
  add('OPTIONS', 'OPTIONS', '/static/app.css');
  add('long URL', 'GET', `/static/${'a'.repeat(9000)}`);
  add('bad query escape', 'GET', '/static/app.css?x=%zz');

  // Uploads: behaviors of their own (all methods, nothing cached, no functions); refusals keep
  // the origin's Cache-Control. Other methods on read-only classes are CloudFront's 403.
  add('upload PUT without a grant', 'PUT', '/uploads/static/new.txt', { 'content-type': 'text/plain' });
  add('upload POST without a body', 'POST', '/uploads', { 'content-type': 'application/json' });
  add('upload POST with an unsupported type', 'POST', '/uploads', { 'content-type': 'application/x-evil' });
  add('upload URLs without a key', 'GET', '/upload-urls');
  // With the key: the 413 and 415 that issue 13 saw become public for an hour.
  const key = { authorization: `Bearer ${objects.uploadKey}` };
  // Sent whole: a viewer that announces a body and then waits is not answered through the edge
  // (undici does not hand over an early answer while the request body has not started).
  out.push({
    name: 'upload too large (413)',
    method: 'PUT',
    url: '/uploads/static/big.bin',
    headers: { ...key, 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(2 * 1024 * 1024, 7),
  });
  add('upload of a refused type (415)', 'PUT', '/uploads/static/page.html', {
    ...key,
    'content-type': 'text/html',
    'content-length': '0',
  });
  add('DELETE on a read-only class', 'DELETE', '/static/app.css');
  add('PUT on a signed class', 'PUT', '/u/42/secret.txt', { 'content-type': 'text/plain' });
  add('POST to the API class', 'POST', '/api/me.json');

  // Non-key query strings and API answers.
  add('non-key query', 'GET', '/static/app.css?v=1&utm=x');
  add('fingerprinted', 'GET', '/static/app.3f2a1b9c.css');
  for (const auth of ['Bearer alice', 'Bearer bob'])
    add(`api ${auth}`, 'GET', '/api/me.json', { authorization: auth });
  add('api without authorization', 'GET', '/api/me.json');
  add('api query', 'GET', '/api/me.json?page=2', { authorization: 'Bearer alice' });

  // Signed content: without, with a valid and with a tampered signature.
  add('signed: none', 'GET', '/u/42/secret.txt');
  add('signed: valid', 'GET', objects.signedUrl);
  add('signed: valid, HEAD', 'HEAD', objects.signedUrl);
  add('signed: tampered', 'GET', objects.badSignatureUrl);
  add('signed: encoded class prefix', 'GET', '/%75/42/secret.txt');
  add('api: encoded class prefix', 'GET', '/%61pi/me.json', { authorization: 'Bearer bob' });
  return out;
}
