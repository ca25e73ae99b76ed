/**
 * Traces for `npm run bench cache-policy` and the adaptive store's tests, held in memory as
 * interned ids and sizes (the shape runStore-like replays need).
 *
 * `socialTrace`: a social-media-like workload, the class where S3-FIFO loses to LRU. Most
 * objects are new content requested two or three times at medium reuse distances and then
 * forgotten: an object appears at a random moment, and each later request follows the one
 * before it by a gap drawn log-uniformly from 10 to 300,000 requests. A second request whose
 * gap outlives S3-FIFO's small queue (10 % of the cache) but not the whole cache hits under
 * LRU and misses under S3-FIFO (the object went to the ghost, comes back into main, and is
 * not asked for again); with gaps spread over 4.5 decades every cache size has such a band.
 * Beside it: a persistent Zipf(0.8) catalogue of 20,000 objects (profile pictures, assets;
 * 5 % of requests) and crawler scans over old content (runs of 2,000 consecutive objects,
 * 2 % of requests). Sizes are log-normal, median 20 KB, σ 1.
 */
import { generateRequests, TRACEGEN_DEFAULTS } from '../../src/prefetch/tracegen.js';
import { uniform as rng } from '../../src/ttl/evidence.js';

export { rng };

export interface MemTrace {
  n: number;
  ids: Int32Array;
  sizes: Float64Array;
  keys: string[];
}

export interface SocialOptions {
  requests: number;
  seed: number;
  /** Shortest and longest gap between an object's requests, in requests. */
  gapMin: number;
  gapMax: number;
  /** Chance an object gets a third request. */
  third: number;
  zipfShare: number;
  zipfObjects: number;
  scanShare: number;
  scanLength: number;
  sizeMedian: number;
  sizeSigma: number;
}

export const SOCIAL_DEFAULTS: Omit<SocialOptions, 'requests' | 'seed'> = {
  gapMin: 10,
  gapMax: 300_000,
  third: 0.3,
  zipfShare: 0.05,
  zipfObjects: 20_000,
  scanShare: 0.02,
  scanLength: 2000,
  sizeMedian: 20_000,
  sizeSigma: 1,
};

export function socialTrace(requests: number, seed: number, options: Partial<SocialOptions> = {}): MemTrace {
  const o: SocialOptions = { ...SOCIAL_DEFAULTS, ...options, requests, seed };
  const rand = rng(o.seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const newSize = () => Math.max(64, Math.round(o.sizeMedian * Math.exp(o.sizeSigma * gauss())));
  const times: number[] = [];
  const objects: number[] = [];
  const sizes: number[] = [];
  const span = o.requests;
  const bursts = Math.round(o.requests * (1 - o.zipfShare - o.scanShare));
  const logGap = Math.log(o.gapMax / o.gapMin);
  while (times.length < bursts) {
    const id = sizes.length;
    sizes.push(newSize());
    let t = rand() * span;
    times.push(t);
    objects.push(id);
    const later = 1 + (rand() < o.third ? 1 : 0);
    for (let j = 0; j < later; j++) {
      t += o.gapMin * Math.exp(rand() * logGap);
      if (t < span) {
        times.push(t);
        objects.push(id);
      }
    }
  }
  const fresh = sizes.length;
  const cdf = new Float64Array(o.zipfObjects);
  let sum = 0;
  for (let i = 0; i < o.zipfObjects; i++) {
    sizes.push(newSize());
    sum += 1 / (i + 1) ** 0.8;
    cdf[i] = sum;
  }
  for (let i = Math.round(o.requests * o.zipfShare); i > 0; i--) {
    const x = rand() * sum;
    let lo = 0;
    let hi = o.zipfObjects - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    times.push(rand() * span);
    objects.push(fresh + lo);
  }
  for (let left = Math.round(o.requests * o.scanShare); left > 0; left -= o.scanLength) {
    const t = rand() * span;
    const start = Math.floor(rand() * fresh);
    for (let j = 0; j < Math.min(left, o.scanLength); j++) {
      times.push(t + j * 0.5);
      objects.push((start + j) % fresh);
    }
  }
  const order = Array.from(times.keys()).sort((a, b) => times[a]! - times[b]!);
  const n = order.length;
  const ids = new Int32Array(n);
  const reqSizes = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const id = objects[order[i]!]!;
    ids[i] = id;
    reqSizes[i] = sizes[id]!;
  }
  return { n, ids, sizes: reqSizes, keys: Array.from({ length: sizes.length }, (_, i) => `/s/${i}`) };
}

/** The shared generator's trace (src/prefetch/tracegen.ts), as bench/prefetch.ts builds it. */
export function tracegenTrace(requests: number, pages: number, correlated: boolean, seed: number): MemTrace {
  const ids = new Int32Array(requests);
  const sizes = new Float64Array(requests);
  let n = 0;
  let maxId = 0;
  for (const r of generateRequests({
    ...TRACEGEN_DEFAULTS,
    seed,
    requests,
    objects: pages * 4,
    correlated,
  })) {
    ids[n] = r.id;
    sizes[n] = r.size;
    if (r.id > maxId) maxId = r.id;
    n++;
  }
  return { n, ids, sizes, keys: Array.from({ length: maxId + 1 }, (_, i) => `/p/${i}`) };
}

/** Sum of the sizes of the distinct objects requested. */
export function uniqueBytes(t: MemTrace): number {
  const seen = new Uint8Array(t.keys.length);
  let bytes = 0;
  for (let i = 0; i < t.n; i++) {
    const id = t.ids[i]!;
    if (seen[id] === 0) {
      seen[id] = 1;
      bytes += t.sizes[i]!;
    }
  }
  return bytes;
}
