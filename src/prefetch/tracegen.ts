/**
 * A deterministic request-trace generator for benchmarks and tests (`edgewise prefetch trace
 * generate`, bench/prefetch.ts). The catalogue is `pages` pages, Zipf(alpha)-popular, each with
 * 2–4 assets of its own (page i has 2 + i mod 3), so about 4 objects a page. Sizes are
 * log-normal, fixed per object.
 * - correlated: page views (each by one client, drawn at random) start at random (Poisson)
 *   times, on average `rate` requests a second counting their assets. A view's assets come from
 *   the same client after a browser's delay: the page's transfer and parse time, log-normal
 *   with median `thinkMs` (σ 0.7: about a quarter to 3× the median, tens to hundreds of ms by
 *   default), then one asset every 0–40 ms as the parser finds them. Views overlap, so other
 *   clients' requests come in between, as an edge sees them. That delay is a browser's with
 *   the page served from the cache; each asset names its page's request (`after`), and the
 *   simulator adds the page's origin fetch when the page missed (a browser cannot ask for what
 *   a page pulls before the page has come);
 * - uncorrelated: the same objects at the same popularity, each request drawn on its own (a
 *   page's popularity spread over it and its assets) by a random client, one every 1/rate s,
 *   so nothing predicts what follows.
 * Requests come out one at a time (a generator): nothing holds the trace in memory. The same
 * options and seed give the same trace, byte for byte.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { formatLine, LOG_HEADER, type LogRecord } from '../access-log/format.js';
import type { Trace } from './trace.js';

export interface TraceGenOptions {
  requests: number;
  /** Catalogue size: pages and their assets (pages = objects / 4). Not every object need be requested. */
  objects: number;
  correlated: boolean;
  seed: number;
  /** Requests per second of trace time. */
  rate: number;
  /** Zipf exponent of page popularity. */
  alpha: number;
  /** Median object size in bytes (log-normal). */
  sizeMedian: number;
  /** σ of the log-normal size (0: every object sizeMedian bytes). */
  sizeSigma: number;
  /** Distinct clients (IP + User-Agent) the requests are spread over. */
  clients: number;
  /** Correlated traces: median ms from a page request to its first asset request (0: at once). */
  thinkMs: number;
}

export const TRACEGEN_DEFAULTS: Omit<TraceGenOptions, 'requests' | 'objects' | 'correlated'> = {
  seed: 42,
  rate: 200,
  alpha: 0.8,
  sizeMedian: 2400,
  sizeSigma: 1.2,
  clients: 10_000,
  thinkMs: 100,
};

export interface GeneratedRequest {
  /** Seconds from the trace's start. */
  time: number;
  id: number;
  size: number;
  client: number;
  /**
   * For an asset: the index (in the generated order) of its page's request, whose answer the
   * browser waited for before asking; −1 for a page or an uncorrelated request. `time` is when
   * the browser would ask if the page came from the cache at once (see Trace.after).
   */
  after: number;
}

