/**
 * Loads a request trace for the simulator into typed arrays (a 10-million-request trace costs
 * about 28 bytes a request plus one string per distinct key). Two inputs:
 * - `time id size` lines (the AdaptSize / webcachesim format), time in the trace's own unit;
 * - a CloudFront standard log (legacy or v2 JSON, gzip or plain), or a directory of them (as
 *   CloudFront delivers them, one file per distribution, hour and edge server): the client is
 *   IP + User-Agent, time in ms. Given the config, records are read as the worker reads them:
 *   its own (prefetch.userAgent) requests are dropped, the key is the worker's model key (path +
 *   the query the class keeps), a request the worker does not learn from (not GET/HEAD, or an
 *   uncacheable status) is replayed through the cache but marked in `learn`, and a 206/304's
 *   size is the object's (its last 200's), not the part or empty body logged. Without a
 *   config every record counts and is learned from, keyed by path + query.
 * `.xz` files are decompressed by the `xz` binary (xz is not in node:zlib).
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { classify } from '../classes.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { trafficOf } from './own-traffic.js';
import { newParseStats, type ParseStats, parseLog } from './parse.js';
import { modelKey } from './plan.js';
import { type AccessRecord, CACHEABLE } from './record.js';
import { isLogName } from './sources.js';

export interface Trace {
  n: number;
  times: Float64Array;
  /** Interned key index per request; `keys[id]` is the key. */
  ids: Int32Array;
  sizes: Float64Array;
  /** Interned client (session) index per request; all 0 for a trace without clients. */
  clients: Int32Array;
  keys: string[];
  /** Time units per second (1000 for logs; 1 for `time id size`, whose unit is unknown). */
  unitsPerSecond: number;
  format: 'trace' | 'cloudfront';
  parse?: ParseStats | undefined;
  /** Lines of a `time id size` trace that were not three fields. */
  malformed: number;
  /** Log records of the worker's own warming, dropped; 0 without a config. */
  skipped?: number;
  /** Distinct clients (IP + User-Agent); 1 for a trace without clients. */
  clientCount?: number;
  /**
   * Per request, 1 when the worker would learn from it (GET/HEAD with a cacheable status), 0
   * when the edge served it but the worker skips it; absent: every request is learned from.
   */
  learn?: Uint8Array | undefined;
  /**
   * Per request, the index of an earlier request whose answer the client waited for before
   * making it (a page's asset waits for the page), or −1; the request's time is then when it
   * would be made had that answer been immediate (a hit), and the simulator adds the origin
   * wait when it was not. The earlier request has no `after` itself. Absent (every read
   * trace): times are as observed, which already include the answers' delays.
   */
  after?: Int32Array | undefined;
}

export interface LoadOptions {
  onRead?: OnRead | undefined;
  /** Read log records as the worker with this config learns them (see the module header). */
  config?: Readonly<EdgewiseConfig> | undefined;
}

async function* gunzipped(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const out = new PassThrough();
  pipeline(Readable.from(src), createGunzip(), out, () => {});
  try {
    yield* out;
  } catch (err) {
    throw new TraceError(`corrupt gzip: ${(err as Error).message}`);
  }
}

/** A string that shares no storage with its source (see Builder.push). */
function own(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

class Builder {
  n = 0;
  times = new Float64Array(1024);
  ids = new Int32Array(1024);
  sizes = new Float64Array(1024);
  clients = new Int32Array(1024);
  learn = new Uint8Array(1024);
  keys: string[] = [];
  /** Per key, the size of its last full (200) response; -1 while none was seen. */
  keySize: number[] = [];
  #keyIndex = new Map<string, number>();
  #clientIndex = new Map<string, number>();

  get clientCount(): number {
    return this.#clientIndex.size;
  }

  /**
   * `full` false: the logged bytes are not the object's (a 206 part, a 304): the request is
   * stored as -(bytes + 1) and resolved to the key's full size in resolveSizes().
   */
  push(time: number, key: string, size: number, client: string, full = true, learn = true): void {
    if (this.n === this.times.length) this.#grow();
    let id = this.#keyIndex.get(key);
    if (id === undefined) {
      id = this.keys.length;
      // A copy: the parsed key is a slice of the line, itself a slice of the read chunk, and
      // V8 keeps the whole parent alive for it. Kept as is, the keys of a 10 M-line log held
      // most of its text (out of memory at a 1.5 GiB heap).
      key = own(key);
      this.keys.push(key);
      this.keySize.push(-1);
      this.#keyIndex.set(key, id);
    }
    if (full) this.keySize[id] = size;
    let c = this.#clientIndex.get(client);
    if (c === undefined) {
      c = this.#clientIndex.size;
      this.#clientIndex.set(own(client), c);
    }
    this.times[this.n] = time;
    this.ids[this.n] = id;
    this.sizes[this.n] = full ? size : -(size + 1);
    this.clients[this.n] = c;
    this.learn[this.n] = learn ? 1 : 0;
    this.n++;
  }

  resolveSizes(): void {
    for (let i = 0; i < this.n; i++) {
      const s = this.sizes[i]!;
      if (s >= 0) continue;
      const k = this.keySize[this.ids[i]!]!;
      this.sizes[i] = k >= 0 ? k : -s - 1;
    }
  }

  #grow(): void {
    // 1.5× rather than 2×: the old and new buffers coexist while copying, and at ten million
    // requests that transient is the load's peak.
    const cap = Math.ceil(this.times.length * 1.5);
    const t = new Float64Array(cap);
    t.set(this.times);
    this.times = t;
    const i = new Int32Array(cap);
    i.set(this.ids);
    this.ids = i;
    const s = new Float64Array(cap);
    s.set(this.sizes);
    this.sizes = s;
    const c = new Int32Array(cap);
    c.set(this.clients);
    this.clients = c;
    const l = new Uint8Array(cap);
    l.set(this.learn);
    this.learn = l;
  }
}

