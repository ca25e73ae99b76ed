/**
 * The file discipline the edge's logs share (the CloudFront access logs,
 * src/edge/access-log/writer.ts, and the revalidation log, src/ttl/revalidations.ts): files named
 * `<prefix><distribution>.YYYY-MM-DD-HH.<unique><suffix>`, each holding lines of one UTC hour,
 * published (renamed from `.partial`) when a line of another hour arrives, when the file has been
 * open `rotateSeconds`, or on close; batches written on a timer, one after another, never on the
 * request path. A subclass says what a batch is, how a file is opened, appended and ended.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface HourlyFileOptions {
  dir: string;
  prefix: string;
  distributionId: string;
  flushIntervalMs: number;
  rotateSeconds: number;
  onError?: (err: Error) => void;
}

export interface HourlyFile {
  /** The UTC hour of its lines, `YYYY-MM-DD-HH`. */
  hour: string;
  openedAt: number;
  partial: string;
  final: string;
}

const HOUR_MS = 3_600_000;

/** The file-name hour (`YYYY-MM-DD-HH`, UTC) of a time in ms since the epoch. */
export function fileHour(ms: number): string {
  return new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString().slice(0, 13).replace('T', '-');
}

export abstract class HourlyFiles<F extends HourlyFile, B> {
  protected readonly options: HourlyFileOptions;
  readonly #suffix: string;
  #file: F | undefined;
  readonly #timer: NodeJS.Timeout;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: HourlyFileOptions, suffix: string) {
    this.options = options;
    this.#suffix = suffix;
    mkdirSync(dirname(join(options.dir, `${options.prefix}x`)), { recursive: true });
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.#timer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** What was written since the last flush, handed over (the writer starts a new batch). */
  protected abstract takeBatch(): B;
  /** Writes a batch: each hour's lines into `await this.fileFor(hour, now)`. */
  protected abstract writeBatch(batch: B, now: number): Promise<void>;
  /** A new file (not yet on disk, or opened as a stream) at `partial`. */
  protected abstract openFile(file: HourlyFile): F;
  /** Everything appended is on disk in `partial` (the file is renamed next). */
  protected abstract endFile(file: F): Promise<void>;

  /** Writes the batch (serialised with earlier flushes); resolves when it is written. */
  flush(): Promise<void> {
    const batch = this.takeBatch();
    this.#chain = this.#chain
      .then(async () => {
        const now = Date.now();
        if (this.#file && now - this.#file.openedAt >= this.options.rotateSeconds * 1000)
          await this.#publish();
        await this.writeBatch(batch, now);
      })
      .catch((err: Error) => this.options.onError?.(err));
    return this.#chain;
  }

  /** Flushes, publishes the open file and stops the timer. */
  async close(): Promise<void> {
    if (this.#closed) return this.#chain;
    clearInterval(this.#timer);
    await this.flush();
    this.#closed = true;
    this.#chain = this.#chain.then(() => this.#publish()).catch((err: Error) => this.options.onError?.(err));
    return this.#chain;
  }

  /** The open file for `hour`: another hour's open file is published first. */
  protected async fileFor(hour: string, now: number): Promise<F> {
    if (this.#file && this.#file.hour !== hour) await this.#publish();
    if (!this.#file) {
      const o = this.options;
      const unique = randomBytes(6).toString('hex').toUpperCase();
      const final = join(o.dir, `${o.prefix}${o.distributionId}.${hour}.${unique}${this.#suffix}`);
      this.#file = this.openFile({ hour, openedAt: now, partial: `${final}.partial`, final });
    }
    return this.#file;
  }

  async #publish(): Promise<void> {
    const f = this.#file;
    if (!f) return;
    this.#file = undefined;
    await this.endFile(f);
    await rename(f.partial, f.final);
  }
}