/** A 32-bit LCG: tiny, fast and the same on every platform. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Log-normal size of object `id`, from a hash of the id (so fixed per object). */
function sizeOf(id: number, median: number, sigma: number): number {
  let h = Math.imul(id ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  const u1 = ((h & 0xffff) + 1) / 65537;
  const u2 = ((h >>> 16) + 1) / 65537;
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return Math.max(64, Math.round(median * Math.exp(sigma * z)));
}

export function pagesOf(o: Pick<TraceGenOptions, 'objects'>): number {
  return Math.max(1, Math.round(o.objects / 4));
}

export function assetsOf(page: number): number {
  return 2 + (page % 3);
}

/** What an id is: a page, or asset `asset` of `page`. */
export function objectOf(id: number, pages: number): { page: number; asset: number | undefined } {
  if (id < pages) return { page: id, asset: undefined };
  return { page: Math.floor((id - pages) / 4), asset: (id - pages) % 4 };
}

/** A min-heap of pending asset requests by time, then by the order they were made (deterministic). */
class Pending {
  readonly #items: Array<{ time: number; seq: number; id: number; client: number; after: number }> = [];
  #seq = 0;
  get size(): number {
    return this.#items.length;
  }
  peekTime(): number {
    return this.#items[0]?.time ?? Number.POSITIVE_INFINITY;
  }
  push(time: number, id: number, client: number, after: number): void {
    const h = this.#items;
    h.push({ time, seq: this.#seq++, id, client, after });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): { time: number; id: number; client: number; after: number } {
    const h = this.#items;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(l, m)) m = l;
        if (r < h.length && this.#less(r, m)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
  #less(a: number, b: number): boolean {
    const x = this.#items[a]!;
    const y = this.#items[b]!;
    return x.time < y.time || (x.time === y.time && x.seq < y.seq);
  }
}

export function* generateRequests(o: TraceGenOptions): Generator<GeneratedRequest> {
  const pages = pagesOf(o);
  const cdf = new Float64Array(pages);
  let sum = 0;
  for (let i = 0; i < pages; i++) {
    sum += 1 / (i + 1) ** o.alpha;
    cdf[i] = sum;
  }
  const rand = rng(o.seed);
  // Clients from their own stream, so the object sequence depends on the seed alone.
  const randClient = rng(o.seed ^ 0x5bd1e995);
  const pick = () => {
    const x = rand() * sum;
    let lo = 0;
    let hi = pages - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let n = 0;
  const req = (time: number, id: number, client: number, after = -1): GeneratedRequest => {
    n++;
    return { time, id, size: sizeOf(id, o.sizeMedian, o.sizeSigma), client, after };
  };
  if (!o.correlated) {
    while (n < o.requests) {
      const page = pick();
      const client = Math.floor(randClient() * o.clients);
      const k = Math.floor(rand() * (1 + assetsOf(page)));
      yield req(n / o.rate, k === 0 ? page : pages + page * 4 + (k - 1), client);
    }
    return;
  }
  // Timing from a third stream. Views start as a Poisson process whose rate makes `rate`
  // requests a second: a view is 1 + its page's assets requests, on average over popularity.
  const randTime = rng(o.seed ^ 0x27d4eb2f);
  let objectsPerView = 0;
  for (let i = 0; i < pages; i++)
    objectsPerView += ((cdf[i]! - (i > 0 ? cdf[i - 1]! : 0)) / sum) * (1 + assetsOf(i));
  const meanGap = objectsPerView / o.rate;
  const normal = () => {
    const u1 = randTime() || 1e-12;
    const u2 = randTime();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };
  const pending = new Pending();
  let t = 0;
  while (n < o.requests) {
    while (pending.size > 0 && pending.peekTime() <= t && n < o.requests) {
      const p = pending.pop();
      yield req(p.time, p.id, p.client, p.after);
    }
    if (n >= o.requests) return;
    const page = pick();
    const client = Math.floor(randClient() * o.clients);
    const pageAt = n;
    yield req(t, page, client);
    let at = t + (o.thinkMs > 0 ? (o.thinkMs * Math.exp(0.7 * normal())) / 1000 : 0);
    for (let a = 0; a < assetsOf(page); a++) {
      pending.push(at, pages + page * 4 + a, client, pageAt);
      at += o.thinkMs > 0 ? randTime() * 0.04 : 0;
    }
    t += -Math.log(1 - randTime()) * meanGap;
  }
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

async function finish(out: Writable): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
}

/** Writes `time id size` lines to `out` (a file stream or stdout), 1 MiB at a time. Ends `out` when `end`. */
export async function writeTimeIdSize(o: TraceGenOptions, out: Writable, end = true): Promise<number> {
  let buf = '';
  let n = 0;
  for (const r of generateRequests(o)) {
    buf += `${r.time.toFixed(3)} ${r.id} ${r.size}\n`;
    n++;
    if (buf.length > 1 << 20) {
      await write(out, buf);
      buf = '';
    }
  }
  await write(out, buf);
  if (end) await finish(out);
  return n;
}

/** The default trace start for CloudFront logs: a fixed instant, so the output is reproducible. */
export const CLOUDFRONT_START_MS = Date.UTC(2026, 0, 1);
export const GENERATED_DISTRIBUTION = 'EGENERATED0001';

/** The viewer path of an object: `/p/<page>.html` or `/p/<page>/a<asset>.js`. */
export function pathOf(id: number, pages: number): string {
  const { page, asset } = objectOf(id, pages);
  return asset === undefined ? `/p/${page}.html` : `/p/${page}/a${asset}.js`;
}

/** Client `c` as CloudFront logs it: an address in 10/8 and a browser User-Agent naming it. */
export function clientOf(c: number): { ip: string; userAgent: string } {
  return {
    ip: `10.${(c >>> 16) & 255}.${(c >>> 8) & 255}.${c & 255}`,
    userAgent: `Mozilla/5.0 (X11; Linux x86_64) tracegen/${c}`,
  };
}

function record(r: GeneratedRequest, pages: number, startMs: number, n: number): LogRecord {
  const { ip, userAgent } = clientOf(r.client);
  const page = objectOf(r.id, pages).asset === undefined;
  const host = 'd111111abcdef8.cloudfront.net';
  return {
    end: startMs + Math.round(r.time * 1000),
    edgeLocation: 'GEN1-C1',
    scBytes: r.size + 300,
    clientIp: ip,
    method: 'GET',
    host,
    hostHeader: host,
    path: pathOf(r.id, pages),
    status: 200,
    referer: undefined,
    userAgent,
    query: '',
    cookie: undefined,
    resultType: 'Miss',
    requestId: `gen${n.toString(36)}`,
    protocol: 'https',
    csBytes: 200,
    timeTaken: 0.01,
    forwardedFor: undefined,
    sslProtocol: 'TLSv1.3',
    sslCipher: 'TLS_AES_128_GCM_SHA256',
    responseResultType: 'Miss',
    protocolVersion: 'HTTP/2.0',
    clientPort: 40000 + (r.client % 20000),
    timeToFirstByte: 0.01,
    detailedResultType: 'Miss',
    contentType: page ? 'text/html' : 'application/javascript',
    contentLength: r.size,
    rangeStart: undefined,
    rangeEnd: undefined,
  };
}

/**
 * Writes CloudFront standard (legacy) log files into `dir`, one gzip file per UTC hour named as
 * CloudFront names them (`<distribution>.YYYY-MM-DD-HH.<unique>.gz`), so the prefetch worker's
 * log reader and `simulate` read them as they read CloudFront's. Returns the files and requests.
 */
export async function writeCloudFrontLogs(
  o: TraceGenOptions,
  dir: string,
  startMs = CLOUDFRONT_START_MS,
): Promise<{ files: string[]; requests: number }> {
  await mkdir(dir, { recursive: true });
  const pages = pagesOf(o);
  const files: string[] = [];
  let hour = Number.NaN;
  let gz: ReturnType<typeof createGzip> | undefined;
  let done: Promise<void> | undefined;
  let buf = '';
  let n = 0;
  const close = async () => {
    if (!gz) return;
    await write(gz, buf);
    buf = '';
    gz.end();
    await done;
  };
  for (const r of generateRequests(o)) {
    const rec = record(r, pages, startMs, n);
    const h = Math.floor(rec.end / 3_600_000);
    if (h !== hour) {
      await close();
      hour = h;
      const stamp = new Date(h * 3_600_000).toISOString().slice(0, 13).replace('T', '-');
      const name = `${GENERATED_DISTRIBUTION}.${stamp}.${(o.seed >>> 0).toString(16).padStart(8, '0')}.gz`;
      files.push(name);
      gz = createGzip();
      const file = createWriteStream(join(dir, name));
      gz.pipe(file);
      done = new Promise<void>((resolve, reject) => {
        file.once('finish', () => resolve());
        file.once('error', reject);
      });
      buf = LOG_HEADER;
    }
    buf += `${formatLine(rec)}\n`;
    n++;
    if (buf.length > 1 << 20) {
      await write(gz!, buf);
      buf = '';
    }
  }
  await close();
  return { files, requests: n };
}

/**
 * The trace in memory, as the simulator takes it, with its clients (a `time id size` file has
 * none, so a trace read back from one is a single session) and, for a correlated trace, which
 * page each asset request waited for (`after`: a file has no such column either): keys are the
 * objects' viewer paths, time in seconds (read with secondsPerUnit 1). For benchmarks that
 * simulate per-client sessions.
 */
export function generateTrace(o: TraceGenOptions): Trace {
  const pages = pagesOf(o);
  const n = o.requests;
  const times = new Float64Array(n);
  const ids = new Int32Array(n);
  const sizes = new Float64Array(n);
  const clients = new Int32Array(n);
  const after = new Int32Array(n);
  const keys: string[] = [];
  const interned = new Map<number, number>();
  const clientIds = new Map<number, number>();
  let i = 0;
  for (const r of generateRequests(o)) {
    let k = interned.get(r.id);
    if (k === undefined) {
      k = keys.length;
      keys.push(pathOf(r.id, pages));
      interned.set(r.id, k);
    }
    let c = clientIds.get(r.client);
    if (c === undefined) {
      c = clientIds.size;
      clientIds.set(r.client, c);
    }
    times[i] = r.time;
    ids[i] = k;
    sizes[i] = r.size;
    clients[i] = c;
    after[i] = r.after;
    i++;
  }
  return {
    n: i,
    times: times.subarray(0, i),
    ids: ids.subarray(0, i),
    sizes: sizes.subarray(0, i),
    clients: clients.subarray(0, i),
    after: o.correlated ? after.subarray(0, i) : undefined,
    keys,
    unitsPerSecond: 1,
    format: 'trace',
    malformed: 0,
    clientCount: clientIds.size,
  };
}
