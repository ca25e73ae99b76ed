/**
 * The fs driver's hot-object cache, in the manner of nginx's `open_file_cache`: the metadata
 * and bytes of small objects (and the fact that a key is absent) kept in memory, so a hot 1 KiB
 * object costs no thread-pool call at all instead of five (open, fstat, read, close and the
 * stream's own bookkeeping).
 *
 * Correctness, which no response may notice:
 * - The origin's own writes go through the driver (`put`, which resumable completions use too,
 *   and `delete`), and the driver calls `invalidate` after the rename or unlink and before the
 *   write resolves: once an upload has been answered, every read sees the new object.
 * - A read that started before a write must not put the old object back: `generation` counts
 *   invalidations, a loader notes it before touching the file, and `store` refuses an entry
 *   loaded across an invalidation.
 * - Edits to the data directory by anything else (another process, a restore, a hand edit) are
 *   caught by re-validation: an entry is trusted for `validMs` after it was loaded or last
 *   checked, then one `stat` of the path compares inode, size, mtime and ctime (an absent key:
 *   still absent) before it is trusted again. So an external edit is served at most `validMs`
 *   late — nginx's `open_file_cache_valid`, with a default of 1 s instead of nginx's 60 s.
 */
import type { Stats } from 'node:fs';
import { Readable } from 'node:stream';
import { LruStore } from '../cache-store/lru.js';
import type { ByteRange, ObjectMeta, StoredObject } from './types.js';

export interface HotCacheOptions {
  /** Total bytes the cache may hold (bodies plus an estimate of each entry's overhead); 0 = off. */
  maxBytes: number;
  /** Objects with bodies larger than this are never cached. */
  objectMaxBytes: number;
  /** How long an entry is trusted before one `stat` re-validates it. */
  validMs: number;
}

/** What one entry costs beyond its body: the Map slot, the meta object, the stat fields. */
const ENTRY_OVERHEAD_BYTES = 512;

/** The file identity an entry was loaded from; a change in any of these is an external edit. */
export interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export type HotEntry =
  | { kind: 'present'; meta: ObjectMeta; bytes: Buffer; file: FileIdentity; checkedAt: number }
  | { kind: 'absent'; checkedAt: number };

export function identityOf(s: Stats): FileIdentity {
  return { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs };
}

export function sameFile(a: FileIdentity, s: Stats): boolean {
  return a.ino === s.ino && a.size === s.size && a.mtimeMs === s.mtimeMs && a.ctimeMs === s.ctimeMs;
}

export class HotCache {
  readonly options: HotCacheOptions;
  readonly #store: LruStore<HotEntry>;
  /** Invalidations so far; see `store`. */
  #generation = 0;

  constructor(options: HotCacheOptions) {
    this.options = options;
    this.#store = new LruStore<HotEntry>({ maxBytes: options.maxBytes });
  }

  get generation(): number {
    return this.#generation;
  }

  /** The entry for `key` (fresh or due for re-validation), or undefined. */
  lookup(key: string): HotEntry | undefined {
    return this.#store.get(key);
  }

  isFresh(e: HotEntry, now: number): boolean {
    return now - e.checkedAt < this.options.validMs;
  }

  /** Caches `entry` unless an invalidation happened since the loader noted `generation`. */
  store(key: string, entry: HotEntry, generation: number): void {
    if (generation !== this.#generation) return;
    const body = entry.kind === 'present' ? entry.bytes.length : 0;
    if (body > this.options.objectMaxBytes) return;
    this.#store.set(key, entry, body + ENTRY_OVERHEAD_BYTES + key.length * 2);
  }

  /** The origin changed `key` (put, delete): forget it, and refuse loads already under way. */
  invalidate(key: string): void {
    this.#generation++;
    this.#store.delete(key);
  }

  get bytes(): number {
    return this.#store.bytes;
  }
}

/**
 * A stored object served from memory. `bytes` is the exact range asked for; `body` is made only
 * when a caller asks for a stream (the content route sends `bytes` as it is).
 */
export class MemoryObject implements StoredObject {
  #body: Readable | undefined;
  constructor(
    readonly meta: ObjectMeta,
    readonly bytes: Buffer,
    readonly range: ByteRange | undefined,
  ) {}

  get body(): Readable {
    this.#body ??= Readable.from(this.bytes.length > 0 ? [this.bytes] : []);
    return this.#body;
  }
}

/** The object (or the asked range of it) from an in-memory copy of its whole body. */
export function fromMemory(meta: ObjectMeta, whole: Buffer, range: ByteRange | undefined): MemoryObject {
  if (!range) return new MemoryObject(meta, whole, undefined);
  const start = range.start;
  const end = Math.min(range.end, meta.size - 1);
  return new MemoryObject(meta, end >= start ? whole.subarray(start, end + 1) : Buffer.alloc(0), {
    start,
    end,
  });
}
