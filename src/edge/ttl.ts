/**
 * CloudFront's TTL rules on top of RFC 9111 parsing (http-cache-semantics):
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html
 *
 * - The origin's freshness (s-maxage over max-age over Expires; the library implements that
 *   precedence, RFC 9111 §4.2.1) is clamped into the behavior's [min, max].
 * - No freshness from the origin: the behavior's default TTL.
 * - no-store, no-cache, private: not cached when min TTL is 0; cached for min TTL otherwise.
 * - 4xx/5xx errors CloudFront caches, without freshness of their own: the error caching
 *   minimum TTL (10 s by default).
 * Stricter than CloudFront where RFC 9111 requires it of a shared cache: `Vary: *` is never
 * stored (§4.1), a response to an Authorization request the cache key does not separate is
 * stored only with public/s-maxage/must-revalidate (§3.5), and must-revalidate /
 * proxy-revalidate forbid serving stale (§5.2.2.2, §5.2.2.8). Responses that set cookies are
 * not stored: one viewer's session must never be replayed to another.
 */
import CachePolicy from 'http-cache-semantics';
import type { ContentClassConfig } from '../config/sections/classes.js';
import {
  DEFAULT_CACHE_CONTROL_TARGETS,
  parseAge,
  parseHttpDate,
  targetedCacheControl,
} from '../http/freshness.js';
import { headerString, type StoredHeaders } from './entry.js';

/** Errors CloudFront caches (its "error caching minimum TTL" list). */
export const CACHED_ERRORS = new Set([400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504]);
/** Statuses cacheable by default (RFC 9110 §15.1), which the default TTL applies to. */
const CACHEABLE_BY_DEFAULT = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);
/** Statuses that may be stored when the origin gives explicit freshness. */
const CACHEABLE_WITH_FRESHNESS = new Set([...CACHEABLE_BY_DEFAULT, 302, 303, 307]);

export interface Freshness {
  store: boolean;
  /** Why a response is not stored (for debug headers and logs). */
  reason?: string;
  ttl: number;
  swr: number;
  sie: number;
}

export interface TtlInput {
  status: number;
  headers: StoredHeaders;
  cls: Pick<ContentClassConfig, 'ttl'>;
  errorCachingMinTtl: number;
  /** The request carried Authorization and the cache key does not include it. */
  unkeyedAuthorization: boolean;
}

/**
 * The response headers as this cache reads them, for http-cache-semantics: directive names
 * lowercased (RFC 9111 §5.2; the library compares them as given); a targeted cache-control
 * field for this edge replaces Cache-Control (RFC 9213 §2.2; viewers still get the origin's
 * Cache-Control); Age as its first valid member or absent (§5.1, see parseAge); Expires and Date
 * only as strict HTTP-dates (RFC 9110 §5.6.7): an invalid Expires means already expired (§5.3),
 * so it goes in as a date in the past.
 */
export function cacheView(headers: StoredHeaders, targets: readonly string[]): StoredHeaders {
  const view: StoredHeaders = { ...headers };
  const targeted = targets.length > 0 ? targetedCacheControl(headers, targets) : undefined;
  const cc = targeted?.value ?? headerString(headers['cache-control']);
  if (cc !== undefined) view['cache-control'] = cc.toLowerCase();
  const age = parseAge(headers.age);
  if (age === undefined) delete view.age;
  else view.age = String(age);
  if (headers.date !== undefined) {
    const date = parseHttpDate(headerString(headers.date));
    if (Number.isNaN(date)) delete view.date;
    else view.date = new Date(date).toUTCString();
  }
  if (headers.expires !== undefined) {
    // Repeated Expires lines are not one HTTP-date either.
    const expires = Array.isArray(headers.expires) ? Number.NaN : parseHttpDate(headers.expires);
    view.expires = new Date(Number.isNaN(expires) ? 0 : expires).toUTCString();
  }
  return view;
}

/** A policy object for the response: age, revalidation headers and 304 merging use it. */
export function policyFor(
  req: { method: string; url: string; headers: Record<string, string | string[] | undefined> },
  status: number,
  headers: StoredHeaders,
  targets: readonly string[] = DEFAULT_CACHE_CONTROL_TARGETS,
): CachePolicy {
  return new CachePolicy(
    { method: req.method, url: req.url, headers: req.headers as CachePolicy.Headers },
    { status, headers: cacheView(headers, targets) as CachePolicy.Headers },
    // No heuristic freshness: CloudFront applies the default TTL instead (see edgeTtl).
    { shared: true, cacheHeuristic: 0, immutableMinTimeToLive: 0 },
  );
}

const NOT_STORED = (reason: string): Freshness => ({ store: false, reason, ttl: 0, swr: 0, sie: 0 });

