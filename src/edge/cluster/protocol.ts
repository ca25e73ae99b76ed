/**
 * Messages between the edge's primary process and its workers (node:cluster IPC with the
 * `advanced` serialization, so bodies travel as binary, not JSON). Each worker holds a
 * replica of the cache; the primary relays every store change to the other workers, grants
 * one fill lease per cold key across the edge, waits for every worker's acknowledgement of
 * an invalidation, and aggregates metrics.
 */
import type CachePolicy from 'http-cache-semantics';
import type { CachedResponse } from '../entry.js';

/** A cache entry on the wire: the RFC 9111 policy as its plain object, the body as bytes. */
export type WireEntry = Omit<CachedResponse, 'policy' | 'body'> & {
  policy: CachePolicy.CachePolicyObject;
  body: Uint8Array | undefined;
};

/** Store changes, relayed by the primary to every other worker. */
export type StoreChange =
  | {
      t: 'set';
      entry: WireEntry;
      primary: string;
      vary: string[];
      /** A snapshot entry for the new worker `to` (the primary routes it there only). */
      snapshot?: boolean;
      to?: number;
    }
  | { t: 'update'; entry: WireEntry }
  | { t: 'delete'; key: string }
  | { t: 'invalidate'; patterns: string[] };

/** Worker → primary. */
export type ToPrimary =
  | StoreChange
  | { t: 'lease'; id: number; key: string }
  | { t: 'release'; key: string }
  | { t: 'invalidate-all'; id: number; patterns: string[] }
  | { t: 'invalidated'; id: number; removed: number }
  | { t: 'metrics'; id: number }
  | { t: 'metrics-json'; id: number; json: unknown[] }
  | { t: 'snapshot-end'; to: number }
  | { t: 'hello' }
  | { t: 'listening'; url: string };

/** Primary → worker. */
export type ToWorker =
  | StoreChange
  | { t: 'lease'; id: number; r: 'lead' | 'done' }
  /** Another worker invalidated: apply, then acknowledge with the count removed here. */
  | { t: 'invalidate-ack'; id: number; patterns: string[] }
  | { t: 'invalidated'; id: number; removed: number }
  | { t: 'metrics'; id: number; text: string; contentType: string }
  | { t: 'metrics-json'; id: number }
  /** Send your memory and disk entries (as snapshot `set`s) for a new worker, then snapshot-end. */
  | { t: 'snapshot'; to: number }
  | { t: 'snapshot-end' }
  | { t: 'shutdown' };
