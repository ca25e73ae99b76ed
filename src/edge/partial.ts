/**
 * Stored partial responses (RFC 9111 §3.3–3.4), as CloudFront caches ranges: on a miss, a
 * viewer's single-range request is forwarded to the origin as it came
 * (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RangeGETs.html), and the
 * origin's 206 is stored as a part of the representation: `{ start, end, total }` with the part's
 * bytes as the body. A part answers the ranges inside it (and conditionals, which depend only on
 * the validators); anything else is a miss, whose answer replaces the part, except that two
 * parts with the same strong validator are combined (RFC 9110 §15.3.7.3), and parts that cover
 * the whole representation become a complete entry.
 *
 * Not forwarded (the edge fetches the whole object, as before, and answers the range itself):
 * If-Range requests (the edge evaluates If-Range on its own copy, RFC 9110 §13.1.5), HEAD, and
 * several ranges (answered 200 whole, src/http/range.ts).
 */
import { readFile } from 'node:fs/promises';
import rangeParser from 'range-parser';
import type { RequestHeaders } from './context.js';
import { type CachedResponse, headerString, type StoredHeaders } from './entry.js';

export interface Part {
  /** First byte of the representation this part holds. */
  start: number;
  /** Last byte (inclusive). */
  end: number;
  /** Length of the complete representation. */
  total: number;
}

/**
 * The part a 206 carries: `Content-Range: bytes a-b/n` with a known complete length
 * (RFC 9110 §14.4). `bytes a-b/*` is not stored: a part of an unknown whole cannot answer a
 * suffix range or be completed.
 */
export function parseContentRange(value: string | undefined): Part | undefined {
  const m = value === undefined ? null : /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/i.exec(value.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = Number(m[3]);
  return start <= end && end < total ? { start, end, total } : undefined;
}

/** The Range to forward on a miss: a GET for one bytes range, without If-Range. */
export function forwardableRange(method: string, headers: RequestHeaders): string | undefined {
  if (method !== 'GET' || headers['if-range'] !== undefined) return undefined;
  const range = headerString(headers.range);
  if (range === undefined || !/^\s*bytes\s*=/i.test(range) || range.includes(',')) return undefined;
  // Only what the edge could answer itself from a part (a malformed header is ignored, §14.2).
  return rangeParser(Number.MAX_SAFE_INTEGER, range) === -2 ? undefined : range;
}

/** Whether `[start, end]` of the representation lies inside the stored part. */
export function inside(part: Part, start: number, end: number): boolean {
  return start >= part.start && end <= part.end;
}

/** A strong ETag, the only validator two parts may be combined on (RFC 9110 §8.8.1). */
function strongTag(headers: StoredHeaders): string | undefined {
  const tag = headerString(headers.etag)?.trim();
  return tag?.startsWith('"') ? tag : undefined;
}

/** Stored headers of a part: the 206's fields except those that describe only this message. */
export function partHeaders(headers: StoredHeaders): StoredHeaders {
  const out = { ...headers };
  delete out['content-range'];
  delete out['content-length'];
  return out;
}

async function bodyOf(entry: CachedResponse): Promise<Buffer> {
  return Buffer.isBuffer(entry.body) ? entry.body : readFile(entry.body.file);
}

/**
 * The part to store given a new part and what the store holds for the key: the two combined
 * when they have the same strong ETag and touch or overlap (the new bytes win where they
 * overlap), else the new part alone. A part covering `[0, total)` is returned without `part`:
 * it is the complete representation.
 */
export async function combine(
  stored: CachedResponse | undefined,
  incoming: { part: Part; body: Buffer; headers: StoredHeaders },
): Promise<{ part: Part | undefined; body: Buffer }> {
  let { part, body } = incoming;
  const old = stored?.part;
  const tag = strongTag(incoming.headers);
  if (
    stored &&
    old &&
    tag !== undefined &&
    strongTag(stored.headers) === tag &&
    old.total === part.total &&
    old.start <= part.end + 1 &&
    part.start <= old.end + 1
  ) {
    const oldBody = await bodyOf(stored).catch(() => undefined);
    if (oldBody && oldBody.length === old.end - old.start + 1) {
      const start = Math.min(old.start, part.start);
      const end = Math.max(old.end, part.end);
      const merged = Buffer.alloc(end - start + 1);
      oldBody.copy(merged, old.start - start);
      body.copy(merged, part.start - start);
      part = { start, end, total: part.total };
      body = merged;
    }
  }
  return part.start === 0 && part.end === part.total - 1 ? { part: undefined, body } : { part, body };
}
