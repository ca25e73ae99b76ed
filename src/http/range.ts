/**
 * Byte ranges, RFC 9110 §14. Parsing is `range-parser`'s (jshttp); this module only decides
 * what the origin does with the result.
 *
 * Multiple ranges: answered with the whole representation (200), not multipart/byteranges.
 * RFC 9110 §14.2 lets a server ignore Range; overlapping and adjacent ranges are first
 * coalesced (`combine`), so a list that collapses to one range still gets a 206. What remains —
 * genuinely disjoint ranges — is rare from browsers and media players, costs one storage read
 * per part, and is the shape of range-amplification attacks (CVE-2011-3192); CloudFront and the
 * local edge fetch whole objects or single ranges, so nothing upstream needs multipart.
 */
import rangeParser from 'range-parser';
import type { ByteRange } from '../storage/types.js';

export type RangeDecision =
  | { kind: 'full' }
  | { kind: 'partial'; range: ByteRange }
  | { kind: 'unsatisfiable' };

const FULL: RangeDecision = { kind: 'full' };
const UNSATISFIABLE: RangeDecision = { kind: 'unsatisfiable' };

/** What to send for `Range: <header>` against a representation of `size` bytes. */
export function decideRange(header: string, size: number): RangeDecision {
  const parsed = rangeParser(size, header, { combine: true });
  // -2: malformed. §14.2: a server MAY ignore a Range it cannot parse; a 200 is always valid.
  if (parsed === -2) return FULL;
  // -1: no range overlaps the representation (§15.5.17 → 416).
  if (parsed === -1) return UNSATISFIABLE;
  // Other units than bytes are not supported; §14.1 says ignore them.
  if (parsed.type !== 'bytes') return FULL;
  if (parsed.length !== 1) return FULL;
  const r = parsed[0]!;
  return { kind: 'partial', range: { start: r.start, end: r.end } };
}

export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}
