import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { signUploadParams, type UploadGrant, verifyUploadParams } from '../../src/uploads/signing.js';
import { API_KEY, SECRET, startUploadOrigin, type UploadOrigin } from './helpers.js';

const cfg = { signing: { secrets: [SECRET], defaultExpiresSeconds: 900, maxExpiresSeconds: 3600 } };
const grant = (g: Partial<UploadGrant> = {}): UploadGrant => ({
  method: 'PUT',
  scope: 'key',
  target: 'u/1/a.txt',
  types: [],
  maxBytes: 100,
  expires: 2_000_000_000,
  ...g,
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('upload signatures (unit)', () => {
  const now = 1_900_000_000;
  test('a valid signature verifies and returns the grant', () => {
    const q = signUploadParams(cfg, grant());
    expect(verifyUploadParams(cfg, q, { method: 'PUT', key: 'u/1/a.txt', nowSeconds: now })).toMatchObject({
      maxBytes: 100,
      target: 'u/1/a.txt',
    });
  });

  test('each way of breaking a URL has its own code', () => {
    const q = signUploadParams(cfg, grant());
    const tamper = (name: string, value: string) => {
      const c = new URLSearchParams(q);
      c.set(name, value);
      return c;
    };
    const v = (query: URLSearchParams, method: 'PUT' | 'POST' = 'PUT', key = 'u/1/a.txt', at = now) =>
      codeOf(() => verifyUploadParams(cfg, query, { method, key, nowSeconds: at }));
    expect(v(tamper('max', '1000000'))).toBe('EDGEWISE_UPLOAD_SIGNATURE_INVALID');
    expect(v(tamper('exp', '2000000001'))).toBe('EDGEWISE_UPLOAD_SIGNATURE_INVALID');
    expect(v(tamper('key', 'u/1/b.txt'), 'PUT', 'u/1/b.txt')).toBe('EDGEWISE_UPLOAD_SIGNATURE_INVALID');
    expect(v(tamper('types', 'text/html'))).toBe('EDGEWISE_UPLOAD_SIGNATURE_INVALID');
    expect(v(tamper('sig', 'AAAA'))).toBe('EDGEWISE_UPLOAD_SIGNATURE_INVALID');
    expect(v(tamper('kid', 'other'))).toBe('EDGEWISE_UPLOAD_SIGNATURE_INVALID');
    const twice = new URLSearchParams(q);
    twice.append('max', '5');
    expect(v(twice)).toBe('EDGEWISE_UPLOAD_SIGNATURE_INVALID');
    expect(v(q, 'PUT', 'u/1/a.txt', 2_000_000_000)).toBe('EDGEWISE_UPLOAD_SIGNATURE_EXPIRED');
    expect(v(q, 'POST')).toBe('EDGEWISE_UPLOAD_SIGNATURE_WRONG_METHOD');
    expect(v(q, 'PUT', 'u/1/other.txt')).toBe('EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY');
  });

  test('a prefix grant covers keys under the prefix only', () => {
    const q = signUploadParams(cfg, grant({ scope: 'prefix', target: 'u/7/' }));
    expect(verifyUploadParams(cfg, q, { method: 'PUT', key: 'u/7/x/y.png', nowSeconds: now }).scope).toBe(
      'prefix',
    );
    expect(
      codeOf(() => verifyUploadParams(cfg, q, { method: 'PUT', key: 'u/70/y.png', nowSeconds: now })),
    ).toBe('EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY');
  });

  test('rotation: URLs signed with an old secret verify while it is still listed', () => {
    const old = { signing: { ...cfg.signing, secrets: [SECRET] } };
    const next = { id: 'k2', secret: 'n'.repeat(40) };
    const q = signUploadParams(old, grant());
    const rotated = { signing: { ...cfg.signing, secrets: [next, SECRET] } };
    expect(() =>
      verifyUploadParams(rotated, q, { method: 'PUT', key: 'u/1/a.txt', nowSeconds: now }),
    ).not.toThrow();
    expect(signUploadParams(rotated, grant()).get('kid')).toBe('k2');
    const retired = { signing: { ...cfg.signing, secrets: [next] } };
    expect(
      codeOf(() => verifyUploadParams(retired, q, { method: 'PUT', key: 'u/1/a.txt', nowSeconds: now })),
    ).toBe('EDGEWISE_UPLOAD_SIGNATURE_INVALID');
  });
});

describe('POST /upload-urls and signed uploads over HTTP', () => {
  let o: UploadOrigin;
  beforeAll(async () => {
    o = await startUploadOrigin('fs', { precompress: { enabled: false } });
  });
  afterAll(() => o.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  async function sign(body: Record<string, unknown>, key: string | null = API_KEY) {
    const res = await request(`${o.url}/upload-urls`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  async function putTo(url: string, body: string, type = 'text/plain', method = 'PUT') {
    const res = await request(url, { method, body, headers: { 'content-type': type } });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  test('needs an API key', async () => {
    expect(await sign({ key: 'u/1/a.txt' }, null)).toMatchObject({
      status: 401,
      json: { code: 'EDGEWISE_UNAUTHORIZED' },
    });
    expect((await sign({ key: 'u/1/a.txt' }, 'not-the-key-at-all')).status).toBe(401);
  });

  test('a signed PUT URL uploads within its limits, and only within them', async () => {
    const s = await sign({
      key: 'u/1/a.txt',
      contentTypes: ['text/plain'],
      maxBytes: 10,
      expiresInSeconds: 60,
    });
    expect(s).toMatchObject({ status: 201, json: { method: 'PUT', key: 'u/1/a.txt', maxBytes: 10 } });
    const url = s.json.url as string;
    expect(url).toMatch(/\/uploads\/u\/1\/a\.txt\?method=PUT&key=/);
    expect(await putTo(url, 'way more than ten bytes')).toMatchObject({
      status: 413,
      json: { code: 'EDGEWISE_UPLOAD_TOO_LARGE' },
    });
    expect(await putTo(url, '{}', 'application/json')).toMatchObject({
      status: 415,
      json: { code: 'EDGEWISE_UNSUPPORTED_TYPE' },
    });
    expect(await putTo(url.replace('a.txt?', 'b.txt?'), 'hi')).toMatchObject({
      status: 403,
      json: { code: 'EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY' },
    });
    expect(await putTo(url.replace('max=10', 'max=99'), 'hi')).toMatchObject({
      status: 403,
      json: { code: 'EDGEWISE_UPLOAD_SIGNATURE_INVALID' },
    });
    expect(await putTo(url, 'hello')).toMatchObject({ status: 201, json: { key: 'u/1/a.txt', size: 5 } });
    // The signature is redacted from logged URLs.
    const sig = new URL(url).searchParams.get('sig')!;
    expect(JSON.stringify(o.logs)).not.toContain(sig);
  });

  test('an expired URL is 403 EDGEWISE_UPLOAD_SIGNATURE_EXPIRED (fake clock)', async () => {
    const s = await sign({ key: 'u/2/a.txt', expiresInSeconds: 60 });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    expect(await putTo(s.json.url as string, 'late')).toMatchObject({
      status: 403,
      json: { code: 'EDGEWISE_UPLOAD_SIGNATURE_EXPIRED' },
    });
    expect(await o.storage.head('u/2/a.txt')).toBeUndefined();
  });

  test('a POST URL used with PUT is 403 EDGEWISE_UPLOAD_SIGNATURE_WRONG_METHOD', async () => {
    const s = await sign({ prefix: 'u/3/' });
    expect(s.json.method).toBe('POST');
    const url = (s.json.url as string).replace('/uploads?', '/uploads/u/3/x.txt?');
    expect(await putTo(url, 'x')).toMatchObject({
      status: 403,
      json: { code: 'EDGEWISE_UPLOAD_SIGNATURE_WRONG_METHOD' },
    });
  });

  test('a PUT prefix URL takes any key under the prefix', async () => {
    const s = await sign({ prefix: 'u/4/', method: 'PUT' });
    const url = (s.json.url as string).replace('/uploads/u/4/?', '/uploads/u/4/deep/file.txt?');
    expect(await putTo(url, 'deep')).toMatchObject({ status: 201, json: { key: 'u/4/deep/file.txt' } });
  });

  test('bad requests for URLs are 400 with the reason', async () => {
    const cases: Array<Record<string, unknown>> = [
      {},
      { key: 'a', prefix: 'b' },
      { key: '../x' },
      { key: 'a', maxBytes: 0 },
      { key: 'a', expiresInSeconds: 99999 },
      { key: 'a', contentTypes: ['text/html'] },
      { key: 'a', bogus: 1 },
      { key: 'a', presignedPost: true },
    ];
    for (const body of cases) {
      const r = await sign(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(['EDGEWISE_BAD_UPLOAD_REQUEST', 'EDGEWISE_BAD_KEY']).toContain(r.json.code);
    }
  });
});
