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
import { appendFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import {
  fileHour,
  type HourlyFile,
  type HourlyFileOptions,
  HourlyFiles,
} from '../access-log/hourly-files.js';
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

export type RevalidationLogOptions = HourlyFileOptions;

export class RevalidationLogWriter extends HourlyFiles<HourlyFile, RevalidationEvent[]> {
  #batch: RevalidationEvent[] = [];

  constructor(options: RevalidationLogOptions) {
    super(options, REVALIDATION_LOG_SUFFIX);
  }

  write(e: RevalidationEvent): void {
    if (this.closed) return;
    this.#batch.push(e);
    if (this.#batch.length >= 10_000) void this.flush();
  }

  protected takeBatch(): RevalidationEvent[] {
    const batch = this.#batch;
    this.#batch = [];
    return batch;
  }

  protected async writeBatch(batch: RevalidationEvent[], now: number): Promise<void> {
    let hour = '';
    let text = '';
    for (const e of batch) {
      const h = fileHour(e.at);
      if (h !== hour && text) {
        await appendFile((await this.fileFor(hour, now)).partial, text);
        text = '';
      }
      hour = h;
      text += `${JSON.stringify(toLine(e))}\n`;
    }
    // A file is created by its first append: one exists only once something was written.
    if (text) await appendFile((await this.fileFor(hour, now)).partial, text);
  }

  protected openFile(f: HourlyFile): HourlyFile {
    return f;
  }

  protected async endFile(): Promise<void> {}
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
