/**
 * The edge's access logs keep no credential (issue 13, "Also answer"). Regression: on main at
 * 3d13759 cs(Cookie) held the raw Cookie header (session and CloudFront signed cookies) and
 * cs-uri-query the upload URL's `sig` and a CloudFront signed URL's Signature/Policy/
 * Key-Pair-Id. Now both are redacted with the origin's rules (src/redact.ts), cs(Cookie) is `-`
 * unless edge.logs.includeCookies (CloudFront's IncludeCookies), and the prefetch worker still
 * reads every line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeField, LOG_FIELDS } from '../../src/access-log/format.js';
import { newParseStats, parseLog } from '../../src/prefetch/parse.js';
import { redactCookies, redactQuery, redactUrl, SIGNED_COOKIES } from '../../src/redact.js';
import { signUploadParams } from '../../src/uploads/signing.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import { startTestEdge, type TestEdge } from './helpers.js';

const SECRET = { id: 'k1', secret: 's'.repeat(40) };
const SESSION = 'session-value-that-is-a-credential';
const CF_SIGNATURE = 'cf-signature-value~abc';
const CF_POLICY = 'cf-policy-value_def';
const COOKIE = `theme=dark; session=${SESSION}; CloudFront-Signature=${CF_SIGNATURE}; CloudFront-Policy=${CF_POLICY}`;
const URL_SIGNATURE = 'url-signature-value~xyz';
const URL_POLICY = 'url-policy-value';
const KEY_PAIR = 'K2JCJMDEHXQW5F';

let origin: TestOrigin | undefined;
let edge: TestEdge | undefined;
afterEach(async () => {
  await edge?.close();
  await origin?.close();
  edge = origin = undefined;
});

type Row = (name: (typeof LOG_FIELDS)[number]) => string | undefined;

/** Runs a signed upload, a signed-URL GET and a GET with a signed Referer; returns the log. */
async function traffic(logs: Record<string, unknown>): Promise<{ text: string; rows: Row[]; sig: string }> {
  origin = await startTestOrigin({
    uploads: { signing: { secrets: [SECRET] }, precompress: { enabled: false } },
  });
  edge = await startTestEdge(origin.url, {}, { logs });
  const q = signUploadParams(origin.store.current.uploads, {
    method: 'PUT',
    scope: 'key',
    target: 'u/9/photo.txt',
    types: [],
    maxBytes: 1000,
    expires: Math.floor(Date.now() / 1000) + 600,
  });
  const sig = q.get('sig')!;
  const put = await request(`${edge.url}/uploads/u/9/photo.txt?${q}`, {
    method: 'PUT',
    headers: { 'content-type': 'text/plain', cookie: COOKIE },
    body: 'hello',
  });
  await put.body.text();
  expect(put.statusCode).toBe(201);
  const signedGet = await request(
    `${edge.url}/static/a.txt?Policy=${URL_POLICY}&Signature=${URL_SIGNATURE}&Key-Pair-Id=${KEY_PAIR}&v=2`,
    { headers: { cookie: COOKIE } },
  );
  await signedGet.body.text();
  const withReferer = await request(`${edge.url}/static/b.txt?v=3`, {
    headers: { referer: `https://shop.example/u/9/photo.txt?Signature=${URL_SIGNATURE}&w=1` },
  });
  await withReferer.body.text();
  await edge.edge.app.logs!.close();
  const dir = join(edge.dir, 'logs', 'edge');
  const files = readdirSync(dir).filter((f) => f.endsWith('.gz'));
  const text = files.map((f) => gunzipSync(readFileSync(join(dir, f))).toString()).join('');
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  expect(lines).toHaveLength(3);
  // The prefetch worker parses these lines as CloudFront's.
  const stats = newParseStats();
  for (const f of files) {
    for await (const _ of parseLog(
      (async function* () {
        yield readFileSync(join(dir, f));
      })(),
      f,
      stats,
    ));
  }
  expect(stats.malformed).toBe(0);
  const rows = lines.map((l) => {
    const cells = l.split('\t');
    return (name: (typeof LOG_FIELDS)[number]) => cells[LOG_FIELDS.indexOf(name)];
  });
  return { text, rows, sig };
}

/** No secret appears anywhere in the log, in any encoding. */
function expectNoSecret(text: string, secrets: string[]): void {
  for (const s of secrets) {
    expect(text, s).not.toContain(s);
    expect(text, s).not.toContain(encodeField(s));
  }
}

describe('edge access-log redaction', () => {
  it('by default: no Cookie header, and sig / Signature / Policy / Key-Pair-Id values redacted in cs-uri-query and cs(Referer)', async () => {
    const { text, rows, sig } = await traffic({});
    expectNoSecret(text, [sig, SESSION, CF_SIGNATURE, CF_POLICY, URL_SIGNATURE, URL_POLICY, KEY_PAIR]);
    const [upload, signed, referred] = rows as [Row, Row, Row];
    expect(upload('cs-method')).toBe('PUT');
    expect(upload('cs-uri-query')).toMatch(
      /^method=PUT&key=u%252F9%252Fphoto\.txt&max=1000&exp=\d+&kid=k1&sig=%5Bredacted%5D$/,
    );
    expect(upload('cs(Cookie)')).toBe('-');
    // [ and ] are among the characters CloudFront URL-encodes in log values.
    expect(signed('cs-uri-query')).toBe(
      encodeField('Policy=[redacted]&Signature=[redacted]&Key-Pair-Id=[redacted]&v=2'),
    );
    expect(signed('cs(Cookie)')).toBe('-');
    expect(referred('cs(Referer)')).toBe('https://shop.example/u/9/photo.txt?Signature=%5Bredacted%5D&w=1');
  });

  it('with includeCookies: the Cookie header is logged, CloudFront signed cookies and listed names redacted', async () => {
    const { text, rows } = await traffic({
      includeCookies: true,
      redactCookies: [...SIGNED_COOKIES, 'SESSION'],
    });
    expectNoSecret(text, [SESSION, CF_SIGNATURE, CF_POLICY]);
    const [upload, signed] = rows as [Row, Row];
    const logged = encodeField(
      'theme=dark; session=[redacted]; CloudFront-Signature=[redacted]; CloudFront-Policy=[redacted]',
    );
    expect(upload('cs(Cookie)')).toBe(logged);
    expect(signed('cs(Cookie)')).toBe(logged);
  });
});

describe('src/redact.ts (shared with the origin logger)', () => {
  it('redacts credential query values in URLs and bare query strings, keeping names and order', () => {
    expect(redactUrl('/uploads/a?kid=k1&sig=abc&x=1')).toBe('/uploads/a?kid=k1&sig=[redacted]&x=1');
    expect(redactUrl('/a?X-Amz-Signature=1&X-Amz-Credential=2&token=3#f')).toBe(
      '/a?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]&token=[redacted]#f',
    );
    expect(redactQuery('sig=abc')).toBe('sig=[redacted]');
    expect(redactQuery('SIG=abc&signature=x')).toBe('SIG=[redacted]&signature=[redacted]');
    expect(redactQuery('design=1&sigma=2')).toBe('design=1&sigma=2');
    expect(redactQuery('')).toBe('');
  });

  it('redacts named cookies case-insensitively and keeps the rest as sent', () => {
    expect(redactCookies('a=1; CloudFront-Policy=p;b=2', SIGNED_COOKIES)).toBe(
      'a=1; CloudFront-Policy=[redacted];b=2',
    );
    expect(redactCookies('Session=x; flag', ['session'])).toBe('Session=[redacted]; flag');
    expect(redactCookies('a=1', [])).toBe('a=1');
  });
});
