/**
 * Resumable uploads for the fs driver (ResumableStorage, ./types.ts), in S3's multipart model:
 * the origin receives each part (there is no store to presign for) and keeps it outside the
 * key space until completion.
 *
 * Layout under `<dataDir>/multipart/<uploadId>/`:
 *   upload.json           {v, key, contentType, metadata, created}
 *   <n>-<etag>.part       part n, written in tmp/ and renamed in, so a part is whole or absent;
 *                         the ETag (from the part's SHA-256) is in the name, so a part sent
 *                         again replaces the old one with one rename and one unlink
 * Completion renames the folder to `<uploadId>.completing` first: that rename is the lock (a
 * second completion, a late part or an abort finds no upload), then the parts are checked,
 * streamed into one object by the driver's own put (temp file + rename: the object appears
 * whole or not at all), and the folder is removed. A refused completion removes the folder;
 * a storage failure renames it back, so the client can try again.
 * The folder's mtime is the upload's last activity; `storage cleanup` removes folders idle
 * longer than its threshold (./cleanup.ts).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isCodedError, MultipartBadPart } from '../errors.js';
import { UploadMeter } from './meter.js';
import { matchParts } from './parts.js';
import { abortError } from './s3-errors.js';
import { throughTempFile } from './temp-file.js';
import type { CompletionChecks, ObjectMeta, PutOptions, ResumableStorage, StoredPart } from './types.js';

interface UploadFile {
  v: 1;
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  created: number;
}

const ID_RX = /^[0-9a-f]{32}$/;
const PART_RX = /^(\d{1,5})-([0-9a-f]{32})\.part$/;
export const MULTIPART_DIR = 'multipart';
/** Bytes of the upload's start handed to the type check. */
const HEAD_BYTES = 4100;

type Put = (key: string, body: Readable, options: PutOptions) => Promise<ObjectMeta>;

export class FsResumable implements ResumableStorage {
  readonly #root: string;
  readonly #tmp: string;
  readonly #put: Put;

  constructor(dataDir: string, put: Put) {
    this.#root = join(dataDir, MULTIPART_DIR);
    this.#tmp = join(dataDir, 'tmp');
    this.#put = put;
  }

