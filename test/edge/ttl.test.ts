import { describe, expect, it } from 'vitest';
import type { StoredHeaders } from '../../src/edge/entry.js';
import { edgeTtl, policyFor } from '../../src/edge/ttl.js';

const cls = { ttl: { min: 0, default: 86400, max: 31536000 }, staleWhileRevalidate: 0, staleIfError: 0 };
const now = new Date().toUTCString();

function ttl(
  headers: StoredHeaders,
  over: Partial<{ status: number; min: number; max: number; def: number; auth: boolean; err: number }> = {},
) {
  const status = over.status ?? 200;
  const c = { ...cls, ttl: { min: over.min ?? 0, default: over.def ?? 86400, max: over.max ?? 31536000 } };
  const h = { date: now, ...headers };
  const policy = policyFor(
    { method: 'GET', url: '/x', headers: over.auth ? { authorization: 'Bearer x' } : {} },
    status,
    h,
  );
  return edgeTtl(
    {
      status,
      headers: h,
      cls: c,
      errorCachingMinTtl: over.err ?? 10,
      unkeyedAuthorization: over.auth ?? false,
    },
    policy,
  );
}

describe('CloudFront TTL rules', () => {
  it('s-maxage wins over max-age, which wins over Expires', () => {
    const expires = new Date(Date.now() + 1000_000).toUTCString();
    expect(ttl({ 'cache-control': 's-maxage=10, max-age=20', expires }).ttl).toBe(10);
    expect(ttl({ 'cache-control': 'max-age=20', expires }).ttl).toBe(20);
    expect(ttl({ expires }).ttl).toBeGreaterThanOrEqual(999);
  });
  it('clamps into [min, max]', () => {
    expect(ttl({ 'cache-control': 'max-age=5' }, { min: 30 }).ttl).toBe(30);
    expect(ttl({ 'cache-control': 'max-age=5000' }, { max: 100, def: 50 }).ttl).toBe(100);
  });
  it('uses the default TTL when the origin sends no freshness', () => {
    expect(ttl({}).ttl).toBe(86400);
    expect(ttl({}, { def: 0 }).store).toBe(false);
    // zero TTL with a validator is stored, to be revalidated on every request
    expect(ttl({ etag: '"a"' }, { def: 0 })).toMatchObject({ store: true, ttl: 0 });
  });
  it('respects no-store, no-cache and private when min TTL is 0, caches them for min TTL otherwise', () => {
    for (const cc of ['no-store', 'no-cache', 'private', 'max-age=60, private'])
      expect(ttl({ 'cache-control': cc }).store).toBe(false);
    expect(ttl({ 'cache-control': 'no-store' }, { min: 7 })).toMatchObject({ store: true, ttl: 7 });
  });
  it('caches 404 and 5xx for the error caching minimum TTL unless they carry freshness', () => {
    expect(ttl({}, { status: 404 })).toMatchObject({ store: true, ttl: 10 });
    expect(ttl({}, { status: 503 })).toMatchObject({ store: true, ttl: 10 });
    expect(ttl({ 'cache-control': 'max-age=2' }, { status: 503 }).ttl).toBe(2);
    expect(ttl({}, { status: 503, err: 0 }).store).toBe(false);
  });
  it('never stores Vary: *, Set-Cookie or 206; 302 only with explicit freshness', () => {
    expect(ttl({ vary: 'Accept, *' }).store).toBe(false);
    expect(ttl({ 'set-cookie': 'a=b', 'cache-control': 'max-age=60' }).store).toBe(false);
    expect(ttl({ 'cache-control': 'max-age=60' }, { status: 206 }).store).toBe(false);
    expect(ttl({}, { status: 302 }).store).toBe(false);
    expect(ttl({ 'cache-control': 'max-age=60' }, { status: 302 }).store).toBe(true);
  });
  it('stores a response to an unkeyed Authorization request only with public, s-maxage or must-revalidate (RFC 9111 §3.5)', () => {
    expect(ttl({ 'cache-control': 'max-age=60' }, { auth: true }).store).toBe(false);
    expect(ttl({ 'cache-control': 'public, max-age=60' }, { auth: true }).store).toBe(true);
    expect(ttl({ 'cache-control': 's-maxage=60' }, { auth: true }).store).toBe(true);
  });
  it('stale windows come from the response, within max TTL, and must-revalidate forbids them', () => {
    const r = ttl(
      { 'cache-control': 'max-age=60, stale-while-revalidate=30, stale-if-error=600' },
      { max: 300 },
    );
    expect(r).toMatchObject({ ttl: 60, swr: 30, sie: 240 });
    expect(ttl({ 'cache-control': 'max-age=60, must-revalidate, stale-if-error=600' })).toMatchObject({
      swr: 0,
      sie: 0,
    });
  });
});