export function edgeTtl(input: TtlInput, policy: CachePolicy): Freshness {
  const { status, headers, cls } = input;
  const cc = policy.toObject().rescc as Record<string, string | boolean | undefined>;
  const vary = headerString(headers.vary);
  if (vary?.split(',').some((v) => v.trim() === '*')) return NOT_STORED('vary-star');
  if (headers['set-cookie'] !== undefined) return NOT_STORED('set-cookie');
  if (status === 206) return NOT_STORED('partial');

  const explicit =
    cc['s-maxage'] !== undefined || cc['max-age'] !== undefined || headers.expires !== undefined;
  const isError = CACHED_ERRORS.has(status);
  if (!isError && !(explicit ? CACHEABLE_WITH_FRESHNESS : CACHEABLE_BY_DEFAULT).has(status))
    return NOT_STORED('status');

  if (
    input.unkeyedAuthorization &&
    cc.public === undefined &&
    cc['s-maxage'] === undefined &&
    cc['must-revalidate'] === undefined
  )
    return NOT_STORED('authorization');

  const { min, max } = cls.ttl;
  // Surrogate-Control (Edge Architecture 1.0) speaks to this cache only and outranks
  // Cache-Control, which then governs browsers alone. CloudFront ignores it; edgewise honours
  // it because an origin that sends it means it for the CDN.
  const surrogate = parseSurrogateControl(headerString(headers['surrogate-control']));
  if (surrogate?.noStore) return NOT_STORED('surrogate no-store');
  if (surrogate?.maxAge !== undefined) {
    const ttl = clamp(surrogate.maxAge, min, max);
    const validator = headers.etag !== undefined || headers['last-modified'] !== undefined;
    if (ttl === 0 && !validator) return NOT_STORED('zero-ttl');
    return { store: true, ttl, swr: 0, sie: 0 };
  }
  const restrictive =
    cc['no-store'] !== undefined || cc['no-cache'] !== undefined || cc.private !== undefined;
  let ttl: number;
  if (restrictive) {
    // CloudFront: respected when min TTL is 0, overridden by min TTL otherwise.
    if (min === 0) return NOT_STORED('no-store/no-cache/private');
    ttl = min;
  } else if (explicit) {
    ttl = clamp(explicitLifetime(policy, cc, headers), min, max);
  } else if (isError) {
    ttl = input.errorCachingMinTtl;
    if (ttl === 0) return NOT_STORED('error');
  } else {
    ttl = cls.ttl.default;
  }

  const noStale = cc['must-revalidate'] !== undefined || cc['proxy-revalidate'] !== undefined;
  const ceiling = Math.max(max, ttl);
  // Stale serving only as the origin's own directives allow (RFC 5861; CloudFront does the
  // same): the class's staleWhileRevalidate/staleIfError reach the edge through the
  // Cache-Control the edgewise origin sends, never as a default for other origins' responses.
  const window = (directive: string | boolean | undefined) => {
    if (noStale || restrictive) return 0;
    const asked = typeof directive === 'string' && /^\d+$/.test(directive) ? Number(directive) : 0;
    // Stale serving stays within the behavior's max TTL.
    return Math.max(0, Math.min(asked, ceiling - ttl));
  };
  const swr = window(cc['stale-while-revalidate']);
  const sie = window(cc['stale-if-error']);

  // A zero TTL is still worth storing when it can be revalidated cheaply (CloudFront does the
  // same: it sends a conditional request on every viewer request).
  const validator = headers.etag !== undefined || headers['last-modified'] !== undefined;
  if (ttl === 0 && !validator && swr === 0 && sie === 0) return NOT_STORED('zero-ttl');
  return { store: true, ttl, swr, sie };
}

/**
 * The origin's lifetime with RFC 9111 §4.2.1 precedence. The library's maxAge() returns 0 for
 * responses it would not store (it applies its own shared-cache rules, checked above), so the
 * figure is taken from it only for the storable case and from the directives otherwise.
 */
function explicitLifetime(
  policy: CachePolicy,
  cc: Record<string, string | boolean | undefined>,
  headers: StoredHeaders,
): number {
  const fromPolicy = policy.maxAge();
  if (fromPolicy > 0) return fromPolicy;
  const seconds = (v: string | boolean | undefined) =>
    typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0;
  if (cc['s-maxage'] !== undefined) return seconds(cc['s-maxage']);
  if (cc['max-age'] !== undefined) return seconds(cc['max-age']);
  // Only Expires, on a status the library does not store (an error CloudFront caches):
  // Expires minus Date (RFC 9111 §4.2.1); invalid or past means already expired (§5.3).
  const expires = parseHttpDate(headerString(headers.expires));
  const date = parseHttpDate(headerString(headers.date));
  if (Number.isNaN(expires)) return 0;
  return Math.max(0, (expires - (Number.isNaN(date) ? Date.now() : date)) / 1000);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(value)));
}

/** Current age in seconds (RFC 9111 §4.2.3, via the library) and whether the entry is fresh. */
export function ageOf(policy: CachePolicy): number {
  return Math.max(0, policy.age());
}

/** The edge's device token for targeted Surrogate-Control directives (`max-age=60;edgewise`). */
export const SURROGATE_TOKEN = 'edgewise';

/**
 * Surrogate-Control (W3C Edge Architecture 1.0 §3): comma-separated directives, each optionally
 * targeted with `;token`. Directives targeted at this surrogate win over untargeted ones;
 * directives targeted at another device are ignored. Only max-age and no-store matter here.
 */
export function parseSurrogateControl(
  header: string | undefined,
): { maxAge?: number; noStore: boolean } | undefined {
  if (!header) return undefined;
  const general: { maxAge?: number; noStore: boolean } = { noStore: false };
  const targeted: { maxAge?: number; noStore: boolean } = { noStore: false };
  let anyTargeted = false;
  for (const part of header.split(',')) {
    const semi = part.indexOf(';');
    const directive = (semi === -1 ? part : part.slice(0, semi)).trim().toLowerCase();
    const target =
      semi === -1
        ? undefined
        : part
            .slice(semi + 1)
            .trim()
            .toLowerCase();
    if (target !== undefined && target !== SURROGATE_TOKEN) continue;
    const into = target === undefined ? general : targeted;
    if (target !== undefined) anyTargeted = true;
    if (directive === 'no-store') into.noStore = true;
    const m = /^max-age=(\d+)(?:\+\d+)?$/.exec(directive);
    if (m) into.maxAge = Math.min(Number(m[1]), 2147483647);
  }
  return anyTargeted ? targeted : general;
}
