/**
 * The Cache-Control an origin response carries, from its content class: `max-age` is the
 * browser TTL, `s-maxage` the edge TTL (shared caches prefer it, RFC 9111 §5.2.2.10), and the
 * stale-* extensions from RFC 5861 when configured.
 *
 * User content (classes listed in server.userContentClasses) is `private` unless its class is
 * signed: a signed class is only reachable through the edge after a signature check, so the
 * edge may keep it; unsigned user files must not sit in shared caches where one user's upload
 * could outlive its deletion or be served under another's session.
 *
 * Values are computed once per class object and memoised: config objects are frozen and a
 * reload makes new ones, so the memo can never serve a stale TTL.
 */
import type { ContentClassConfig } from './config/sections/classes.js';

/** Content hash in the file name (app.3f9a2c1e.js, logo-5d41402abc4b2a76.png): safe to cache forever. */
const FINGERPRINT = /[.-][0-9a-f]{8,64}\.[a-z0-9]+$/i;

export function isFingerprinted(path: string): boolean {
  return FINGERPRINT.test(path);
}

interface ClassCacheControl {
  normal: string;
  fingerprinted: string;
}

const memo = new WeakMap<ContentClassConfig, ClassCacheControl>();
const memoUser = new WeakMap<ContentClassConfig, ClassCacheControl>();

function build(cls: ContentClassConfig, userContent: boolean): ClassCacheControl {
  if (userContent && !cls.signed) {
    const v = `private, max-age=${cls.browserTtl}`;
    return { normal: v, fingerprinted: v };
  }
  const parts = ['public', `max-age=${cls.browserTtl}`, `s-maxage=${cls.ttl.default}`];
  if (cls.staleWhileRevalidate > 0) parts.push(`stale-while-revalidate=${cls.staleWhileRevalidate}`);
  if (cls.staleIfError > 0) parts.push(`stale-if-error=${cls.staleIfError}`);
  // A fingerprinted name changes whenever its bytes do, so the URL's content never changes:
  // a year (the conventional "forever", RFC 9111 §5.2.2.1 advises no more) and `immutable`
  // (RFC 8246) so browsers skip revalidation even on reload. The edge keeps it for ttl.max.
  return {
    normal: parts.join(', '),
    fingerprinted: `public, max-age=31536000, s-maxage=${cls.ttl.max}, immutable`,
  };
}

export function cacheControlFor(cls: ContentClassConfig, path: string, userContent = false): string {
  const table = userContent ? memoUser : memo;
  let entry = table.get(cls);
  if (!entry) {
    entry = build(cls, userContent);
    table.set(cls, entry);
  }
  return isFingerprinted(path) ? entry.fingerprinted : entry.normal;
}
