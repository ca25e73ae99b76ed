/**
 * The simulator behind `edgewise prefetch simulate`: replays a trace through the cache store
 * the edge uses (src/cache-store), once as is and once with the prefetch worker as deployed
 * warming it (`runDeployed`), and sets both against LRU, the offline bounds of ./bounds.ts and
 * an infinite cache.
 *
 * Time: every parameter is in seconds of trace time. CloudFront logs carry their own clock; a
 * `time id size` trace's time column is read as `secondsPerUnit` seconds a unit (its unit is
 * not in the file: 1 by default). The defaults are the deployed ones, read from the config the
 * worker reads (`deployedOptions`): the pass interval is `prefetch.watchIntervalSeconds`, the
 * rate and concurrency `prefetch.budget.*`, the byte budget per pass `prefetch.budget.bytes`
 * or `capacityShare` of the simulated cache, and records reach the worker when the local edge
 * publishes the log file holding them (`edge.logs.rotateSeconds`, or the end of the UTC hour;
 * the worker skips files still being written). `delivery: {kind: 'delay'}` models CloudFront
 * standard logs instead: AWS delivers them "usually within an hour", sometimes up to 24 h
 * late. The origin fetch latency is not configured anywhere: the simulator assumes
 * DEFAULT_FETCH_LATENCY_SECONDS.
 */
import { createCacheStore, type PolicyName } from '../cache-store/index.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { Payoff } from './backoff.js';
import { type BoundResult, type Intervals, pfooLower, pfooUpper } from './bounds.js';
import { Follower, type FollowStats } from './follow.js';
import { makePlan, type WarmTask } from './plan.js';
import type { Trace } from './trace.js';
import { workerModel } from './worker.js';

/** When a log record reaches the worker. */
export type LogDelivery =
  /** The local edge: a record is readable once its file is published (see the module header). */
  | { kind: 'edge-files'; rotateSeconds: number; flushSeconds: number }
  /** A constant delay after the request (CloudFront standard logs: minutes to an hour). */
  | { kind: 'delay'; seconds: number };

export interface DeployedOptions {
  delivery: LogDelivery;
  /** Seconds between the end of one pass and the start of the next. */
  passIntervalSeconds: number;
  /** Warming requests (probes and GETs) started per second at most. */
  requestsPerSecond: number;
  /** Warming requests in flight at most. */
  concurrency: number;
  /** From a warm GET's start to the object being in the cache. */
  fetchLatencySeconds: number;
  /** Seconds per time unit of a `time id size` trace (CloudFront logs are in ms and ignore it). */
  secondsPerUnit: number;
}

/** An origin fill of a small object: a round trip plus the origin's time to first byte. */
export const DEFAULT_FETCH_LATENCY_SECONDS = 0.1;

/** The worker's deployed settings, from the same config the worker reads. */
export function deployedOptions(config: Readonly<EdgewiseConfig>): DeployedOptions {
  return {
    delivery: {
      kind: 'edge-files',
      rotateSeconds: config.edge.logs.rotateSeconds,
      flushSeconds: config.edge.logs.flushIntervalMs / 1000,
    },
    passIntervalSeconds: config.prefetch.watchIntervalSeconds,
    requestsPerSecond: config.prefetch.budget.requestsPerSecond,
    concurrency: config.prefetch.budget.concurrency,
    fetchLatencySeconds: DEFAULT_FETCH_LATENCY_SECONDS,
    secondsPerUnit: 1,
  };
}

function checkDeployed(o: DeployedOptions): void {
  const bad = (what: string) => {
    throw new RangeError(what);
  };
  if (!(o.passIntervalSeconds > 0)) bad('pass interval must be > 0 seconds');
  if (!(o.requestsPerSecond > 0)) bad('requests per second must be > 0');
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) bad('concurrency must be an integer >= 1');
  if (!(o.fetchLatencySeconds >= 0)) bad('fetch latency must be >= 0 seconds');
  if (!(o.secondsPerUnit > 0)) bad('seconds per time unit must be > 0');
  const d = o.delivery;
  if (d.kind === 'delay' && !(d.seconds >= 0)) bad('log delay must be >= 0 seconds');
  if (d.kind === 'edge-files' && !(d.rotateSeconds > 0 && d.flushSeconds >= 0))
    bad('log rotation must be > 0 seconds');
}

