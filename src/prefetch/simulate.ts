/**
 * The simulator behind `edgewise prefetch simulate`: replays a trace through the cache store
 * the edge uses (src/cache-store), once as is and once with the prefetch model warming it, and
 * sets both against LRU, the offline bound (./belady.ts) and an infinite cache.
 *
 * How prefetching is modelled: the model observes each request as the worker would observe
 * it in the logs; after a request for K it predicts K's successors, and each predicted object
 * not already cached or in flight is fetched from the origin and lands in the cache only
 * `fetchDelay` time units later. A request arriving while its prefetch is in flight is a miss
 * that joins the in-flight fetch (its bytes are counted once). Prefetched bytes that are held
 * but not yet used, plus those in flight, never exceed `budgetShare` of the cache.
 */
import { createCacheStore, type PolicyName } from '../cache-store/index.js';
import { nextUses, offlineBound } from './belady.js';
import { PrefetchModel } from './model.js';
import type { Trace } from './trace.js';

export interface SimPrefetchOptions {
  /** Time units between the request that triggers a prefetch and the object landing. */
  fetchDelay: number;
  /** Successors followed within this many time units of the same client. */
  window: number;
  /** ...and within this many of the client's requests. */
  windowRequests: number;
  minConfidence: number;
  minCount: number;
  /** Predictions followed per request at most. */
  fanout: number;
  /** Share of the cache that unused prefetched bytes (held or in flight) may take. */
  budgetShare: number;
  /** Objects larger than this share of the cache are not prefetched (a miss on them costs one request, a wasted prefetch costs many small ones). */
  maxObjectShare: number;
  /** Keys the model remembers at most. */
  maxKeys: number;
}

export const DEFAULT_SIM_PREFETCH: SimPrefetchOptions = {
  fetchDelay: 1,
  window: 30,
  windowRequests: 3,
  minConfidence: 0,
  minCount: 1,
  fanout: 2,
  budgetShare: 0.25,
  maxObjectShare: 0.003,
  maxKeys: 1_000_000,
};

export interface SimRun {
  name: string;
  requests: number;
  hits: number;
  requestedBytes: number;
  hitBytes: number;
  /** Bytes fetched from the origin: misses plus prefetches. */
  originBytes: number;
  prefetches: number;
  prefetchUsed: number;
}

export function objectHitRatio(r: SimRun): number {
  return r.requests === 0 ? 0 : r.hits / r.requests;
}
export function byteHitRatio(r: SimRun): number {
  return r.requestedBytes === 0 ? 0 : r.hitBytes / r.requestedBytes;
}
export function originRatio(r: SimRun): number {
  return r.requestedBytes === 0 ? 0 : r.originBytes / r.requestedBytes;
}

function requestedBytes(trace: Trace): number {
  let t = 0;
  for (let i = 0; i < trace.n; i++) t += trace.sizes[i]!;
  return t;
}

/** Bytes of all distinct objects (each at its largest size seen): what "percent of cache" is of. */
export function uniqueBytes(trace: Trace): number {
  const size = new Float64Array(trace.keys.length);
  for (let i = 0; i < trace.n; i++) {
    const id = trace.ids[i]!;
    if (trace.sizes[i]! > size[id]!) size[id] = trace.sizes[i]!;
  }
  let t = 0;
  for (const s of size) t += s;
  return t;
}

/** Demand-only replay through a store of the given policy. */
export function runStore(trace: Trace, cacheBytes: number, policy: PolicyName): SimRun {
  const store = createCacheStore<number>(policy, { maxBytes: cacheBytes });
  const r = emptyRun(policy, trace);
  for (let i = 0; i < trace.n; i++) {
    const key = trace.keys[trace.ids[i]!]!;
    const size = trace.sizes[i]!;
    if (store.get(key) !== undefined) {
      r.hits++;
      r.hitBytes += size;
    } else {
      r.originBytes += size;
      store.set(key, 1, size);
    }
  }
  return r;
}

function emptyRun(name: string, trace: Trace): SimRun {
  return {
    name,
    requests: trace.n,
    hits: 0,
    requestedBytes: requestedBytes(trace),
    hitBytes: 0,
    originBytes: 0,
    prefetches: 0,
    prefetchUsed: 0,
  };
}