describe('explicit freshness on statuses the RFC library does not store', () => {
  it('computes Expires minus Date for a cached error', () => {
    const date = new Date(Date.now()).toUTCString();
    const expires = new Date(Date.now() + 3600_000).toUTCString();
    const r = ttl({ date, expires }, { status: 500, err: 0 });
    expect(r.store).toBe(true);
    expect(r.ttl).toBeGreaterThanOrEqual(3599);
    expect(ttl({ date, expires: 'garbage' }, { status: 500, err: 0 }).store).toBe(false);
  });
});

describe('Age (RFC 9111 §5.1)', () => {
  const age = (v: string | string[]) =>
    policyFor({ method: 'GET', url: '/x', headers: {} }, 200, {
      date: now,
      'cache-control': 'max-age=3600',
      age: v,
    } as StoredHeaders).age();
  it('ignores an invalid Age (text, a sign, a fraction) and reads a list by its first member', () => {
    for (const v of ['abc', '-7200', '7200.0', '0, 7200', ['0', '7200'], '0, 0'])
      expect(age(v)).toBeLessThan(5);
    for (const v of ['7200', '7200, 0', ['7200', '0'], '7200;foo=bar'])
      expect(age(v)).toBeGreaterThanOrEqual(7200);
    expect(ttl({ 'cache-control': 'max-age=3600', age: 'abc' }).ttl).toBe(3600);
  });
});

describe('stale windows', () => {
  it('come only from the response: the class never adds one (CloudFront serves stale only when asked)', () => {
    const c = { ttl: { min: 0, default: 0, max: 31536000 }, staleWhileRevalidate: 60, staleIfError: 86400 };
    const h = { date: now, 'cache-control': 'max-age=0', etag: '"a"' };
    const r = edgeTtl(
      { status: 200, headers: h, cls: c, errorCachingMinTtl: 10, unkeyedAuthorization: false },
      policyFor({ method: 'GET', url: '/x', headers: {} }, 200, h),
    );
    expect(r).toMatchObject({ store: true, ttl: 0, swr: 0, sie: 0 });
  });
});

describe('targeted cache-control fields (RFC 9213)', () => {
  it('CDN-Cache-Control replaces Cache-Control for the edge; an unparsable one is ignored', () => {
    expect(ttl({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=120' }).ttl).toBe(120);
    expect(ttl({ 'cache-control': 'max-age=3600', 'cdn-cache-control': 'no-store' }).store).toBe(false);
    expect(ttl({ 'cache-control': 'max-age=3600', 'cdn-cache-control': 'private' }).store).toBe(false);
    expect(
      ttl({ 'cdn-cache-control': 'max-age=60', 'edgewise-cache-control': 'max-age=30' } as StoredHeaders).ttl,
    ).toBe(30);
    expect(ttl({ 'cache-control': 'max-age=3600', 'cdn-cache-control': 'max-age=(' }).ttl).toBe(3600);
  });
});

describe('Expires (RFC 9111 §5.3)', () => {
  it('an invalid Expires is already expired; RFC 850 two-digit years within 50 years of now', () => {
    const future = 'Thu, 18 Aug 2050 02:01:18 GMT';
    expect(ttl({ expires: future }).ttl).toBeGreaterThan(86400);
    for (const bad of [
      'Thu, 18 Aug 2050 02:01:18 UTC',
      'Thu 18 Aug 2050 02:01:18 GMT',
      'Thu, 18-Aug-2050 02:01:18 GMT',
    ])
      expect(ttl({ expires: bad, etag: '"a"' })).toMatchObject({ store: true, ttl: 0 });
    expect(ttl({ expires: 'Thursday, 18-Aug-50 02:01:18 GMT' }).ttl).toBeGreaterThan(86400);
  });
});
