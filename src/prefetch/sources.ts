/**
 * Where log files come from: a local directory (what the local edge writes) or any storage
 * driver (the S3 bucket CloudFront delivers to) through the StorageDriver `list`/`get` seam,
 * so fs and s3 drivers work alike. A file's hour comes from CloudFront's file name
 * (`<dist>.YYYY-MM-DD-HH.<unique>.gz`), else from its modification time.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { StorageDriver } from '../storage/types.js';

export interface LogFile {
  name: string;
  size: number;
  /** Start of the hour the file covers (ms since the epoch). */
  hour: number;
}

export interface LogSource {
  readonly description: string;
  list(): AsyncIterable<LogFile>;
  open(name: string): Promise<AsyncIterable<Buffer>>;
}

const HOUR_IN_NAME = /\.(\d{4})-(\d{2})-(\d{2})-(\d{2})\.[^/]*$/;

export function hourOf(name: string, modified: Date): number {
  const m = HOUR_IN_NAME.exec(name);
  if (m) {
    const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]));
    if (Number.isFinite(t)) return t;
  }
  const t = modified.getTime();
  return t - (t % 3_600_000);
}

/** The local edge's revalidation records (src/ttl/revalidations.ts) sit beside its access logs. */
export const REVALIDATION_LOG_SUFFIX = '.revalidations.jsonl';

/** Files still being written (`.partial`, as the local edge names them) and dotfiles are not logs yet. */
function isPublished(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return !base.startsWith('.') && !base.endsWith('.partial') && !base.endsWith('.tmp');
}

/** An access log file: published, and not one of the revalidation records. */
export function isLogName(name: string): boolean {
  return isPublished(name) && !name.endsWith(REVALIDATION_LOG_SUFFIX);
}

/** A published revalidation record file. */
export function isRevalidationLogName(name: string): boolean {
  return isPublished(name) && name.endsWith(REVALIDATION_LOG_SUFFIX);
}

export type LogNameFilter = (name: string) => boolean;

export class DirSource implements LogSource {
  readonly description: string;
  readonly #root: string;
  readonly #prefix: string;
  readonly #accept: LogNameFilter;

  /** `accept` picks the files listed: access logs unless told otherwise. */
  constructor(root: string, prefix: string, accept: LogNameFilter = isLogName) {
    this.#root = root;
    this.#prefix = prefix;
    this.#accept = accept;
    this.description = `directory ${join(root, prefix)}`;
  }

  async *list(): AsyncIterable<LogFile> {
    let entries: string[];
    try {
      entries = (await readdir(this.#root, { recursive: true })) as string[];
    } catch (err) {
      // No directory yet: the edge has not logged anything. Not an error for a worker.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const names = entries
      .map((e) => e.split(sep).join('/'))
      .filter((n) => n.startsWith(this.#prefix) && this.#accept(n));
    names.sort();
    for (const name of names) {
      const s = await stat(join(this.#root, name)).catch(() => undefined);
      if (!s?.isFile()) continue;
      yield { name, size: s.size, hour: hourOf(name, s.mtime) };
    }
  }

  async open(name: string): Promise<AsyncIterable<Buffer>> {
    // Names come from list(); refuse anything that would leave the root all the same.
    const full = join(this.#root, name);
    if (relative(this.#root, full).startsWith('..')) throw new Error(`log name outside the root: ${name}`);
    return createReadStream(full);
  }
}

export class StorageSource implements LogSource {
  readonly description: string;
  readonly #driver: StorageDriver;
  readonly #prefix: string;
  readonly #accept: LogNameFilter;

  constructor(driver: StorageDriver, prefix: string, accept: LogNameFilter = isLogName) {
    this.#driver = driver;
    this.#prefix = prefix;
    this.#accept = accept;
    this.description = `${driver.name} storage, prefix "${prefix}"`;
  }

  async *list(): AsyncIterable<LogFile> {
    for await (const meta of this.#driver.list(this.#prefix)) {
      if (!this.#accept(meta.key)) continue;
      yield { name: meta.key, size: meta.size, hour: hourOf(meta.key, meta.lastModified) };
    }
  }

  async open(name: string): Promise<AsyncIterable<Buffer>> {
    const obj = await this.#driver.get(name);
    if (!obj) throw new Error(`log file vanished: ${name}`);
    return obj.body;
  }
}
