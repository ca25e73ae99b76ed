/**
 * What the edge keeps per cache key: the origin's status and headers, the RFC 9111 policy
 * object (age and revalidation come from http-cache-semantics), the CloudFront TTLs computed
 * once at store time, and the body, in memory or in a disk-tier file.
 */
import type CachePolicy from 'http-cache-semantics';
import type { Part } from './partial.js';

export type StoredHeaders = Record<string, string | string[]>;

export interface CachedResponse {
  /** Full cache key (with the Vary secondary key when there is one). */
  key: string;
  /** Viewer path the key belongs to (invalidations match on it). */
  path: string;
  status: number;
  /** Origin headers minus hop-by-hop fields, as served to viewers. */
  headers: StoredHeaders;
  policy: CachePolicy;
  /** CloudFront TTL in seconds (already clamped into the behavior's [min, max]). */
  ttl: number;
  /** Seconds past ttl a stale copy may be served while one background refresh runs. */
  swr: number;
  /** Seconds past ttl a stale copy may be served when the origin fails. */
  sie: number;
  /** Body bytes in memory, or the disk-tier file holding them. */
  body: Buffer | { file: string };
  /** Bytes of `body` (the part's length when `part` is set). */
  size: number;
  /** Set when only a part of the representation is stored (src/edge/partial.ts). */
  part?: Part | undefined;
  /** Set when the edge compressed the body (the origin's headers describe the identity form). */
  coding: 'br' | 'gzip' | undefined;
  /** The origin's Surrogate-Control (consumed by the edge, not shown to viewers). */
  surrogateControl: string | string[] | undefined;
  /** The origin's own validators, sent when revalidating (the stored ETag may have been weakened). */
  validators: { etag: string | undefined; lastModified: string | undefined };
}

/** Hop-by-hop fields (RFC 9110 §7.6.1) and fields a cache must not replay. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

export function headerString(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Rough cost of an entry's headers in bytes, so the memory tier bound includes them. */
export function headerBytes(headers: StoredHeaders): number {
  let n = 64;
  for (const [k, v] of Object.entries(headers))
    n += k.length + (Array.isArray(v) ? v.join('').length : v.length) + 4;
  return n;
}

/**
 * What one stored entry costs the process beyond its body, headers and key strings: the entry
 * and validator objects, the CachePolicy (parsed Cache-Control, response headers), the
 * Buffer object and its backing-store record, the cache store's node, the Vary index.
 * `npm run bench memory` (V8 heap + array buffers after forced GCs, Node 20) measured
 * 1,487 B per entry with an empty body and 1,802 / 2,749 / 11,958 B with 100 B / 1 KiB /
 * 10 KiB bodies, 1,597 / 4,260 / 5,216 / 14,436 B once hit (the compiled head, below). The
 * memory tier counts 1,024 B less per entry than the 6,060 / 6,176 / 7,108 / 16,332 B it
 * counted while heads were kept as ropes (the adaptive policy's 256 B included).
 * test/edge/memory.test.ts: unique 100-byte objects, each stored and hit once, three times what
 * memoryBytes = 16 MiB makes room for, grow the process by less than 16 MiB.
 * Without this figure such a flood grew the process to ~5× the bytes counted.
 */
export const ENTRY_OVERHEAD_BYTES = 1536;

/**
 * What an entry costs the memory tier: what the process holds for it, so
 * `edge.cache.memoryBytes` bounds the process. (The disk tier counts body and header bytes,
 * what its files hold: `diskBytes` bounds the disk.)
 */
export function entryCost(entry: CachedResponse): number {
  return (
    entry.size +
    headerBytes(entry.headers) +
    2 * (entry.key.length + entry.path.length) +
    ENTRY_OVERHEAD_BYTES +
    entry.key.length +
    GHOST_SLOT_BYTES +
    COMPILED_HEAD_BYTES +
    2 * headerBytes(entry.headers)
  );
}

/**
 * A memory-tier hit compiles the entry's response head once and keeps it while the entry lives
 * (src/edge/hit-head.ts): the stored headers again as a flat list and serialised, the edge's own
 * fields, the slots for Age and the request id. `npm run bench memory` measured 2,458–2,478 B
 * more per entry after one hit (100 B – 10 KiB bodies, four origin headers, ~187 header bytes)
 * once the serialised pieces were flat strings (3,485–3,515 B as concatenation ropes); this plus
 * twice the entry's header bytes (~2,680 B there) is counted for every entry, hit or not, so the
 * bound holds however many are hit. (A second remembered viewer-response result for the same
 * entry compiles a second head: not counted.)
 */
const COMPILED_HEAD_BYTES = 2304;

/**
 * S3-FIFO's ghost queue (src/cache-store/s3fifo.ts) remembers as many evicted keys as the tier
 * holds entries, after those entries are gone; each entry pays for one such slot (its key and
 * the queue's node), so the ghost too stays inside memoryBytes. LRU and SIEVE keep no ghost
 * and are overcounted by that much.
 */
const GHOST_SLOT_BYTES = 128;
