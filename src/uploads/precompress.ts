/**
 * Background precompression: after an upload of a compressible type, store Brotli (quality 11)
 * and gzip (level 9) variants at `encodedVariantKey(key, coding)` so that serving never
 * compresses static content per request. Each variant records `source-etag`; serving uses a
 * variant only while that equals the source's current ETag, so a variant left over from an
 * earlier version of the key is never served (a new upload replaces it).
 *
 * Bounded: `concurrency` jobs at once (q11 is CPU-heavy), at most `maxQueued` waiting, and
 * sources above `maxSourceBytes` skipped. Streams end to end: no object is held in memory.
 * A variant that is not smaller than its source is deleted, as serving it would only cost.
 */
import { constants, createBrotliCompress, createGzip } from 'node:zlib';
import { isCompressible } from '../http/encoding.js';
import type { Logger } from '../logger.js';
import { encodedVariantKey } from '../storage/keys.js';
import type { ObjectMeta, StorageDriver } from '../storage/types.js';

export type Coding = 'br' | 'gzip';
export const CODINGS: readonly Coding[] = ['br', 'gzip'];

export interface PrecompressOptions {
  concurrency: number;
  maxSourceBytes: number;
  maxQueued: number;
}

export interface PrecompressResult {
  key: string;
  coding: Coding;
  outcome: 'stored' | 'not-smaller' | 'source-changed' | 'failed';
  size?: number;
}

function compressor(coding: Coding, sizeHint: number) {
  return coding === 'br'
    ? createBrotliCompress({
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 11,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
          [constants.BROTLI_PARAM_SIZE_HINT]: sizeHint,
        },
      })
    : createGzip({ level: 9 });
}

/** True for objects worth precompressing (not already encoded, compressible, not empty). */
export function wantsPrecompression(meta: ObjectMeta, maxSourceBytes: number): boolean {
  return (
    meta.contentEncoding === undefined &&
    meta.size > 0 &&
    meta.size <= maxSourceBytes &&
    isCompressible(meta.contentType)
  );
}

export class Precompressor {
  readonly #storage: StorageDriver;
  readonly #log: Logger;
  readonly #options: PrecompressOptions;
  readonly #queue: ObjectMeta[] = [];
  #running = 0;
  #idle: Array<() => void> = [];
  #closed = false;
  /** Every finished variant job, for metrics and tests. */
  onResult: ((r: PrecompressResult) => void) | undefined;

  constructor(storage: StorageDriver, logger: Logger, options: PrecompressOptions) {
    this.#storage = storage;
    this.#log = logger.child({ module: 'precompress' });
    this.#options = options;
  }

  /** Queues variants for a freshly stored object; false when it was not queued. */
  schedule(meta: ObjectMeta): boolean {
    if (this.#closed || !wantsPrecompression(meta, this.#options.maxSourceBytes)) return false;
    if (this.#queue.length >= this.#options.maxQueued) {
      this.#log.warn({ key: meta.key }, 'precompression queue full; variant skipped');
      return false;
    }
    this.#queue.push(meta);
    this.#pump();
    return true;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops taking work, drops the queue and waits for running jobs. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    await this.idle();
  }

  #pump(): void {
    while (this.#running < this.#options.concurrency && this.#queue.length > 0) {
      const meta = this.#queue.shift()!;
      this.#running++;
      void this.#run(meta).finally(() => {
        this.#running--;
        this.#pump();
        if (this.#running === 0 && this.#queue.length === 0) for (const r of this.#idle.splice(0)) r();
      });
    }
  }

  async #run(source: ObjectMeta): Promise<void> {
    for (const coding of CODINGS) {
      if (this.#closed) return;
      const result = await this.#variant(source, coding);
      this.onResult?.(result);
      if (result.outcome === 'source-changed') return;
    }
  }

  async #variant(source: ObjectMeta, coding: Coding): Promise<PrecompressResult> {
    const key = encodedVariantKey(source.key, coding);
    try {
      // The object may have been replaced since the upload; then its own upload schedules it.
      const got = await this.#storage.get(source.key);
      if (!got || got.meta.etag !== source.etag) {
        got?.body.destroy();
        return { key, coding, outcome: 'source-changed' };
      }
      const z = compressor(coding, source.size);
      got.body.on('error', (err) => z.destroy(err));
      const stored = await this.#storage.put(key, got.body.pipe(z), {
        contentType: source.contentType,
        contentEncoding: coding,
        metadata: { 'source-etag': source.etag },
      });
      if (stored.size >= source.size) {
        await this.#storage.delete(key);
        return { key, coding, outcome: 'not-smaller', size: stored.size };
      }
      this.#log.debug({ key: source.key, coding, size: stored.size, source: source.size }, 'variant stored');
      return { key, coding, outcome: 'stored', size: stored.size };
    } catch (err) {
      this.#log.warn({ err, key: source.key, coding }, 'precompression failed; serving uses the source');
      return { key, coding, outcome: 'failed' };
    }
  }
}
