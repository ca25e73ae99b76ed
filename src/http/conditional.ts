/**
 * Conditional requests (RFC 9110 §13) and which bytes of a representation to send (§14), the
 * one implementation the origin (src/routes/serve-object.ts) and the edge's cache hits
 * (src/edge/cache-flow.ts) both call, so the same request gets the same status from either.
 *
 * The evaluation order is §13.2.2's:
 *   1. If-Match            → 412 when no listed tag matches (strong comparison)
 *   2. If-Unmodified-Since → 412 when modified after the date (only without If-Match)
 *   3. If-None-Match       → 304 for GET/HEAD when a tag matches (weak comparison), else 412
 *   4. If-Modified-Since   → 304 when not modified since the date (only without If-None-Match)
 *   5. If-Range            → whether Range applies (§13.1.5), then the range itself (range.ts)
 * Preconditions are evaluated only against a representation that would otherwise be a 200
 * (§13.2.1); callers holding anything else send it as it is.
 */
import type { ByteRange } from '../storage/types.js';
import { decideRange } from './range.js';

export type Precondition = 'proceed' | 'not-modified' | 'failed';

export interface Validators {
  /** Strong or weak entity tag, as sent in ETag. */
  etag?: string | undefined;
  /** Last-Modified in ms since the epoch. */
  lastModified?: number | undefined;
  /**
   * The date If-Modified-Since is compared with when there is no Last-Modified: a cache uses
   * the stored response's Date (RFC 9111 §4.3.2). The origin always has Last-Modified.
   */
  modifiedFallback?: number | undefined;
}

export type Selection =
  | { kind: 'full' }
  | { kind: 'not-modified' }
  | { kind: 'failed' }
  | { kind: 'partial'; range: ByteRange }
  | { kind: 'unsatisfiable' };

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
export function httpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** A modification time truncated to whole seconds, the resolution of an HTTP-date. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** Whether any precondition field is present (cheap test for the fast path). */
export function hasPreconditions(headers: Headers): boolean {
  return (
    headers['if-match'] !== undefined ||
    headers['if-none-match'] !== undefined ||
    headers['if-modified-since'] !== undefined ||
    headers['if-unmodified-since'] !== undefined
  );
}

/** Steps 1–4 of RFC 9110 §13.2.2 against an existing representation. */
export function evaluatePreconditions(method: string, headers: Headers, v: Validators): Precondition {
  const ifMatch = header(headers, 'if-match');
  if (ifMatch !== undefined) {
    // §13.1.1: "*" matches any current representation; otherwise strong comparison.
    const ok =
      ifMatch.trim() === '*' ||
      (v.etag !== undefined && tagList(ifMatch).some((t) => strongMatch(t, v.etag!)));
    if (!ok) return 'failed';
  } else if (v.lastModified !== undefined) {
    // §13.1.4: only without If-Match; ignored when the date is invalid or there is no
    // modification date to compare with.
    const since = httpDate(header(headers, 'if-unmodified-since'));
    if (since !== undefined && seconds(v.lastModified) > since) return 'failed';
  }
  const safe = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    // §13.1.2: weak comparison; "*" matches any current representation. A match is a 304 for
    // GET/HEAD and a 412 for any other method. If-Modified-Since is then ignored.
    const match =
      ifNoneMatch.trim() === '*' ||
      (v.etag !== undefined && tagList(ifNoneMatch).some((t) => weakMatch(t, v.etag!)));
    if (!match) return 'proceed';
    return safe ? 'not-modified' : 'failed';
  }
  // §13.1.3: GET/HEAD only; ignored when not a valid HTTP-date.
  const ims = safe ? httpDate(header(headers, 'if-modified-since')) : undefined;
  const modified = v.lastModified ?? v.modifiedFallback;
  if (ims !== undefined && modified !== undefined && seconds(modified) <= ims) return 'not-modified';
  return 'proceed';
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
  if (value.startsWith('"') || value.startsWith('W/'))
    return v.etag !== undefined && strongMatch(value, v.etag);
  const date = httpDate(value);
  return date !== undefined && v.lastModified !== undefined && date === seconds(v.lastModified);
}

/**
 * Everything a GET or HEAD of a `size`-byte representation with these validators gets:
 * §13.2.2 steps 1–5, then the range. HEAD never gets a range (§14.2: Range is for GET).
 */
export function selectRepresentation(
  method: string,
  headers: Headers,
  v: Validators,
  size: number,
): Selection {
  if (hasPreconditions(headers)) {
    const outcome = evaluatePreconditions(method, headers, v);
    if (outcome === 'failed') return { kind: 'failed' };
    if (outcome === 'not-modified') return { kind: 'not-modified' };
  }
  const range = header(headers, 'range');
  if (range === undefined || method !== 'GET' || !ifRangeHolds(headers, v)) return { kind: 'full' };
  return decideRange(range, size);
}

/** Fields a 304 carries from the 200 it stands for (RFC 9110 §15.4.5). */
export const NOT_MODIFIED_FIELDS = [
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
  'last-modified',
];