/**
 * The simulated cache keeps one entry per trace key, so the planner plans one variant per key
 * (no Accept-Encoding or image Accept expansion).
 */
function onePerKey(config: Readonly<EdgewiseConfig>): Readonly<EdgewiseConfig> {
  const p = config.prefetch;
  return {
    ...config,
    prefetch: { ...p, variants: { ...p.variants, acceptEncodings: [''], imagePatterns: [] } },
  };
}

export interface SimRun {
  name: string;
  requests: number;
  /** Object hits (fractional for PFOO-U). */
  hits: number;
  requestedBytes: number;
  hitBytes: number;
  /** Bytes fetched from the origin: misses plus prefetches. */
  originBytes: number;
  /** Warm GETs that went to the origin (the object was not cached). */
  prefetches: number;
  prefetchBytes: number;
  /** Prefetches that turned a miss into a hit: the first request for an object a landed prefetch put in the cache. */
  prefetchUsed: number;
  /** Viewer requests that arrived while their object's prefetch was in flight: misses, fetched once. */
  prefetchJoined: number;
  /** Follow fills (the edge following on the request) that went to the origin, and their bytes. */
  follows: number;
  followBytes: number;
  /** Follow fills that turned a miss into a hit (as prefetchUsed). */
  followUsed: number;
  /** Viewer requests that arrived while their object's follow fill was in flight (misses). */
  followJoined: number;
  /** The follower's own counts (what it skipped and why), for a follow run. */
  followStats?: FollowStats | undefined;
  /** How the follower's back-off judged its fills (Payoff.totals). */
  followJudged?: Payoff['totals'] | undefined;
  probes: number;
  passes: number;
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
    prefetchBytes: 0,
    prefetchUsed: 0,
    prefetchJoined: 0,
    follows: 0,
    followBytes: 0,
    followUsed: 0,
    followJoined: 0,
    probes: 0,
    passes: 0,
  };
}

/** Which prefetchers run: the worker (log-driven passes) and/or the edge following on the request. */
export interface PrefetchMode {
  worker: boolean;
  follow: boolean;
}

export const WORKER_ONLY: PrefetchMode = { worker: true, follow: false };
/** The store alone, on the same clock as the prefetching runs (a trace with `after` needs it: see runDeployed). */
export const NO_PREFETCH: PrefetchMode = { worker: false, follow: false };

/** The run's name: `s3fifo+prefetch`, `s3fifo+follow`, `s3fifo+prefetch+follow`. */
export function modeName(policy: string, mode: PrefetchMode): string {
  return `${policy}${mode.worker ? '+prefetch' : ''}${mode.follow ? '+follow' : ''}`;
}

/**
 * The config a follow run uses: the caller's prefetch.follow.* with `enabled` on (a simulation
 * of the follower is asked for by the mode, whatever the deployed switch says).
 */
export function followOn(config: Readonly<EdgewiseConfig>): Readonly<EdgewiseConfig> {
  const p = config.prefetch;
  return { ...config, prefetch: { ...p, follow: { ...p.follow, enabled: true } } };
}

interface Flight {
  bytes: number;
  follow: boolean;
  /** When it lands (seconds). */
  landsAt: number;
}

