/**
 * Filesystem driver, the embedded default.
 *
 * Layout under `dataDir`:
 *   objects/…   one file per object: the body, then a JSON metadata trailer, then the
 *               trailer's length as a 4-byte big-endian integer. Keeping metadata in the same
 *               file as the body means one rename publishes both, so a reader can never pair
 *               a new body with old metadata (a sidecar file would need two renames).
 *   tmp/        writes in progress; same volume, so the final rename is atomic.
 *   multipart/  resumable uploads in progress (./fs-multipart.ts).
 *
 * Key segments map to path segments with a suffix (`.o` for objects, `.d` for folders), so
 * the keys `a` and `a/b` can coexist as they do in S3, and no key can name a path outside
 * `objects/` (keys with `..`, absolute paths or backslashes are refused before any I/O).
 */
import { randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BadKey, StorageUnavailable } from '../errors.js';
import { cleanupFs } from './cleanup.js';
import {
  fromMemory,
  HotCache,
  type HotCacheOptions,
  type HotEntry,
  identityOf,
  MemoryObject,
  sameFile,
} from './fs-hot.js';
import { FsResumable } from './fs-multipart.js';
import { keyProblem } from './keys.js';
import { meteredMeta, UploadMeter } from './meter.js';
import { abortError } from './s3-errors.js';
import { throughTempFile } from './temp-file.js';
import type {
  ByteRange,
  Leftover,
  ListOptions,
  ObjectMeta,
  PutOptions,
  StorageDriver,
  StoredObject,
} from './types.js';

const TRAILER_LEN_BYTES = 4;
/** One read of this many tail bytes finds the trailer (JSON, usually a few hundred bytes). */
const TAIL_BYTES = 4096;
/** Objects up to this size (with trailer) are read whole at `get`: one read instead of three. */
const INLINE_MAX_BYTES = 128 * 1024;
const MAX_SEGMENT_BYTES = 253; // NAME_MAX 255 minus the 2-byte suffix

interface Trailer {
  v: 1;
  contentType: string;
  contentEncoding?: string | undefined;
  etag: string;
  sha256: string;
  lastModified: number;
  metadata: Record<string, string>;
}

export interface FsDriverOptions {
  dataDir: string;
  /** Small objects' metadata and bytes in memory (./fs-hot.ts); absent or maxBytes 0 = off. */
  hotCache?: HotCacheOptions | undefined;
}

export class FsDriver implements StorageDriver {
  readonly name = 'fs' as const;
  readonly #objects: string;
  readonly #tmp: string;
  /** Capability: resumable uploads whose parts the origin receives. */
  readonly resumable: FsResumable;
  #ready: Promise<void> | undefined;
  readonly #hot: HotCache | undefined;

  constructor(readonly options: FsDriverOptions) {
    this.#objects = join(options.dataDir, 'objects');
    this.#tmp = join(options.dataDir, 'tmp');
    if (options.hotCache && options.hotCache.maxBytes > 0) this.#hot = new HotCache(options.hotCache);
    this.resumable = new FsResumable(options.dataDir, (key, body, o) => this.put(key, body, o));
  }

