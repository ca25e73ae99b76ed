/**
 * Conditional and range requests answered from a complete stored object, so a cache hit never
 * goes to the origin for them. Freshness of validators comes from `fresh` (If-None-Match
 * takes precedence over If-Modified-Since, RFC 9110 §13.2.2), byte ranges from `range-parser`.
 */
import fresh from 'fresh';
import rangeParser from 'range-parser';
import { headerString, type StoredHeaders } from '../entry.js';

export type Selection =
  | { kind: 'full' }
  | { kind: 'not-modified' }
  | { kind: 'range'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/** Fields a 304 carries from the stored response (RFC 9110 §15.4.5). */
export const NOT_MODIFIED_FIELDS = [
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
  'last-modified',
];

export function selectRepresentation(
  method: string,
  req: Record<string, string | string[] | undefined>,
  status: number,
  headers: StoredHeaders,
  size: number,
): Selection {
  if (status !== 200 || (method !== 'GET' && method !== 'HEAD')) return { kind: 'full' };
  const etag = headerString(headers.etag);
  const lastModified = headerString(headers['last-modified']);
  const inm = headerString(req['if-none-match']);
  const ims = headerString(req['if-modified-since']);
  if (
    (inm !== undefined || ims !== undefined) &&
    (etag !== undefined || lastModified !== undefined || headers.date !== undefined)
  ) {
    const reqHeaders: Record<string, string> = {};
    if (inm !== undefined) reqHeaders['if-none-match'] = inm;
    if (ims !== undefined) reqHeaders['if-modified-since'] = ims;
    const resHeaders: Record<string, string> = {};
    if (etag !== undefined) resHeaders.etag = etag;
    // Without Last-Modified, the stored response's Date stands in for it (RFC 9111 §4.3.2).
    const modified = lastModified ?? headerString(headers.date);
    if (modified !== undefined) resHeaders['last-modified'] = modified;
    if (fresh(reqHeaders, resHeaders)) return { kind: 'not-modified' };
  }
  const range = headerString(req.range);
  if (range === undefined || method !== 'GET') return { kind: 'full' };
  if (!ifRangeMatches(headerString(req['if-range']), etag, lastModified)) return { kind: 'full' };
  const parsed = rangeParser(size, range, { combine: true });
  if (parsed === -1) return { kind: 'unsatisfiable' };
  // Malformed (-2), non-bytes units, and multiple ranges: a server may ignore Range and send
  // the whole representation (RFC 9110 §14.2); multipart/byteranges is not worth its risk.
  if (parsed === -2 || parsed.type !== 'bytes' || parsed.length !== 1) return { kind: 'full' };
  const r = parsed[0]!;
  return { kind: 'range', start: r.start, end: r.end };
}

/**
 * If-Range (RFC 9110 §13.1.5): the range applies only when the validator matches the stored
 * one: a strong entity tag compared strongly, or a date equal to Last-Modified.
 */
function ifRangeMatches(
  ifRange: string | undefined,
  etag: string | undefined,
  lastModified: string | undefined,
): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/'))
    return etag !== undefined && !etag.startsWith('W/') && v === etag;
  return lastModified !== undefined && Date.parse(v) === Date.parse(lastModified);
}
