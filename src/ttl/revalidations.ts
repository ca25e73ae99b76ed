/**
 * The local edge's revalidation log: one JSON line per revalidation of a stale copy, next to
 * its CloudFront access logs. CloudFront's log format cannot say whether an object changed —
 * a 304 is logged RefreshHit, but a 200 to a revalidation is a Miss exactly like the fill of an
 * evicted or never-seen object — and that format must stay AWS's field list, so the evidence
 * goes to a file of its own (docs/ttl.md, "The revalidation log").
 *
 * Files sit in the access logs' directory and prefix, named like them with another ending —
 * `<prefix><distribution>.YYYY-MM-DD-HH.<unique>.revalidations.jsonl` — and are rotated with
 * them (same hour boundaries, same `edge.logs.rotateSeconds`, written under `.partial` and
 * renamed when complete). Log readers (src/prefetch/sources.ts) skip that ending. Lines are
 * batched in memory and appended on a timer: never I/O on the response path.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { appendFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { RevalidationEvent } from '../edge/metrics.js';
import { REVALIDATION_LOG_SUFFIX } from '../prefetch/sources.js';

export { REVALIDATION_LOG_SUFFIX };

/** One line of the file (docs/ttl.md lists the fields). */
export interface RevalidationLine {
  /** ISO 8601 completion time (UTC, milliseconds). */
  time: string;
  path: string;
  /** The query string forwarded to the origin (the part of it in the cache key), '' when none. */
  query: string;
  class: string;
  outcome: RevalidationEvent['outcome'];
  status: number;
  /** Seconds the stale copy had been held since it was fetched or last validated. */
  age: number;
  ttl: number;
  requestId: string;
}

export function toLine(e: RevalidationEvent): RevalidationLine {
  return {
    time: new Date(e.at).toISOString(),
    path: e.path,
    query: e.query,
    class: e.cls,
    outcome: e.outcome,
    status: e.status,
    age: Math.round(e.age * 1000) / 1000,
    ttl: e.ttl,
    requestId: e.requestId,
  };
}

export interface RevalidationLogOptions {
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
}

export class RevalidationLogWriter {
  readonly #o: RevalidationLogOptions;
  #batch: RevalidationEvent[] = [];
  #file: OpenFile | undefined;
  readonly #timer: NodeJS.Timeout;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: RevalidationLogOptions) {
    this.#o = options;
    mkdirSync(dirname(join(options.dir, `${options.prefix}x`)), { recursive: true });
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.#timer.unref();
  }

  write(e: RevalidationEvent): void {
    if (this.#closed) return;
    this.#batch.push(e);
    if (this.#batch.length >= 10_000) void this.flush();
  }

  flush(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    this.#chain = this.#chain
      .then(() => this.#writeBatch(batch))
      .catch((err: Error) => this.#o.onError?.(err));
    return this.#chain;
  }

  async close(): Promise<void> {
    if (this.#closed) return this.#chain;
    clearInterval(this.#timer);
    await this.flush();
    this.#closed = true;
    this.#chain = this.#chain.then(() => this.#publish()).catch((err: Error) => this.#o.onError?.(err));
    return this.#chain;
  }

  async #writeBatch(batch: RevalidationEvent[]): Promise<void> {
    const now = Date.now();
    if (this.#file && now - this.#file.openedAt >= this.#o.rotateSeconds * 1000) await this.#publish();
    let text = '';
    for (const e of batch) {
      const hour = new Date(e.at).toISOString().slice(0, 13).replace('T', '-');
      if (this.#file && this.#file.hour !== hour) {
        if (text) await appendFile(this.#file.partial, text);
        text = '';
        await this.#publish();
      }
      if (!this.#file) this.#file = this.#open(hour, now);
      text += `${JSON.stringify(toLine(e))}\n`;
    }
    if (text && this.#file) await appendFile(this.#file.partial, text);
  }

  #open(hour: string, now: number): OpenFile {
    const unique = randomBytes(6).toString('hex').toUpperCase();
    const final = join(
      this.#o.dir,
      `${this.#o.prefix}${this.#o.distributionId}.${hour}.${unique}${REVALIDATION_LOG_SUFFIX}`,
    );
    return { hour, openedAt: now, partial: `${final}.partial`, final };
  }

  async #publish(): Promise<void> {
    const f = this.#file;
    if (!f) return;
    this.#file = undefined;
    // Opened lazily on the first line: a file exists only once something was appended.
    await rename(f.partial, f.final);
  }
}

export interface RevalidationReadStats {
  files: number;
  lines: number;
  malformed: number;
  samples: Array<{ source: string; line: number; reason: string }>;
}

const OUTCOMES = new Set(['unchanged', 'changed', 'unknown']);

/** Reads one file's lines; a bad line is counted (and sampled), never thrown. */
export async function* readRevalidations(
  src: AsyncIterable<Buffer>,
  source: string,
  stats: RevalidationReadStats,
): AsyncGenerator<RevalidationLine & { at: number }> {
  stats.files++;
  let n = 0;
  const bad = (reason: string) => {
    stats.malformed++;
    if (stats.samples.length < 5) stats.samples.push({ source, line: n, reason });
  };
  for await (const text of createInterface({
    input: Readable.from(src),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    n++;
    if (text.trim() === '') continue;
    stats.lines++;
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      bad('invalid JSON');
      continue;
    }
    const r = o as Partial<RevalidationLine>;
    const at = typeof r.time === 'string' ? Date.parse(r.time) : Number.NaN;
    if (
      !Number.isFinite(at) ||
      typeof r.path !== 'string' ||
      !r.path.startsWith('/') ||
      typeof r.class !== 'string' ||
      typeof r.outcome !== 'string' ||
      !OUTCOMES.has(r.outcome) ||
      typeof r.age !== 'number' ||
      !Number.isFinite(r.age) ||
      r.age < 0
    ) {
      bad('not a revalidation record (time, path, class, outcome, age)');
      continue;
    }
    yield {
      time: r.time as string,
      at,
      path: r.path,
      query: typeof r.query === 'string' ? r.query : '',
      class: r.class,
      outcome: r.outcome as RevalidationLine['outcome'],
      status: typeof r.status === 'number' ? r.status : 0,
      age: r.age,
      ttl: typeof r.ttl === 'number' ? r.ttl : 0,
      requestId: typeof r.requestId === 'string' ? r.requestId : '',
    };
  }
}