  #init(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.#objects, { recursive: true });
      await mkdir(this.#tmp, { recursive: true });
    })();
    return this.#ready;
  }

  #pathOf(key: string): string {
    const problem = keyProblem(key);
    if (problem) throw new BadKey(problem);
    const segments = key.split('/');
    for (const s of segments)
      if (Buffer.byteLength(s) > MAX_SEGMENT_BYTES)
        throw new BadKey(`path segment over ${MAX_SEGMENT_BYTES} bytes`);
    const last = segments.pop()!;
    return join(this.#objects, ...segments.map((s) => `${s}.d`), `${last}.o`);
  }

  /**
   * The hot cache's answer for `key`: an entry (present or absent) that is fresh or has just
   * been re-validated with one `stat`, or undefined when the file must be read.
   */
  async #cached(hot: HotCache, key: string): Promise<HotEntry | undefined> {
    const e = hot.lookup(key);
    if (!e) return undefined;
    const now = Date.now();
    if (hot.isFresh(e, now)) return e;
    const generation = hot.generation;
    let s: Stats | undefined;
    try {
      s = await stat(this.#pathOf(key));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return undefined; // the full read decides
      s = undefined;
    }
    const unchanged = e.kind === 'absent' ? s === undefined : s !== undefined && sameFile(e.file, s);
    if (!unchanged || generation !== hot.generation) return undefined;
    e.checkedAt = now;
    return e;
  }

  /** Caches what a read of `key` found, when the object is small enough. */
  #remember(
    hot: HotCache,
    key: string,
    t: { meta: ObjectMeta; whole?: Buffer | undefined; stat: Stats },
    checkedAt: number,
    generation: number,
  ): void {
    if (t.whole === undefined || t.meta.size > hot.options.objectMaxBytes) return;
    // An exact copy: `whole` may be a slice of a pooled or trailer-sized buffer.
    const bytes = Buffer.allocUnsafeSlow(t.whole.length);
    t.whole.copy(bytes);
    // Frozen: one meta object now answers many requests, so no caller may change it.
    Object.freeze(t.meta.metadata);
    Object.freeze(t.meta);
    hot.store(key, { kind: 'present', meta: t.meta, bytes, file: identityOf(t.stat), checkedAt }, generation);
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    const hot = this.#hot;
    let generation = 0;
    if (hot) {
      const e = await this.#cached(hot, key);
      if (e) return e.kind === 'absent' ? undefined : e.meta;
      generation = hot.generation;
    }
    const path = this.#pathOf(key);
    const checkedAt = Date.now();
    const fh = await openOrUndefined(path);
    if (!fh) {
      hot?.store(key, { kind: 'absent', checkedAt }, generation);
      return undefined;
    }
    try {
      // With the cache on, a small object is read whole in the same read, to be cached.
      const t = await readTrailer(fh, key, hot ? hot.options.objectMaxBytes + TAIL_BYTES : 0);
      if (hot) this.#remember(hot, key, t, checkedAt, generation);
      return t.meta;
    } finally {
      await fh.close();
    }
  }

  get(key: string, options: { range?: ByteRange | undefined } = {}): Promise<StoredObject | undefined> {
    // A fresh hot-cache entry answers without the async read path's promises.
    const hot = this.#hot;
    const e = hot?.lookup(key);
    if (e && hot!.isFresh(e, Date.now()))
      return Promise.resolve(e.kind === 'absent' ? undefined : fromMemory(e.meta, e.bytes, options.range));
    return this.#read(key, options);
  }

  async #read(key: string, options: { range?: ByteRange | undefined }): Promise<StoredObject | undefined> {
    const hot = this.#hot;
    let generation = 0;
    if (hot) {
      const e = await this.#cached(hot, key);
      if (e) return e.kind === 'absent' ? undefined : fromMemory(e.meta, e.bytes, options.range);
      generation = hot.generation;
    }
    const path = this.#pathOf(key);
    const checkedAt = Date.now();
    const fh = await openOrUndefined(path);
    if (!fh) {
      hot?.store(key, { kind: 'absent', checkedAt }, generation);
      return undefined;
    }
    let meta: ObjectMeta;
    let whole: Buffer | undefined;
    try {
      const inline = hot
        ? Math.max(INLINE_MAX_BYTES, hot.options.objectMaxBytes + TAIL_BYTES)
        : INLINE_MAX_BYTES;
      const t = await readTrailer(fh, key, inline);
      if (hot) this.#remember(hot, key, t, checkedAt, generation);
      ({ meta, whole } = t);
    } catch (err) {
      await fh.close();
      throw err;
    }
    const range = options.range;
    const start = range?.start ?? 0;
    const end = range ? Math.min(range.end, meta.size - 1) : meta.size - 1;
    if (whole !== undefined || meta.size === 0 || end < start) {
      // Small objects were read whole with the trailer: one read, no stream on the file.
      await fh.close();
      // Handed over as bytes (./fs-hot.ts MemoryObject): the content route sends the Buffer.
      const part = whole !== undefined && end >= start ? whole.subarray(start, end + 1) : Buffer.alloc(0);
      return new MemoryObject(meta, part, range ? { start, end } : undefined);
    }
    // The stream owns the handle from here; a concurrent overwrite renames a new file over
    // the path, and this reader keeps reading the old inode to the end.
    const body = createReadStream('', { fd: fh, start, end, autoClose: true, highWaterMark: 64 * 1024 });
    return { meta, body, range: range ? { start, end } : undefined };
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<ObjectMeta> {
    const finalPath = this.#pathOf(key);
    await this.#init();
    // Size limit and checksum: the shared meter (./meter.ts) fails the write before the rename.
    const meter = new UploadMeter(options);
    try {
      return await throughTempFile(this.#tmp, body, meter, options.signal, async (tmpPath) => {
        const meta = meteredMeta(key, meter, options);
        await appendTrailerAndSync(tmpPath, meta);
        const dir = join(finalPath, '..');
        await mkdir(dir, { recursive: true });
        await rename(tmpPath, finalPath);
        this.#hot?.invalidate(key);
        await syncDir(dir);
        return meta;
      });
    } catch (err) {
      throw options.signal?.aborted ? abortError(options.signal) : translate(err);
    }
  }

  async delete(key: string): Promise<boolean> {
    const path = this.#pathOf(key);
    try {
      await rm(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw translate(err);
    } finally {
      this.#hot?.invalidate(key);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) return;
    for await (const key of this.#walk(this.#objects, '', prefix)) {
      const meta = await this.head(key).catch(() => undefined);
      if (!meta) continue; // deleted between readdir and open
      yield meta;
      if (--remaining <= 0) return;
    }
  }

  async *#walk(dir: string, keyPrefix: string, want: string): AsyncGenerator<string> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw translate(err);
    }
    const names = entries
      .filter((e) => e.endsWith('.o') || e.endsWith('.d'))
      .map((e) => ({ entry: e, name: e.slice(0, -2), dir: e.endsWith('.d') }))
      .map((e) => ({ ...e, sortKey: e.dir ? `${keyPrefix}${e.name}/` : `${keyPrefix}${e.name}` }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const e of names) {
      const key = e.sortKey;
      // Descend only where the wanted prefix can still match.
      if (!(key.startsWith(want) || want.startsWith(key))) continue;
      if (e.dir) yield* this.#walk(join(dir, e.entry), key, want);
      else if (key.startsWith(want)) yield key;
    }
  }

  async check(): Promise<void> {
    await this.#init();
    const probe = join(this.#tmp, `.probe-${randomUUID()}`);
    try {
      const fh = await open(probe, 'wx');
      await fh.close();
      await rm(probe, { force: true });
    } catch (err) {
      throw translate(err);
    }
  }

  async close(): Promise<void> {}

  /** Capability: a crashed write leaves its temp file in tmp/. */
  readonly cleanupIncomplete = (
    cutoff: number,
    dryRun: boolean,
    onFound?: (l: Leftover) => void,
  ): Promise<Leftover[]> => cleanupFs(this.options.dataDir, cutoff, dryRun, onFound);
}

async function openOrUndefined(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a prefix of the path is an object, so the key cannot exist.
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw translate(err);
  }
}

