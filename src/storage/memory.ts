/**
 * In-memory driver, for tests and demos only: objects live in this process's heap and are
 * gone when it exits, and the whole store is bounded (`maxTotalBytes`, 64 MiB unless told),
 * so it is not a cache and not a production store. It is not reachable from config.
 *
 * It exists so the storage seam's contract (./types.ts) can be read and run without a server
 * or a disk: it passes the same conformance suite as fs and s3 (test/storage/conformance.ts).
 * It declares no capabilities: a put buffers its body and publishes it with one Map.set at
 * the end, so an unfinished write never outlives its put and there is nothing to clean up.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadKey, StorageUnavailable } from '../errors.js';
import { keyProblem } from './keys.js';
import { meteredMeta, UploadMeter } from './meter.js';
import { abortError } from './s3-errors.js';
import type { ByteRange, ListOptions, ObjectMeta, PutOptions, StorageDriver, StoredObject } from './types.js';

export interface MemoryDriverOptions {
  /** Bodies of all objects together, plus the puts in progress; beyond it puts fail with 503. */
  maxTotalBytes?: number | undefined;
}

interface Entry {
  meta: ObjectMeta;
  body: Buffer;
}

const copyMeta = (m: ObjectMeta): ObjectMeta => ({ ...m, metadata: { ...m.metadata } });

export class MemoryDriver implements StorageDriver {
  readonly name = 'memory' as const;
  readonly maxTotalBytes: number;
  readonly #objects = new Map<string, Entry>();
  /** Bytes held: stored bodies plus bodies still arriving. */
  #held = 0;

  constructor(options: MemoryDriverOptions = {}) {
    this.maxTotalBytes = options.maxTotalBytes ?? 64 * 1024 * 1024;
  }

  #check(key: string): string {
    const problem = keyProblem(key);
    if (problem) throw new BadKey(problem);
    return key;
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    const entry = this.#objects.get(this.#check(key));
    return entry && copyMeta(entry.meta);
  }

  async get(key: string, options: { range?: ByteRange | undefined } = {}): Promise<StoredObject | undefined> {
    const entry = this.#objects.get(this.#check(key));
    if (!entry) return undefined;
    const range = options.range;
    if (!range) return { meta: copyMeta(entry.meta), body: Readable.from([entry.body]) };
    // As the fs driver: the end is clamped to the object, and a range past the end is empty.
    const end = Math.min(range.end, entry.body.length - 1);
    const part = end >= range.start ? entry.body.subarray(range.start, end + 1) : Buffer.alloc(0);
    return { meta: copyMeta(entry.meta), body: Readable.from([part]), range: { start: range.start, end } };
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<ObjectMeta> {
    this.#check(key);
    const meter = new UploadMeter(options);
    const parts: Buffer[] = [];
    let taken = 0;
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (this.#held + chunk.length > this.maxTotalBytes) {
          cb(new StorageUnavailable(`memory driver full (${this.maxTotalBytes} bytes)`));
          return;
        }
        this.#held += chunk.length;
        taken += chunk.length;
        parts.push(chunk);
        cb();
      },
    });
    // As in the fs driver, `body` stays the caller's: piped, not pipelined.
    const onBodyError = (err: Error) => meter.destroy(err);
    body.once('error', onBodyError);
    body.pipe(meter);
    try {
      await pipeline(meter, sink, options.signal ? { signal: options.signal } : {});
    } catch (err) {
      body.unpipe(meter);
      this.#held -= taken;
      throw options.signal?.aborted ? abortError(options.signal) : err;
    } finally {
      body.off('error', onBodyError);
    }
    const meta = meteredMeta(key, meter, options);
    const old = this.#objects.get(key);
    if (old) this.#held -= old.body.length;
    this.#objects.set(key, { meta, body: Buffer.concat(parts, taken) });
    return copyMeta(meta);
  }

  async delete(key: string): Promise<boolean> {
    const entry = this.#objects.get(this.#check(key));
    if (!entry) return false;
    this.#objects.delete(key);
    this.#held -= entry.body.length;
    return true;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) return;
    // Key order as S3 lists it: by the keys' UTF-8 bytes.
    const keys = [...this.#objects.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const key of keys) {
      const entry = this.#objects.get(key);
      if (!entry) continue; // deleted while the caller consumed earlier entries
      yield copyMeta(entry.meta);
      if (--remaining <= 0) return;
    }
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {
    this.#objects.clear();
    this.#held = 0;
  }
}
