/**
 * The Cache-Control an origin response carries, from its content class: `max-age` is the
 * browser TTL, `s-maxage` the edge TTL (shared caches prefer it, RFC 9111 §5.2.2.10), and the
 * stale-* extensions from RFC 5861 when configured.
 */
import type { ContentClassConfig } from './config/sections/classes.js';

/** Content hash in the file name (app.3f9a2c1e.js, logo-5d41402abc4b2a76.png): safe to cache forever. */
const FINGERPRINT = /[.-][0-9a-f]{8,64}\.[a-z0-9]+$/i;

export function isFingerprinted(path: string): boolean {
  return FINGERPRINT.test(path);
}

export function cacheControlFor(cls: ContentClassConfig, path: string): string {
  if (cls.signed) {
    // Signed content is per-grant: a browser may keep it, shared caches other than the
    // signing edge must not (the edge caches it by its own policy after checking the signature).
    return `private, max-age=${cls.browserTtl}`;
  }
  if (isFingerprinted(path)) return `public, max-age=31536000, s-maxage=${cls.ttl.max}, immutable`;
  const parts = ['public', `max-age=${cls.browserTtl}`, `s-maxage=${cls.ttl.default}`];
  if (cls.staleWhileRevalidate > 0) parts.push(`stale-while-revalidate=${cls.staleWhileRevalidate}`);
  if (cls.staleIfError > 0) parts.push(`stale-if-error=${cls.staleIfError}`);
  return parts.join(', ');
}
