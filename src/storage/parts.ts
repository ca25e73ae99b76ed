/**
 * S3's rules for the parts named at completion, in one place so both drivers refuse the same
 * things (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html):
 * part numbers 1..10,000 in ascending order without repeats, each one stored with the ETag the
 * client names, every part but the last at least 5 MiB (S3 answers EntityTooSmall otherwise; a
 * client written against the fs driver then works unchanged against S3).
 */
import { MultipartBadPart } from '../errors.js';
import type { StoredPart } from './types.js';

export const MAX_PART_NUMBER = 10_000;
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3's largest part. */
export const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;

/** `"abc"`, `abc` and `&quot;abc&quot;` name the same part (S3 ignores the quotes too). */
export function bareEtag(etag: string): string {
  return etag.replace(/^(?:"|&quot;)+|(?:"|&quot;)+$/g, '');
}

export function assertPartNumber(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PART_NUMBER)
    throw new MultipartBadPart(`part number ${n} is not in 1..${MAX_PART_NUMBER}`);
}

/** The stored parts the completion names, in its order; throws on the first broken rule. */
export function matchParts(
  stored: readonly StoredPart[],
  given: ReadonlyArray<{ partNumber: number; etag: string }>,
): StoredPart[] {
  if (given.length === 0) throw new MultipartBadPart('no parts named');
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
  const out: StoredPart[] = [];
  let previous = 0;
  for (const g of given) {
    assertPartNumber(g.partNumber);
    if (g.partNumber <= previous)
      throw new MultipartBadPart(`part ${g.partNumber} after part ${previous}: ascending and unique`);
    previous = g.partNumber;
    const part = byNumber.get(g.partNumber);
    if (!part) throw new MultipartBadPart(`part ${g.partNumber} is not stored`);
    if (bareEtag(part.etag) !== bareEtag(g.etag))
      throw new MultipartBadPart(`part ${g.partNumber}: ETag ${g.etag} is not the stored part's`);
    out.push(part);
  }
  for (const p of out.slice(0, -1))
    if (p.size < MIN_PART_BYTES)
      throw new MultipartBadPart(`part ${p.partNumber} has ${p.size} bytes; all but the last need ≥ 5 MiB`);
  return out;
}