export function runPrefetch(
  trace: Trace,
  cacheBytes: number,
  policy: PolicyName,
  options: SimPrefetchOptions = DEFAULT_SIM_PREFETCH,
): SimRun {
  const r = emptyRun(`${policy}+prefetch`, trace);
  // Keys held because of a prefetch and not yet requested, with their bytes.
  const unused = new Map<string, number>();
  let unusedBytes = 0;
  const store = createCacheStore<number>(policy, {
    maxBytes: cacheBytes,
    onEvict: (key) => {
      const b = unused.get(key);
      if (b !== undefined) {
        unused.delete(key);
        unusedBytes -= b;
      }
    },
  });
  const model = new PrefetchModel({
    maxKeys: options.maxKeys,
    maxClients: 10_000,
    successorsPerKey: 4,
    windowMs: options.window,
    windowRequests: options.windowRequests,
    halfLifeMs: Number.POSITIVE_INFINITY,
  });
  // In-flight prefetches in arrival order (the delay is constant, so FIFO is arrival order).
  const flightKeys: string[] = [];
  const flightAt: number[] = [];
  const flightBytes: number[] = [];
  let head = 0;
  const inFlight = new Map<string, number>();
  let flightTotal = 0;
  const budget = options.budgetShare * cacheBytes;
  const maxObject = options.maxObjectShare * cacheBytes;

  for (let i = 0; i < trace.n; i++) {
    const t = trace.times[i]!;
    while (head < flightKeys.length && flightAt[head]! <= t) {
      const key = flightKeys[head]!;
      const bytes = flightBytes[head]!;
      head++;
      if (inFlight.get(key) !== bytes) continue; // joined by a request meanwhile
      inFlight.delete(key);
      flightTotal -= bytes;
      if (!store.has(key) && store.set(key, 2, bytes)) {
        unused.set(key, bytes);
        unusedBytes += bytes;
      }
    }
    if (head > 4096 && head * 2 > flightKeys.length) {
      flightKeys.splice(0, head);
      flightAt.splice(0, head);
      flightBytes.splice(0, head);
      head = 0;
    }

    const key = trace.keys[trace.ids[i]!]!;
    const size = trace.sizes[i]!;
    if (store.get(key) !== undefined) {
      r.hits++;
      r.hitBytes += size;
      const b = unused.get(key);
      if (b !== undefined) {
        r.prefetchUsed++;
        unused.delete(key);
        unusedBytes -= b;
      }
    } else {
      const flying = inFlight.get(key);
      if (flying !== undefined) {
        // Collapsed into the in-flight prefetch: a miss for the viewer, no second origin fetch.
        inFlight.delete(key);
        flightTotal -= flying;
        r.prefetchUsed++;
      } else {
        r.originBytes += size;
      }
      store.set(key, 1, size);
    }

    model.observe(key, String(trace.clients[i]!), t, size);
    let issued = 0;
    for (const p of model.predict(key, options.minConfidence, options.minCount)) {
      if (issued >= options.fanout) break;
      if (p.key === key || store.has(p.key) || inFlight.has(p.key)) continue;
      const bytes = model.bytesOf(p.key) ?? 0;
      if (bytes <= 0 || bytes > maxObject || unusedBytes + flightTotal + bytes > budget) continue;
      inFlight.set(p.key, bytes);
      flightTotal += bytes;
      flightKeys.push(p.key);
      flightAt.push(t + options.fetchDelay);
      flightBytes.push(bytes);
      r.prefetches++;
      r.originBytes += bytes;
      issued++;
    }
  }
  return r;
}

export function runOffline(trace: Trace, cacheBytes: number, next?: Int32Array): SimRun {
  const r = emptyRun('offline', trace);
  const o = offlineBound(trace, cacheBytes, next ?? nextUses(trace));
  r.hits = o.hits;
  r.hitBytes = o.hitBytes;
  r.originBytes = r.requestedBytes - o.hitBytes;
  return r;
}

export function runInfinite(trace: Trace): SimRun {
  const r = emptyRun('infinite', trace);
  const seen = new Uint8Array(trace.keys.length);
  for (let i = 0; i < trace.n; i++) {
    const id = trace.ids[i]!;
    if (seen[id]) {
      r.hits++;
      r.hitBytes += trace.sizes[i]!;
    } else {
      seen[id] = 1;
      r.originBytes += trace.sizes[i]!;
    }
  }
  return r;
}