export class TraceError extends Error {
  override name = 'TraceError';
}

/** Bytes of the file read so far and its size, for a progress bar. */
export type OnRead = (read: number, size: number) => void;

async function openTrace(file: string, onRead?: OnRead): Promise<Readable> {
  // Open first so a missing file is a clear error, not a failed child process.
  const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new TraceError(`cannot read trace ${file}: ${err.code ?? err.message}`);
  });
  const head = Buffer.alloc(6);
  await fh.read(head, 0, 6, 0);
  const { size } = await fh.stat();
  await fh.close();
  const isXz = head.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  // The file itself is read here (xz decompresses from its stdin), so progress counts file bytes.
  const raw = createReadStream(file);
  if (onRead) {
    let read = 0;
    raw.on('data', (chunk) => {
      read += chunk.length;
      onRead(read, size);
    });
  }
  if (!isXz) return raw;
  const child = spawn('xz', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  raw.pipe(child.stdin);
  // xz exiting early (bad data) closes its stdin: its exit code is the error reported below.
  child.stdin.on('error', () => {});
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const failed = new Promise<never>((_, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new TraceError(
          err.code === 'ENOENT' ? 'trace is xz-compressed and the xz binary is not installed' : err.message,
        ),
      ),
    );
    child.on('close', (code) => {
      if (code !== 0) reject(new TraceError(`xz -dc failed (${code}): ${stderr.trim()}`));
    });
  });
  failed.catch(() => {});
  const out = child.stdout;
  // Surface a failed decompression as an error of the stream the caller iterates.
  failed.catch((err: Error) => out.destroy(err));
  return out;
}

/** A record as the worker's learn() takes it, into the builder; false when the worker skips it. */
function recordPusher(
  b: Builder,
  config: Readonly<EdgewiseConfig> | undefined,
): (r: AccessRecord) => boolean {
  if (!config)
    return (r) => {
      b.push(r.time, r.query ? `${r.path}?${r.query}` : r.path, r.bytes, `${r.clientIp} ${r.userAgent}`);
      return true;
    };
  return (r) => {
    // The worker's own warming is not viewer demand (the simulator makes its own).
    if (trafficOf(r.userAgent, config.prefetch.userAgent) === 'prefetch') return false;
    const learned = (r.method === 'GET' || r.method === 'HEAD') && CACHEABLE.has(r.status);
    const key = modelKey(r.path, r.query, classify(config, r.path));
    b.push(r.time, key, r.bytes, `${r.clientIp} ${r.userAgent}`, r.status === 200, learned);
    return true;
  };
}

/** Every log file under `dir` (recursively, as DirSource lists them), by name. */
async function logFiles(dir: string): Promise<Array<{ path: string; size: number }>> {
  const names = ((await readdir(dir, { recursive: true })) as string[]).filter(isLogName).sort();
  const out: Array<{ path: string; size: number }> = [];
  for (const name of names) {
    const st = await stat(join(dir, name));
    if (st.isFile()) out.push({ path: join(dir, name), size: st.size });
  }
  return out;
}

async function loadLogDir(dir: string, options: LoadOptions): Promise<Trace> {
  const files = await logFiles(dir);
  if (files.length === 0) throw new TraceError(`trace directory ${dir} holds no log files`);
  const total = files.reduce((a, f) => a + f.size, 0);
  const b = new Builder();
  const push = recordPusher(b, options.config);
  const stats = newParseStats();
  let skipped = 0;
  let before = 0;
  for (const f of files) {
    const raw = createReadStream(f.path);
    if (options.onRead) {
      const onRead = options.onRead;
      let read = 0;
      raw.on('data', (chunk) => {
        read += chunk.length;
        onRead(before + read, total);
      });
    }
    for await (const r of parseLog(raw, f.path, stats)) if (!push(r)) skipped++;
    before += f.size;
  }
  if (b.n === 0) throw new TraceError(`trace directory ${dir}: no requests the worker learns from`);
  return finish(b, 'cloudfront', 1000, stats, 0, skipped);
}

/**
 * Reads a whole trace file, or a directory of log files (see the module header for formats).
 * An OnRead alone is the same as `{ onRead }`.
 */
