/**
 * Loads a request trace for the simulator into typed arrays (a 10-million-request trace costs
 * about 28 bytes a request plus one string per distinct key). Two inputs:
 * - `time id size` lines (the AdaptSize / webcachesim format), time in the trace's own unit;
 * - a CloudFront standard log (legacy or v2 JSON, gzip or plain): the key is method-free
 *   path + query, the client is IP + User-Agent, time in ms, size from sc-content-len/sc-bytes.
 * `.xz` files are decompressed by the `xz` binary (xz is not in node:zlib).
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { newParseStats, type ParseStats, parseLog } from './parse.js';

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

class Builder {
  n = 0;
  times = new Float64Array(1024);
  ids = new Int32Array(1024);
  sizes = new Float64Array(1024);
  clients = new Int32Array(1024);
  keys: string[] = [];
  #keyIndex = new Map<string, number>();
  #clientIndex = new Map<string, number>();

  push(time: number, key: string, size: number, client: string): void {
    if (this.n === this.times.length) this.#grow();
    let id = this.#keyIndex.get(key);
    if (id === undefined) {
      id = this.keys.length;
      this.keys.push(key);
      this.#keyIndex.set(key, id);
    }
    let c = this.#clientIndex.get(client);
    if (c === undefined) {
      c = this.#clientIndex.size;
      this.#clientIndex.set(client, c);
    }
    this.times[this.n] = time;
    this.ids[this.n] = id;
    this.sizes[this.n] = size;
    this.clients[this.n] = c;
    this.n++;
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

/** Reads a whole trace file (see the module header for formats). */
export async function loadTrace(file: string, onRead?: OnRead): Promise<Trace> {
  const src = await openTrace(file, onRead);
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
    for await (const r of parseLog(body, file, stats)) {
      const key = r.query ? `${r.path}?${r.query}` : r.path;
      b.push(r.time, key, r.bytes, `${r.clientIp} ${r.userAgent}`);
    }
    if (stats.fileErrors.length > 0) throw new TraceError(`trace ${file}: ${stats.fileErrors[0]!.reason}`);
    return finish(b, 'cloudfront', 1000, stats, 0);
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
  return finish(b, 'trace', 1, undefined, malformed);
}

function finish(
  b: Builder,
  format: Trace['format'],
  unitsPerSecond: number,
  parse: ParseStats | undefined,
  malformed: number,
): Trace {
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
  order.forEach((from, to) => {
    t[to] = b.times[from]!;
    id[to] = b.ids[from]!;
    sz[to] = b.sizes[from]!;
    c[to] = b.clients[from]!;
  });
  b.times = t;
  b.ids = id;
  b.sizes = sz;
  b.clients = c;
}