  /** The upload's folder when `uploadId` is well formed and the upload is for `key`. */
  async #open(
    key: string,
    uploadId: string,
    suffix = '',
  ): Promise<{ dir: string; upload: UploadFile } | undefined> {
    // The id becomes a path segment: only our own 32 hex digits are accepted.
    if (!ID_RX.test(uploadId)) return undefined;
    const dir = join(this.#root, uploadId + suffix);
    let upload: UploadFile;
    try {
      upload = JSON.parse(await readFile(join(dir, 'upload.json'), 'utf8')) as UploadFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
      throw err;
    }
    return upload.key === key ? { dir, upload } : undefined;
  }

  async create(
    key: string,
    options: { contentType: string; metadata: Record<string, string> },
  ): Promise<string> {
    const uploadId = randomBytes(16).toString('hex');
    const dir = join(this.#root, uploadId);
    await mkdir(dir, { recursive: true });
    const upload: UploadFile = { v: 1, key, ...options, created: Date.now() };
    await writeFile(join(dir, 'upload.json'), JSON.stringify(upload), { flag: 'wx' });
    return uploadId;
  }

  async putPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    options: { maxBytes: number; signal?: AbortSignal | undefined },
  ): Promise<StoredPart | undefined> {
    const found = await this.#open(key, uploadId);
    if (!found) return undefined;
    await mkdir(this.#tmp, { recursive: true });
    // A body that failed or was cut while we looked: its events are past, piping would wait forever.
    if (body.errored || (body.destroyed && !body.readableEnded))
      throw options.signal?.aborted
        ? abortError(options.signal)
        : (body.errored ?? abortError(options.signal));
    const meter = new UploadMeter({ maxBytes: options.maxBytes });
    try {
      return await throughTempFile(this.#tmp, body, meter, options.signal, async (tmpPath) => {
        const fh = await open(tmpPath, 'r');
        await fh.sync().finally(() => fh.close());
        const etag = (meter.sha256 ?? '').slice(0, 32);
        const name = `${partNumber}-${etag}.part`;
        try {
          await rename(tmpPath, join(found.dir, name));
        } catch (err) {
          // Completed or aborted while this part was on its way (the temp file goes too).
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            await rm(tmpPath, { force: true });
            return undefined;
          }
          throw err;
        }
        // The part sent before under this number (other bytes, other name) goes.
        for (const other of await readdir(found.dir))
          if (other !== name && PART_RX.exec(other)?.[1] === String(partNumber))
            await rm(join(found.dir, other), { force: true });
        return { partNumber, size: meter.received, etag: `"${etag}"`, lastModified: new Date() };
      });
    } catch (err) {
      throw options.signal?.aborted ? abortError(options.signal) : (meter.failure ?? err);
    }
  }

  async #parts(dir: string): Promise<Array<StoredPart & { file: string }>> {
    const byNumber = new Map<number, StoredPart & { file: string }>();
    for (const name of await readdir(dir)) {
      const m = PART_RX.exec(name);
      if (!m) continue;
      const info = await stat(join(dir, name)).catch(() => undefined);
      if (!info) continue; // replaced while we listed
      const part = {
        partNumber: Number(m[1]),
        size: info.size,
        etag: `"${m[2]}"`,
        lastModified: new Date(Math.floor(info.mtimeMs / 1000) * 1000),
        file: join(dir, name),
      };
      // Two files for one number only after a crash between rename and unlink: the newer won.
      const seen = byNumber.get(part.partNumber);
      if (!seen || seen.lastModified <= part.lastModified) byNumber.set(part.partNumber, part);
    }
    return [...byNumber.values()].sort((a, b) => a.partNumber - b.partNumber);
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[] | undefined> {
    const found = await this.#open(key, uploadId);
    if (!found) return undefined;
    return (await this.#parts(found.dir)).map(({ file: _file, ...part }) => part);
  }

  async complete(
    key: string,
    uploadId: string,
    given: ReadonlyArray<{ partNumber: number; etag: string }>,
    checks: CompletionChecks,
  ): Promise<ObjectMeta | undefined> {
    if (!(await this.#open(key, uploadId))) return undefined;
    const dir = join(this.#root, uploadId);
    const locked = `${dir}.completing`;
    try {
      await rename(dir, locked);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') return undefined;
      throw err;
    }
    const found = await this.#open(key, uploadId, '.completing');
    if (!found) return undefined;
    let parts: Array<StoredPart & { file: string }>;
    let contentType: string;
    try {
      const stored = await this.#parts(locked);
      const files = new Map(stored.map((p) => [p.partNumber, p.file]));
      parts = matchParts(stored, given).map((p) => ({ ...p, file: files.get(p.partNumber)! }));
      checks.size(parts.reduce((n, p) => n + p.size, 0));
      contentType = await checks.type(await readHead(parts), found.upload.contentType);
    } catch (err) {
      // A bad part list is the client's to fix (the parts stay); a refused size or type ends it.
      if (isCodedError(err) && err.code === MultipartBadPart.code) await rename(locked, dir);
      else await rm(locked, { recursive: true, force: true });
      throw err;
    }
    let meta: ObjectMeta;
    try {
      meta = await this.#put(key, concat(parts.map((p) => p.file)), {
        contentType,
        metadata: found.upload.metadata,
      });
    } catch (err) {
      await rename(locked, dir).catch(() => {});
      throw err;
    }
    await rm(locked, { recursive: true, force: true });
    return meta;
  }

  async abort(key: string, uploadId: string): Promise<boolean> {
    const found = await this.#open(key, uploadId);
    if (!found) return false;
    await rm(found.dir, { recursive: true, force: true });
    return true;
  }
}

/** The first HEAD_BYTES of the upload, across parts when the first is tiny. */
async function readHead(parts: ReadonlyArray<{ file: string; size: number }>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let want = HEAD_BYTES;
  for (const p of parts) {
    if (want <= 0) break;
    const n = Math.min(want, p.size);
    const buf = Buffer.alloc(n);
    const fh = await open(p.file, 'r');
    try {
      await fh.read(buf, 0, n, 0);
    } finally {
      await fh.close();
    }
    chunks.push(buf);
    want -= n;
  }
  return Buffer.concat(chunks);
}

/**
 * The part files one after another as one stream (read lazily, one file open at a time). A
 * generator rather than one pipeline per part into a shared PassThrough: each such pipeline
 * left its listeners on the PassThrough (MaxListenersExceededWarning past 10 parts).
 */
function concat(files: readonly string[]): Readable {
  return Readable.from(
    (async function* () {
      for (const f of files) yield* createReadStream(f, { highWaterMark: 1024 * 1024 });
    })(),
    { objectMode: false, highWaterMark: 1024 * 1024 },
  );
}