/**
 * Reads the metadata trailer with one positioned read of the file's tail (the trailer is
 * almost always under TAIL_BYTES). Files up to `inlineUpTo` bytes are read whole in that same
 * read and their body returned, which saves the stream's own read and close on hot small objects.
 */
async function readTrailer(
  fh: FileHandle,
  key: string,
  inlineUpTo = 0,
): Promise<{ meta: ObjectMeta; whole?: Buffer | undefined; stat: Stats }> {
  const st = await fh.stat();
  const fileSize = st.size;
  if (fileSize < TRAILER_LEN_BYTES) throw new StorageUnavailable(`corrupt object file for ${key}`);
  const n = fileSize <= inlineUpTo ? fileSize : Math.min(fileSize, TAIL_BYTES);
  const tail = Buffer.allocUnsafe(n);
  await fh.read(tail, 0, n, fileSize - n);
  const len = tail.readUInt32BE(n - TRAILER_LEN_BYTES);
  const bodySize = fileSize - TRAILER_LEN_BYTES - len;
  if (bodySize < 0) throw new StorageUnavailable(`corrupt object file for ${key}`);
  let json: Buffer;
  if (len + TRAILER_LEN_BYTES <= n) {
    json = tail.subarray(n - TRAILER_LEN_BYTES - len, n - TRAILER_LEN_BYTES);
  } else {
    json = Buffer.alloc(len);
    await fh.read(json, 0, len, bodySize);
  }
  const t = JSON.parse(json.toString('utf8')) as Trailer;
  return {
    meta: {
      key,
      size: bodySize,
      contentType: t.contentType,
      contentEncoding: t.contentEncoding,
      etag: t.etag,
      sha256: t.sha256,
      lastModified: new Date(t.lastModified),
      metadata: t.metadata,
    },
    whole: n === fileSize ? tail.subarray(0, bodySize) : undefined,
    stat: st,
  };
}

async function appendTrailerAndSync(path: string, meta: ObjectMeta): Promise<void> {
  const trailer: Trailer = {
    v: 1,
    contentType: meta.contentType,
    contentEncoding: meta.contentEncoding,
    etag: meta.etag,
    sha256: meta.sha256 ?? '',
    lastModified: meta.lastModified.getTime(),
    metadata: meta.metadata,
  };
  const json = Buffer.from(JSON.stringify(trailer), 'utf8');
  const len = Buffer.alloc(TRAILER_LEN_BYTES);
  len.writeUInt32BE(json.length, 0);
  const fh = await open(path, 'a');
  try {
    await fh.write(Buffer.concat([json, len]));
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync the folder so the rename itself survives a power loss, not just the file's bytes. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function translate(err: unknown): Error {
  if (err instanceof Error && typeof (err as { statusCode?: unknown }).statusCode === 'number') return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (
    code === 'ENOSPC' ||
    code === 'EDQUOT' ||
    code === 'EROFS' ||
    code === 'EACCES' ||
    code === 'EIO' ||
    code === 'EMFILE'
  ) {
    return new StorageUnavailable(code, { cause: err });
  }
  if ((err as Error)?.name === 'AbortError') return err as Error;
  return err instanceof Error ? err : new Error(String(err));
}