export async function loadTrace(file: string, opts: LoadOptions | OnRead = {}): Promise<Trace> {
  const options: LoadOptions = typeof opts === 'function' ? { onRead: opts } : opts;
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new TraceError(`cannot read trace ${file}: ${err.code ?? err.message}`);
  });
  if (st.isDirectory()) return loadLogDir(file, options);
  const src = await openTrace(file, options.onRead);
  const b = new Builder();
  // Sniff the format from the first bytes, then parse the whole stream in that format.
  const chunks: Buffer[] = [];
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first = await it.next();
  while (!first.done && (first.value as Buffer).length === 0) first = await it.next();
  if (first.done) throw new TraceError(`trace ${file} is empty`);
  chunks.push(first.value as Buffer);
  const all = (async function* () {
    yield* chunks;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value as Buffer;
    }
  })();
  const head = chunks[0]!;
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  // A gzipped file may hold either format: decompress first, then sniff the text.
  const bytes: AsyncIterable<Buffer> = gz ? gunzipped(all) : all;
  const it2 = bytes[Symbol.asyncIterator]();
  const firstText = await it2.next();
  if (firstText.done) throw new TraceError(`trace ${file} is empty`);
  const text = (firstText.value as Buffer).subarray(0, 64).toString('latin1');
  const body = (async function* () {
    yield firstText.value as Buffer;
    for (;;) {
      const r = await it2.next();
      if (r.done) return;
      yield r.value as Buffer;
    }
  })();
  const looksLikeLog = text.startsWith('#') || text.startsWith('{');
  let malformed = 0;
  if (looksLikeLog) {
    const stats = newParseStats();
    const push = recordPusher(b, options.config);
    let skipped = 0;
    for await (const r of parseLog(body, file, stats)) if (!push(r)) skipped++;
    if (stats.fileErrors.length > 0) throw new TraceError(`trace ${file}: ${stats.fileErrors[0]!.reason}`);
    if (b.n === 0) throw new TraceError(`trace ${file}: no requests the worker learns from`);
    return finish(b, 'cloudfront', 1000, stats, 0, skipped);
  }
  let carry = '';
  const pushLine = (line: string) => {
    if (line.length === 0) return;
    const a = line.indexOf(' ');
    const c = line.lastIndexOf(' ');
    const time = Number(line.slice(0, a));
    const size = Number(line.slice(c + 1));
    const id = line.slice(a + 1, c).trim();
    if (
      a <= 0 ||
      c <= a ||
      !Number.isFinite(time) ||
      !Number.isFinite(size) ||
      size < 0 ||
      id === '' ||
      id.includes(' ')
    ) {
      malformed++;
      return;
    }
    b.push(time, id, size, '');
  };
  for await (const chunk of body) {
    const s = carry + chunk.toString('latin1');
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      if (nl === -1) break;
      pushLine(s.slice(start, nl).trim());
      start = nl + 1;
    }
    carry = s.slice(start);
    if (carry.length > 4096) {
      malformed++;
      carry = '';
    }
  }
  pushLine(carry.trim());
  if (b.n === 0) throw new TraceError(`trace ${file} has no valid "time id size" lines`);
  return finish(b, 'trace', 1, undefined, malformed, 0);
}

function finish(
  b: Builder,
  format: Trace['format'],
  unitsPerSecond: number,
  parse: ParseStats | undefined,
  malformed: number,
  skipped: number,
): Trace {
  b.resolveSizes();
  sortByTime(b);
  // Copies at the exact length: the builder's doubled buffers (up to 2× the trace) can go.
  return {
    n: b.n,
    times: b.times.slice(0, b.n),
    ids: b.ids.slice(0, b.n),
    sizes: b.sizes.slice(0, b.n),
    clients: b.clients.slice(0, b.n),
    keys: b.keys,
    unitsPerSecond,
    format,
    parse,
    malformed,
    skipped,
    clientCount: b.clientCount,
    learn: format === 'cloudfront' ? b.learn.slice(0, b.n) : undefined,
  };
}

/** Log lines are not guaranteed to be in time order (several edge servers write one file): replay needs them so. */
function sortByTime(b: Builder): void {
  let sorted = true;
  for (let i = 1; i < b.n && sorted; i++) if (b.times[i]! < b.times[i - 1]!) sorted = false;
  if (sorted) return;
  const order = Array.from({ length: b.n }, (_, i) => i);
  order.sort((x, y) => b.times[x]! - b.times[y]! || x - y);
  const t = new Float64Array(b.n);
  const id = new Int32Array(b.n);
  const sz = new Float64Array(b.n);
  const c = new Int32Array(b.n);
  const l = new Uint8Array(b.n);
  order.forEach((from, to) => {
    t[to] = b.times[from]!;
    id[to] = b.ids[from]!;
    sz[to] = b.sizes[from]!;
    c[to] = b.clients[from]!;
    l[to] = b.learn[from]!;
  });
  b.times = t;
  b.ids = id;
  b.sizes = sz;
  b.clients = c;
  b.learn = l;
}