/** Requests waiting to be made, by time, then by trace order (a binary min-heap). */
class Later {
  readonly #time: number[] = [];
  readonly #index: number[] = [];
  get size(): number {
    return this.#time.length;
  }
  peekTime(): number {
    return this.#time[0]!;
  }
  #less(a: number, b: number): boolean {
    const t = this.#time;
    return t[a]! < t[b]! || (t[a] === t[b] && this.#index[a]! < this.#index[b]!);
  }
  #swap(a: number, b: number): void {
    const t = this.#time;
    const x = this.#index;
    [t[a], t[b]] = [t[b]!, t[a]!];
    [x[a], x[b]] = [x[b]!, x[a]!];
  }
  push(time: number, index: number): void {
    this.#time.push(time);
    this.#index.push(index);
    let i = this.#time.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }
  pop(): number {
    const top = this.#index[0]!;
    const lastT = this.#time.pop()!;
    const lastI = this.#index.pop()!;
    const n = this.#time.length;
    if (n > 0) {
      this.#time[0] = lastT;
      this.#index[0] = lastI;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.#less(l, m)) m = l;
        if (r < n && this.#less(r, m)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/**
 * The prefetch worker as deployed, replayed on the trace's clock. Every `passIntervalSeconds`
 * after the previous pass finished, a pass feeds the model the log records delivered by then,
 * plans with the worker's planner (src/prefetch/plan.ts: hot keys and their successors, by
 * expected requests per byte, cut at the pass's byte budget) and warms the plan through the
 * worker's limiter rules: starts spaced 1/requestsPerSecond apart, at most `concurrency` in
 * flight. With `prefetch.freshCheck` each task first probes (a limiter start that costs no
 * time) and skips what the cache holds; a warm of an absent object is an origin fetch that
 * lands `fetchLatencySeconds` later. A viewer request for an object whose warm is still in
 * flight is a miss that joins it (the edge collapses the two; its bytes are fetched once).
 *
 * With `mode.follow`, the edge also follows on the request, with the edge's own code
 * (src/prefetch/follow.ts `Follower`, prefetch.follow.*): every learned viewer request is shown
 * to it as it happens, with whether it was a hit; each successor it returns is an origin fetch
 * that lands `fetchLatencySeconds` after that request (a viewer asking meanwhile joins it, a
 * miss), and is settled with the follower when it lands. Its origin bytes are counted with the
 * run's. `mode.worker` false leaves the worker out (no passes).
 *
 * A trace with `after` (generated page views) is replayed as the browser makes its requests: an
 * asset is asked for its page's wait later than its trace time, where the wait is 0 for a hit,
 * `fetchLatencySeconds` for a miss the edge fetched, and the rest of the flight for a miss that
 * joined a fill. So a page that missed sends its assets a fetch later, while the follow fills it
 * started on arrival are already on their way. The log records reach the worker by trace time.
 * The store without prefetch must then be replayed the same way (`NO_PREFETCH`), not by runStore.
 */
export function runDeployed(
  trace: Trace,
  cacheBytes: number,
  policy: PolicyName,
  config: Readonly<EdgewiseConfig>,
  options: DeployedOptions,
  mode: PrefetchMode = WORKER_ONLY,
): SimRun {
  checkDeployed(options);
  const r = emptyRun(modeName(policy, mode), trace);
  const planConfig = onePerKey(config);
  const budget =
    config.prefetch.budget.bytes ?? Math.floor(config.prefetch.budget.capacityShare * cacheBytes);
  const freshCheck = config.prefetch.freshCheck;
  const model = workerModel(config);
  // The worker's own back-off and wasted-bytes window, fed what the worker would read: viewer
  // records (hit or miss) as they are delivered, and its origin fetches.
  const payoff = new Payoff(() => config);
  const followConfig = followOn(config);
  const follower = mode.follow ? new Follower(() => followConfig) : undefined;
  const clientNames: string[] = [];
  const clientName = (c: number) => {
    let name = clientNames[c];
    if (name === undefined) {
      name = String(c);
      clientNames[c] = name;
    }
    return name;
  };
  const hitAt = new Uint8Array(trace.n);
  // Keys a landed prefetch put in the cache that no viewer has requested since: true for a follow fill.
  const unused = new Map<string, boolean>();
  const store = createCacheStore<number>(policy, {
    maxBytes: cacheBytes,
    onEvict: (key) => {
      unused.delete(key);
    },
  });
  const scale = trace.format === 'trace' ? options.secondsPerUnit : 1 / trace.unitsPerSecond;
  const sec = (i: number) => trace.times[i]! * scale;
  const keyOf = (i: number) => trace.keys[trace.ids[i]!]!;

  // Log delivery: records [0, delivered) have reached the model.
  let delivered = 0;
  // The local edge's open log file: its first record, and (once known) its end and publish time.
  let fileStart = -1;
  let fileEnd = 0;
  let filePublish = 0;
  // `served`: requests before it have happened (a record is never delivered before its request).
  const deliver = (now: number, served: number) => {
    let upTo = delivered;
    const d = options.delivery;
    if (d.kind === 'delay') {
      while (upTo < served && sec(upTo) + d.seconds <= now) upTo++;
    } else {
      for (;;) {
        if (upTo >= served) break;
        if (fileStart !== upTo) {
          fileStart = upTo;
          // A file holds the lines of one UTC hour and is published rotateSeconds after it
          // opened (the flush timer), or when a line of the next hour arrives, whichever first.
          const open = sec(upTo);
          const limit = open + d.rotateSeconds;
          const hourEnd = (Math.floor(open / 3600) + 1) * 3600;
          let k = upTo;
          while (k < trace.n && sec(k) < Math.min(limit, hourEnd)) k++;
          fileEnd = k;
          filePublish = (k < trace.n && sec(k) < limit ? sec(k) : limit) + d.flushSeconds;
        }
        if (filePublish > now || fileEnd > served) break;
        upTo = fileEnd;
      }
    }
    // Only what the worker's learn() takes (a log's POSTs, 302s and 404s are served, not learned).
    for (let i = delivered; i < upTo; i++) {
      if (trace.learn?.[i] === 0) continue;
      payoff.viewer(keyOf(i), sec(i) * 1000, hitAt[i] === 1);
      model.observe(keyOf(i), clientName(trace.clients[i]!), sec(i) * 1000, trace.sizes[i]!);
    }
    delivered = upTo;
  };

  // Fills in flight (warms and follow fills): key → its flight, and their landings in time
  // order (the latency is constant and fills start in time order).
  const inFlight = new Map<string, Flight>();
  const landKey: string[] = [];
  const landAt: number[] = [];
  const landFlight: Flight[] = [];
  let landHead = 0;
  const launch = (key: string, bytes: number, at: number, follow: boolean) => {
    const f: Flight = { bytes, follow, landsAt: at + options.fetchLatencySeconds };
    inFlight.set(key, f);
    landKey.push(key);
    landAt.push(at + options.fetchLatencySeconds);
    landFlight.push(f);
  };

  // The pass in progress: its tasks, the next limiter start, and the limiter's state.
  let tasks: WarmTask[] = [];
  let task = 0;
  let phase: 'probe' | 'get' = 'probe';
  let pendingAt = Number.POSITIVE_INFINITY;
  let passActive = false;
  let passEnd = 0;
  let nextPassAt = mode.worker && trace.n > 0 ? sec(0) : Number.POSITIVE_INFINITY;
  const slotFree = new Float64Array(options.concurrency);
  let slot = 0;
  let nextStart = 0;
  const gap = 1 / options.requestsPerSecond;
  const acquire = (earliest: number, duration: number): number => {
    const start = Math.max(earliest, nextStart, slotFree[slot]!);
    slotFree[slot] = start + duration;
    slot = (slot + 1) % options.concurrency;
    nextStart = start + gap;
    if (start + duration > passEnd) passEnd = start + duration;
    return start;
  };
  const schedule = (earliest: number) => {
    if (task >= tasks.length) {
      passActive = false;
      pendingAt = Number.POSITIVE_INFINITY;
      nextPassAt = passEnd + options.passIntervalSeconds;
      return;
    }
    phase = freshCheck ? 'probe' : 'get';
    pendingAt = acquire(earliest, freshCheck ? 0 : options.fetchLatencySeconds);
  };
  let served = 0;
  let passAt = 0;
  const startPass = (now: number) => {
    r.passes++;
    deliver(now, served);
    payoff.expire(now * 1000);
    passAt = now * 1000;
    tasks = makePlan(model, planConfig, now * 1000, payoff.passBudget(now * 1000, budget), payoff).tasks;
    task = 0;
    passActive = true;
    passEnd = now;
    slotFree.fill(Number.NEGATIVE_INFINITY);
    slot = 0;
    nextStart = now;
    schedule(now);
  };
  const step = () => {
    const now = pendingAt;
    const t = tasks[task]!;
    const held = store.has(t.key) || inFlight.has(t.key);
    if (phase === 'probe') {
      r.probes++;
      if (held) {
        task++;
        schedule(now);
      } else {
        phase = 'get';
        pendingAt = acquire(now, options.fetchLatencySeconds);
      }
      return;
    }
    // A GET for an object the cache holds is an edge hit: no origin fetch.
    if (!held) {
      r.prefetches++;
      r.prefetchBytes += t.estBytes;
      r.originBytes += t.estBytes;
      payoff.warmed(t.key, passAt, t.estBytes);
      launch(t.key, t.estBytes, now, false);
    }
    task++;
    schedule(now);
  };
  const land = () => {
    const key = landKey[landHead]!;
    const at = landAt[landHead]!;
    const f = landFlight[landHead]!;
    landHead++;
    if (landHead > 4096 && landHead * 2 > landKey.length) {
      landKey.splice(0, landHead);
      landAt.splice(0, landHead);
      landFlight.splice(0, landHead);
      landHead = 0;
    }
    if (f.follow) follower!.settled(key, at * 1000, f.bytes);
    if (inFlight.get(key) !== f) return; // a viewer joined it: stored as that viewer's miss
    inFlight.delete(key);
    if (store.has(key) || !store.set(key, 2, f.bytes)) return;
    unused.set(key, f.follow);
    // A follow fill lands as the access it stands for (the edge does the same: EdgeFollow).
    if (f.follow) store.get(key);
  };
  const advance = (t: number) => {
    for (;;) {
      const tl = landHead < landKey.length ? landAt[landHead]! : Number.POSITIVE_INFINITY;
      const tp = passActive ? pendingAt : nextPassAt;
      if (tl <= tp) {
        if (tl > t) return;
        land();
      } else {
        if (tp > t) return;
        if (passActive) step();
        else startPass(tp);
      }
    }
  };
  const cached = (key: string) => store.has(key) || inFlight.has(key);

  // A request that waited for an earlier answer (trace.after: a page's asset) is made that
  // answer's wait later than its trace time: requests wait here, by when they are made.
  const after = trace.after;
  const wait = after ? new Float64Array(trace.n) : undefined;
  const done = after ? new Uint8Array(trace.n) : undefined;
  const later = new Later();
  const serve = (i: number, now: number) => {
    advance(now);
    const key = keyOf(i);
    const size = trace.sizes[i]!;
    let hit = false;
    if (store.get(key) !== undefined) {
      hit = true;
      r.hits++;
      r.hitBytes += size;
      hitAt[i] = 1;
      const was = unused.get(key);
      if (was !== undefined) {
        unused.delete(key);
        if (was) r.followUsed++;
        else r.prefetchUsed++;
      }
    } else {
      const f = inFlight.get(key);
      if (f) {
        inFlight.delete(key);
        if (f.follow) r.followJoined++;
        else r.prefetchJoined++;
        if (wait) wait[i] = Math.max(0, f.landsAt - now);
      } else {
        r.originBytes += size;
        if (wait) wait[i] = options.fetchLatencySeconds;
      }
      // A joined follow fill is still stored as one access (the edge marks every fill it fetched).
      if (store.set(key, 1, size) && f?.follow) store.get(key);
    }
    if (done) {
      done[i] = 1;
      while (served < trace.n && done[served] === 1) served++;
    }
    if (!follower || trace.learn?.[i] === 0) return;
    const follows = follower.request(key, clientName(trace.clients[i]!), now * 1000, size, hit, cached);
    for (const t of follows) {
      r.follows++;
      r.followBytes += t.estBytes;
      r.originBytes += t.estBytes;
      launch(t.key, t.estBytes, now, true);
    }
  };
  for (let i = 0; i < trace.n; i++) {
    const t = sec(i);
    while (later.size > 0 && later.peekTime() <= t) {
      const at = later.peekTime();
      serve(later.pop(), at);
    }
    const p = after ? after[i]! : -1;
    const d = p >= 0 ? wait![p]! : 0;
    if (d > 0) later.push(t + d, i);
    else {
      if (!done) served = i;
      serve(i, t);
    }
  }
  while (later.size > 0) {
    const at = later.peekTime();
    serve(later.pop(), at);
  }
  if (follower) {
    r.followStats = follower.stats;
    r.followJudged = follower.payoff.totals;
  }
  return r;
}

/** The bounds of ./bounds.ts as runs: origin bytes are what the byte-hit schedule misses. */
export function runBounds(trace: Trace, iv: Intervals, cacheBytes: number): { upper: SimRun; lower: SimRun } {
  const as = (name: string, b: BoundResult): SimRun => {
    const r = emptyRun(name, trace);
    r.hits = b.hits;
    r.hitBytes = b.hitBytes;
    r.originBytes = r.requestedBytes - b.hitBytes;
    return r;
  };
  return { upper: as('PFOO-U', pfooUpper(iv, cacheBytes)), lower: as('PFOO-L', pfooLower(iv, cacheBytes)) };
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
