/**
 * Signed URLs and cookies: round trips through the CloudFront-exact verifier, and every
 * rejection the edge must answer with 403. Time is faked with vitest timers.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ensureDevSigningKeys } from '../../src/cloudfront/keys.js';
import {
  canonicalUrl,
  setCookieHeaders,
  signViewerCookies,
  signViewerUrl,
  viewerUrlForKey,
} from '../../src/cloudfront/signer.js';
import { verifySignedRequest } from '../../src/cloudfront/verifier.js';
import { buildConfig } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'edgewise-cf-keys-'));
const keys = ensureDevSigningKeys(dir);
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherPem = other.publicKey.export({ type: 'spki', format: 'pem' }).toString();

const raw = {
  cloudfront: {
    distribution: { baseUrl: 'https://cdn.example.com' },
    signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile },
  },
};
const { config } = buildConfig(raw, undefined);
const ip = '203.0.113.7';
const ok = { ok: true };

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-06-01T12:00:00Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

function code(url: string, clientIp = ip, cookies?: string) {
  const r = verifySignedRequest(config, { url, clientIp, cookies });
  return r.ok ? 'ok' : r.code;
}

describe('round trips', () => {
  const awkward = [
    'a b.jpg',
    'x=y,z.png',
    'ünïcødé/日本.txt',
    'c++/a+b.bin',
    "it's (1) ~ok!.txt",
    '%41literal.txt',
  ];
  for (const key of awkward) {
    test(`canned and custom policies verify for key ${JSON.stringify(key)}`, () => {
      const url = viewerUrlForKey(config, `u/${key}`);
      const canned = signViewerUrl(config, url, { expiresInSeconds: 60 });
      expect(canned).toContain('Expires=');
      expect(verifySignedRequest(config, { url: canned, clientIp: ip })).toEqual(ok);
      const custom = signViewerUrl(config, url, {
        ipRange: '203.0.113.0/24',
        notBefore: new Date('2026-06-01T11:00:00Z'),
      });
      expect(custom).toContain('Policy=');
      expect(verifySignedRequest(config, { url: custom, clientIp: ip })).toEqual(ok);
      // The edge sees the URL as a path; the verifier puts the distribution base in front.
      expect(code(canned.slice('https://cdn.example.com'.length))).toBe('ok');
    });
  }

  test('a URL with its own query keeps it, and it is covered by the signature', () => {
    const signed = signViewerUrl(config, '/u/report.pdf?download=1&v=2');
    expect(code(signed)).toBe('ok');
    expect(code(signed.replace('download=1', 'download=0'))).toBe('EDGEWISE_SIGNATURE_INVALID');
  });

  test('canonicalUrl is idempotent, so signing an already-encoded URL changes nothing', () => {
    const once = canonicalUrl('https://cdn.example.com/u/a b+c/ü.txt?x=a b&y=1+2');
    expect(canonicalUrl(once)).toBe(once);
  });

  test('wildcard resource covers sibling paths, an IPv6 viewer misses an IPv4 range, SHA256 signatures verify', () => {
    const signed = signViewerUrl(config, '/u/album/1.jpg', { wildcardResource: '/u/album/*' });
    const sibling = signed.replace('/u/album/1.jpg', '/u/album/2.jpg');
    expect(code(sibling)).toBe('ok');
    expect(code(signed.replace('/u/album/1.jpg', '/u/other/1.jpg'))).toBe(
      'EDGEWISE_SIGNATURE_RESOURCE_MISMATCH',
    );
    const v4 = signViewerUrl(config, '/u/x.jpg', { ipRange: '203.0.113.0/24' });
    expect(code(v4, '2001:db8::1')).toBe('EDGEWISE_SIGNATURE_IP_MISMATCH');
    const sha = buildConfig(
      {
        cloudfront: {
          distribution: { baseUrl: 'https://cdn.example.com' },
          signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile, algorithm: 'SHA256' },
        },
      },
      undefined,
    ).config;
    const s = signViewerUrl(sha, '/u/x.jpg');
    expect(s).toContain('Hash-Algorithm=SHA256');
    expect(verifySignedRequest(sha, { url: s, clientIp: ip })).toEqual(ok);
  });

  test('signed cookies cover every URL under the resource; a dual-stack IPv4 client matches', () => {
    const cookies = signViewerCookies(config, { resource: '/u/*', ipRange: '203.0.113.0/24' });
    const header = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    expect(code('https://cdn.example.com/u/any/thing.jpg', '::ffff:203.0.113.9', header)).toBe('ok');
    expect(code('https://cdn.example.com/static/x.css', ip, header)).toBe(
      'EDGEWISE_SIGNATURE_RESOURCE_MISMATCH',
    );
    const jar = Object.fromEntries(cookies.map((c) => [c.name, c.value]));
    expect(verifySignedRequest(config, { url: '/u/a.jpg', clientIp: ip, cookies: jar })).toEqual(ok);
  });

  test('Set-Cookie lines in the form AWS documents: Domain when configured, Path=/, Secure, HttpOnly', () => {
    const cookies = signViewerCookies(config, { resource: '/u/*' });
    expect(cookies.map((c) => c.name)).toEqual([
      'CloudFront-Key-Pair-Id',
      'CloudFront-Signature',
      'CloudFront-Policy',
    ]);
    const lines = setCookieHeaders(config, cookies);
    expect(lines).toEqual(cookies.map((c) => `${c.name}=${c.value}; Path=/; Secure; HttpOnly`));
    const withDomain = buildConfig(
      {
        cloudfront: {
          ...raw.cloudfront,
          signing: { ...raw.cloudfront.signing, cookieDomain: 'example.com' },
        },
      },
      undefined,
    ).config;
    expect(setCookieHeaders(withDomain, cookies, 600)[0]).toBe(
      `${cookies[0]!.name}=${cookies[0]!.value}; Domain=example.com; Path=/; Max-Age=600; Secure; HttpOnly`,
    );
    // The local edge is plain http: a browser drops Secure cookies there, so none is sent.
    const local = buildConfig(
      { cloudfront: { signing: raw.cloudfront.signing, distribution: { baseUrl: 'http://127.0.0.1:8080' } } },
      undefined,
    ).config;
    expect(setCookieHeaders(local, cookies)[0]).not.toMatch(/Secure/);
    expect(() =>
      buildConfig(
        { cloudfront: { signing: { ...raw.cloudfront.signing, cookieDomain: 'bad domain' } } },
        undefined,
      ),
    ).toThrow(/cookieDomain/);
  });

  test('dev keys: generated once (0600), reused, id stable', () => {
    const again = ensureDevSigningKeys(dir);
    expect(again.keyPairId).toBe(keys.keyPairId);
    expect(again.privateKeyPem).toBe(readFileSync(keys.privateKeyFile, 'utf8'));
    expect(statSync(keys.privateKeyFile).mode & 0o777).toBe(0o600);
  });
});

describe('rejections (each is a 403 at the edge)', () => {
  test('expired, exactly at and after DateLessThan', () => {
    const signed = signViewerUrl(config, '/u/a.jpg', { expiresInSeconds: 60 });
    vi.advanceTimersByTime(59_000);
    expect(code(signed)).toBe('ok');
    vi.advanceTimersByTime(1_000);
    expect(code(signed)).toBe('EDGEWISE_SIGNATURE_EXPIRED');
  });

  test('not yet valid before DateGreaterThan', () => {
    const signed = signViewerUrl(config, '/u/a.jpg', { notBefore: new Date('2026-06-01T12:10:00Z') });
    expect(code(signed)).toBe('EDGEWISE_SIGNATURE_NOT_YET_VALID');
    vi.advanceTimersByTime(10 * 60_000);
    expect(code(signed)).toBe('ok');
  });

  test('wrong IP', () => {
    const signed = signViewerUrl(config, '/u/a.jpg', { ipRange: '198.51.100.0/24' });
    expect(code(signed)).toBe('EDGEWISE_SIGNATURE_IP_MISMATCH');
    expect(code(signed, 'not-an-ip')).toBe('EDGEWISE_SIGNATURE_IP_MISMATCH');
  });

  test('tampered expiry, path, policy or signature', () => {
    const canned = signViewerUrl(config, '/u/a.jpg');
    const expires = /Expires=(\d+)/.exec(canned)![1]!;
    expect(code(canned.replace(`Expires=${expires}`, `Expires=${Number(expires) + 3600}`))).toBe(
      'EDGEWISE_SIGNATURE_INVALID',
    );
    expect(code(canned.replace('/u/a.jpg', '/u/b.jpg'))).toBe('EDGEWISE_SIGNATURE_INVALID');
    const sig = /Signature=([^&]+)/.exec(canned)![1]!;
    const flipped = (sig[10] === 'A' ? 'B' : 'A') + '';
    expect(code(canned.replace(sig, sig.slice(0, 10) + flipped + sig.slice(11)))).toBe(
      'EDGEWISE_SIGNATURE_INVALID',
    );
    const custom = signViewerUrl(config, '/u/a.jpg', { ipRange: '203.0.113.0/24' });
    const policy = /Policy=([^&]+)/.exec(custom)![1]!;
    const decoded = Buffer.from(
      policy.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'),
      'base64',
    ).toString();
    const widened = decoded.replace('203.0.113.0/24', '0.0.0.0/0');
    const reencoded = Buffer.from(widened)
      .toString('base64')
      .replace(/\+/g, '-')
      .replace(/=/g, '_')
      .replace(/\//g, '~');
    expect(code(custom.replace(policy, reencoded), '192.0.2.1')).toBe('EDGEWISE_SIGNATURE_INVALID');
  });

  test('unknown key pair id, and a key trusted only through trustedKeys', () => {
    const signed = signViewerUrl(config, '/u/a.jpg');
    expect(code(signed.replace(`Key-Pair-Id=${keys.keyPairId}`, 'Key-Pair-Id=K2JCJMDEHXQW5F'))).toBe(
      'EDGEWISE_SIGNATURE_UNKNOWN_KEY',
    );
    const verifierOnly = buildConfig(
      {
        cloudfront: {
          distribution: { baseUrl: 'https://cdn.example.com' },
          trustedKeys: [
            { id: 'OTHER', publicKey: otherPem },
            { id: keys.keyPairId, publicKeyFile: keys.publicKeyFile },
          ],
        },
      },
      undefined,
    ).config;
    expect(verifySignedRequest(verifierOnly, { url: signed, clientIp: ip })).toEqual(ok);
    const swapped = signed.replace(`Key-Pair-Id=${keys.keyPairId}`, 'Key-Pair-Id=OTHER');
    expect(verifySignedRequest(verifierOnly, { url: swapped, clientIp: ip })).toMatchObject({
      ok: false,
      code: 'EDGEWISE_SIGNATURE_INVALID',
    });
  });

  test('query parameter added after signing', () => {
    const canned = signViewerUrl(config, '/u/a.jpg');
    expect(code(`${canned}&w=100`)).toBe('EDGEWISE_SIGNATURE_EXTRA_PARAM');
    const custom = signViewerUrl(config, '/u/a.jpg', { ipRange: ip });
    expect(code(`${custom}&admin=1`)).toBe('EDGEWISE_SIGNATURE_EXTRA_PARAM');
    // Inserted before the signature parameters instead: the signed URL no longer matches.
    expect(code(canned.replace('?', '?w=100&'))).toBe('EDGEWISE_SIGNATURE_INVALID');
    expect(code(custom.replace('?', '?w=100&'))).toBe('EDGEWISE_SIGNATURE_RESOURCE_MISMATCH');
  });

  test('missing and malformed signatures', () => {
    expect(code('/u/a.jpg')).toBe('EDGEWISE_SIGNATURE_MISSING');
    expect(code('/u/a.jpg?x=1')).toBe('EDGEWISE_SIGNATURE_MISSING');
    expect(code(`/u/a.jpg?Expires=1&Key-Pair-Id=${keys.keyPairId}`)).toBe('EDGEWISE_SIGNATURE_MALFORMED');
    expect(code(`/u/a.jpg?Expires=soon&Signature=abc_&Key-Pair-Id=${keys.keyPairId}`)).toBe(
      'EDGEWISE_SIGNATURE_MALFORMED',
    );
    expect(code(`/u/a.jpg?Policy=!!&Signature=abc_&Key-Pair-Id=${keys.keyPairId}`)).toBe(
      'EDGEWISE_SIGNATURE_MALFORMED',
    );
    const canned = signViewerUrl(config, '/u/a.jpg');
    expect(code(`${canned}&Expires=1`)).toBe('EDGEWISE_SIGNATURE_MALFORMED');
    expect(code('/u/a.jpg', ip, 'CloudFront-Signature=abc; other=1')).toBe('EDGEWISE_SIGNATURE_MALFORMED');
  });
});

describe('signing input errors', () => {
  test('no key configured is a coded error; bad expiry, IP and dates are 400s', () => {
    const bare = buildConfig({}, undefined).config;
    expect(() => signViewerUrl(bare, '/u/a.jpg')).toThrow(
      expect.objectContaining({ code: 'EDGEWISE_SIGNING_NOT_CONFIGURED' }),
    );
    const bad = (opts: object) => () => signViewerUrl(config, '/u/a.jpg', opts);
    const badReq = expect.objectContaining({ code: 'EDGEWISE_BAD_SIGN_REQUEST', statusCode: 400 });
    expect(bad({ expiresInSeconds: 0 })).toThrow(badReq);
    expect(bad({ expiresInSeconds: 604801 })).toThrow(badReq);
    expect(bad({ expiresInSeconds: 1.5 })).toThrow(badReq);
    expect(bad({ ipRange: '300.1.1.1' })).toThrow(badReq);
    expect(bad({ ipRange: '10.0.0.0/33' })).toThrow(badReq);
    expect(bad({ ipRange: '10.0.0.0/008' })).toThrow(badReq);
    // CloudFront's AWS:SourceIp condition is IPv4 only: an IPv6 range is refused, by name.
    for (const v6 of ['2001:db8::/32', '::1', '::ffff:203.0.113.7'])
      expect(bad({ ipRange: v6 })).toThrow(
        expect.objectContaining({
          code: 'EDGEWISE_BAD_SIGN_REQUEST',
          message: expect.stringMatching(/IPv6/),
        }),
      );
    expect(bad({ notBefore: new Date('2027-01-01T00:00:00Z') })).toThrow(badReq);
    expect(bad({ notBefore: new Date('nope') })).toThrow(badReq);
    expect(() => signViewerUrl(config, 'ftp://x/y')).toThrow(badReq);
  });
});
