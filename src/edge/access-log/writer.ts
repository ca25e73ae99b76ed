/**
 * Writes access log lines the way CloudFront delivers them: gzipped files named
 * `<prefix><distribution>.YYYY-MM-DD-HH.<unique>.gz`, each starting with the `#Version` and
 * `#Fields` lines. A file holds the lines of one UTC hour and is closed at least every
 * `rotateSeconds`; it is written under a `.partial` name and renamed when complete, so a
 * reader listing `*.gz` never sees half a file.
 *
 * `write` only appends to an array: formatting happens on the response path, but disk and
 * gzip work happen on a timer, batched, so logging never waits on I/O. Each batch ends with a
 * zlib sync flush, so what was logged is on disk (in the `.partial` file) within one flush
 * interval, not only when the file is published: without it gzip holds up to its window of
 * input, and a quiet edge's log stayed at its 10-byte gzip header for the whole hour.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { constants, createGzip, type Gzip } from 'node:zlib';
import { LOG_HEADER } from '../../access-log/format.js';

export interface AccessLogOptions {
  dir: string;
  prefix: string;
  distributionId: string;
  flushIntervalMs: number;
  rotateSeconds: number;
  onError?: (err: Error) => void;
}

interface OpenFile {
  hour: string;
  openedAt: number;
  partial: string;
  final: string;
  gzip: Gzip;
  out: WriteStream;
}

/** Lines held before a flush is forced early, so a burst cannot grow the batch without bound. */
const MAX_BATCH = 10_000;

export class AccessLogWriter {
  readonly #o: AccessLogOptions;
  #batch: Array<{ at: number; line: string }> = [];
  #file: OpenFile | undefined;
  #timer: NodeJS.Timeout;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: AccessLogOptions) {
    this.#o = options;
    mkdirSync(dirname(join(options.dir, `${options.prefix}x`)), { recursive: true });
    this.#timer = setInterval(() => this.flush(), options.flushIntervalMs);
    this.#timer.unref();
  }

  write(at: number, line: string): void {
    if (this.#closed) return;
    this.#batch.push({ at, line });
    if (this.#batch.length >= MAX_BATCH) void this.flush();
  }

  /** Writes the batch (serialised with earlier flushes); resolves when it reached the gzip stream. */
  flush(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    this.#chain = this.#chain
      .then(() => this.#writeBatch(batch))
      .catch((err: Error) => this.#o.onError?.(err));
    return this.#chain;
  }

  /** Flushes, publishes the open file and stops the timer. */
  async close(): Promise<void> {
    if (this.#closed) return this.#chain;
    clearInterval(this.#timer);
    await this.flush();
    this.#closed = true;
    this.#chain = this.#chain.then(() => this.#publish()).catch((err: Error) => this.#o.onError?.(err));
    return this.#chain;
  }

  async #writeBatch(batch: Array<{ at: number; line: string }>): Promise<void> {
    const now = Date.now();
    if (this.#file && now - this.#file.openedAt >= this.#o.rotateSeconds * 1000) await this.#publish();
    let text = '';
    for (const { at, line } of batch) {
      const hour = new Date(at).toISOString().slice(0, 13).replace('T', '-');
      if (this.#file && this.#file.hour !== hour) {
        if (text) this.#file.gzip.write(text);
        text = '';
        await this.#publish();
      }
      if (!this.#file) this.#file = this.#open(hour, now);
      text += `${line}\n`;
    }
    if (text && this.#file) this.#file.gzip.write(text);
    if (batch.length > 0 && this.#file) await this.#sync(this.#file);
  }

  /** Pushes what gzip holds through to the file: a sync flush, then the write stream drained. */
  async #sync(f: OpenFile): Promise<void> {
    await new Promise<void>((resolve) => f.gzip.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    // fs writes are in order: once this empty one is done, the flushed bytes are in the file.
    await new Promise<void>((resolve, reject) =>
      f.out.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    );
  }

  #open(hour: string, now: number): OpenFile {
    const unique = randomBytes(6).toString('hex').toUpperCase();
    const final = join(this.#o.dir, `${this.#o.prefix}${this.#o.distributionId}.${hour}.${unique}.gz`);
    const partial = `${final}.partial`;
    const gzip = createGzip();
    const out = createWriteStream(partial);
    gzip.pipe(out);
    gzip.write(LOG_HEADER);
    return { hour, openedAt: now, partial, final, gzip, out };
  }

  async #publish(): Promise<void> {
    const f = this.#file;
    if (!f) return;
    this.#file = undefined;
    await new Promise<void>((resolve, reject) => {
      f.out.once('finish', resolve);
      f.out.once('error', reject);
      f.gzip.end();
    });
    await rename(f.partial, f.final);
  }
}
