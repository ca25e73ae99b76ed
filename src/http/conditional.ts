/**
 * Conditional requests, RFC 9110 §13. The evaluation order is §13.2.2's:
 *   1. If-Match            → 412 when no listed tag matches (strong comparison)
 *   2. If-Unmodified-Since → 412 when modified after the date (only without If-Match)
 *   3. If-None-Match       → 304 for GET/HEAD when a tag matches (weak comparison)
 *   4. If-Modified-Since   → 304 when not modified since the date (only without If-None-Match)
 *   5. If-Range            → decides whether Range applies (see `ifRangeHolds`)
 * Steps 3–4 are `fresh`'s (jshttp), which already gives If-None-Match precedence; steps 1–2
 * and 5 have no well-kept standalone implementation, so they are written here.
 */
import fresh from 'fresh';

export type Precondition = 'proceed' | 'not-modified' | 'failed';

export interface Validators {
  /** Strong or weak entity tag, as sent in ETag. */
  etag: string;
  lastModified: Date;
  /** Last-Modified as sent (HTTP-date), to avoid formatting it twice. */
  lastModifiedHttp: string;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Splits an entity-tag list (`"a", W/"b"`); commas never occur inside an entity-tag. */
function tagList(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

function isWeak(tag: string): boolean {
  return tag.startsWith('W/');
}

/** RFC 9110 §8.8.3.2 strong comparison: both strong and identical. */
export function strongMatch(a: string, b: string): boolean {
  return !isWeak(a) && !isWeak(b) && a === b;
}

/** RFC 9110 §8.8.3.2 weak comparison: opaque-tags equal, weakness ignored. */
export function weakMatch(a: string, b: string): boolean {
  return (isWeak(a) ? a.slice(2) : a) === (isWeak(b) ? b.slice(2) : b);
}

/** An HTTP-date, or undefined when the value is not a valid date (the field is then ignored). */
function httpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** Last-Modified truncated to whole seconds, the resolution of an HTTP-date. */
function seconds(d: Date): number {
  return Math.floor(d.getTime() / 1000) * 1000;
}

/** Whether any conditional header is present (cheap test for the fast path). */
export function hasPreconditions(headers: Headers): boolean {
  return (
    headers['if-match'] !== undefined ||
    headers['if-none-match'] !== undefined ||
    headers['if-modified-since'] !== undefined ||
    headers['if-unmodified-since'] !== undefined
  );
}

/** Steps 1–4 of RFC 9110 §13.2.2 for a GET or HEAD of an existing representation. */
export function evaluatePreconditions(headers: Headers, v: Validators): Precondition {
  const ifMatch = header(headers, 'if-match');
  if (ifMatch !== undefined) {
    // §13.1.1: "*" matches any current representation; otherwise strong comparison.
    const ok = ifMatch.trim() === '*' || tagList(ifMatch).some((t) => strongMatch(t, v.etag));
    if (!ok) return 'failed';
  } else {
    // §13.1.4: evaluated only when If-Match is absent; an invalid date is ignored.
    const since = httpDate(header(headers, 'if-unmodified-since'));
    if (since !== undefined && seconds(v.lastModified) > since) return 'failed';
  }
  const ifNoneMatch = header(headers, 'if-none-match');
  const ifModifiedSince = header(headers, 'if-modified-since');
  if (ifNoneMatch === undefined && ifModifiedSince === undefined) return 'proceed';
  // §13.1.2/§13.1.3 via `fresh`: If-None-Match (weak comparison) wins over If-Modified-Since.
  // Only the two conditional fields are passed: `fresh` also answers "stale" to a request
  // `Cache-Control: no-cache`, which is a directive to caches (RFC 9111 §5.2.1.4), not to the
  // origin, and must not stop an origin from answering 304.
  const isFresh = fresh(
    { 'if-none-match': ifNoneMatch, 'if-modified-since': ifModifiedSince },
    { etag: v.etag, 'last-modified': v.lastModifiedHttp },
  );
  return isFresh ? 'not-modified' : 'proceed';
}

/**
 * RFC 9110 §13.1.5: Range applies only when If-Range names the current representation —
 * an entity-tag by strong comparison (a weak tag never matches), or an HTTP-date equal to
 * Last-Modified. Otherwise the whole representation is sent with 200.
 */
export function ifRangeHolds(headers: Headers, v: Validators): boolean {
  const ifRange = header(headers, 'if-range');
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return strongMatch(value, v.etag);
  const date = httpDate(value);
  return date !== undefined && date === seconds(v.lastModified);
}
