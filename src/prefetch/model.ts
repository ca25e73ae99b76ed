/**
 * What the prefetch worker learns from access logs, in bounded memory:
 * - per cache key, an exponentially decayed request rate (requests per half-life) and the
 *   object's size, so the planner can rank by expected hits per byte;
 * - per cache key, a handful of successors: keys the same client (IP + User-Agent) requested
 *   within a short window after it, with counts kept by the Space-Saving rule (a new successor
 *   takes the slot of the weakest one and inherits its count, remembered as its possible
 *   overcount), so each key costs a fixed size; predictions count only what is certain;
 * - per cache key, when the edge last filled it from the origin (a Miss or RefreshHit in the
 *   log), for refresh-ahead of hot objects whose TTL runs out.
 * The key and client tables are BoundedMaps: the least recently seen are forgotten first.
 */
import { BoundedMap } from './bounded-map.js';

export interface ModelOptions {
  /** Keys the model remembers at most. */
  maxKeys: number;
  /** Clients (sessions) followed at once. */
  maxClients: number;
  /** Successors remembered per key. */
  successorsPerKey: number;
  /** A successor must follow within this many time units (ms for logs). */
  windowMs: number;
  /** ...and within this many requests of the same client. */
  windowRequests: number;
  /** Half-life of the decayed request rate, in time units. */
  halfLifeMs: number;
}

export interface Successor {
  key: string;
  count: number;
  /** Space-Saving's possible overcount: the count inherited when it took its slot. */
  err: number;
}

interface KeyStats {
  rate: number;
  lastSeen: number;
  bytes: number;
  /** Requests seen for this key (not decayed): the denominator of a successor's confidence. */
  requests: number;
  succ: Successor[];
  /** Last time the edge filled this key from the origin (NaN when unknown). */
  filledAt: number;
}

interface ClientWindow {
  keys: string[];
  times: number[];
}

export interface Prediction {
  key: string;
  /** Share of this key's requests that the successor followed (0–1). */
  confidence: number;
  count: number;
}

export interface HotKey {
  key: string;
  rate: number;
  bytes: number;
  filledAt: number;
}

/** The model as JSON: keys with their stats and successors (clients' windows are not kept). */
export interface ModelSnapshot {
  version: 1;
  /** [key, rate, lastSeen, bytes, requests, filledAt (null when unknown), successors as [key, count, overcount]] */
  keys: Array<[string, number, number, number, number, number | null, Array<[string, number, number?]>]>;
}

export class PrefetchModel {
  readonly options: ModelOptions;
  readonly #keys: BoundedMap<string, KeyStats>;
  readonly #clients: BoundedMap<string, ClientWindow>;
  readonly #ln2: number;
  observed = 0;

  constructor(options: ModelOptions) {
    this.options = options;
    this.#keys = new BoundedMap(options.maxKeys);
    this.#clients = new BoundedMap(options.maxClients);
    this.#ln2 = Math.LN2 / options.halfLifeMs;
  }

  get keyCount(): number {
    return this.#keys.size;
  }

  /** Keys forgotten because the table was full. */
  get forgotten(): number {
    return this.#keys.dropped;
  }

  /**
   * Records one request. `filled` says the edge fetched it from the origin (Miss, RefreshHit).
   * Records may arrive out of order (late log files): decay never runs backwards, and a
   * successor is only learned from requests earlier in the same client's window.
   */
  observe(key: string, client: string, time: number, bytes: number, filled = false): void {
    this.observed++;
    let k = this.#keys.get(key);
    if (!k) {
      k = { rate: 0, lastSeen: time, bytes, requests: 0, succ: [], filledAt: Number.NaN };
      this.#keys.set(key, k);
    }
    if (time >= k.lastSeen) {
      k.rate = k.rate * Math.exp(-this.#ln2 * (time - k.lastSeen)) + 1;
      k.lastSeen = time;
    } else {
      k.rate += Math.exp(-this.#ln2 * (k.lastSeen - time));
    }
    k.requests++;
    if (bytes > 0) k.bytes = bytes;
    if (filled && !(k.filledAt >= time)) k.filledAt = time;

    let w = this.#clients.get(client);
    if (!w) {
      w = { keys: [], times: [] };
      this.#clients.set(client, w);
    }
    // Each earlier key in the window learns `key` once, however often it appears there.
    for (let i = w.keys.length - 1; i >= 0; i--) {
      const prevKey = w.keys[i]!;
      const dt = time - w.times[i]!;
      if (dt < 0 || dt > this.options.windowMs || prevKey === key) continue;
      if (w.keys.lastIndexOf(prevKey) !== i) continue;
      const prev = this.#keys.peek(prevKey);
      if (prev) this.#learn(prev, key);
    }
    w.keys.push(key);
    w.times.push(time);
    if (w.keys.length > this.options.windowRequests) {
      w.keys.shift();
      w.times.shift();
    }
  }

  #learn(prev: KeyStats, next: string): void {
    const s = prev.succ;
    for (const x of s) {
      if (x.key === next) {
        x.count++;
        return;
      }
    }
    if (s.length < this.options.successorsPerKey) {
      s.push({ key: next, count: 1, err: 0 });
      return;
    }
    // Space-Saving: replace the weakest, inheriting its count (an overestimate bounded by it).
    let min = s[0]!;
    for (const x of s) if (x.count < min.count) min = x;
    min.key = next;
    min.err = min.count;
    min.count++;
  }

  /**
   * Successors of `key` with confidence ≥ minConfidence and count ≥ minCount, strongest first.
   * With `certain`, by the count certain to be theirs (without what a slot inherited: a key with
   * a free slot and many one-off followers would otherwise predict each newcomer at the slot's
   * count); the edge's follower asks so, the worker's planner (for now) does not.
   */
  predict(key: string, minConfidence: number, minCount: number, certain = false): Prediction[] {
    const k = this.#keys.peek(key);
    if (!k || k.requests === 0) return [];
    const out: Prediction[] = [];
    for (const s of k.succ) {
      const count = certain ? s.count - s.err : s.count;
      const confidence = Math.min(1, count / k.requests);
      if (count >= minCount && confidence >= minConfidence) out.push({ key: s.key, confidence, count });
    }
    return out.sort((a, b) => b.count - a.count);
  }

  bytesOf(key: string): number | undefined {
    return this.#keys.peek(key)?.bytes;
  }

  /**
   * A known key's size, learned after its request was observed (the edge observes a request on
   * arrival, before a miss's size is known), without counting another request.
   */
  sized(key: string, bytes: number): void {
    const k = this.#keys.peek(key);
    if (k && bytes > 0) k.bytes = bytes;
  }

  /** Decayed rate of `key` at `now`. */
  rate(key: string, now: number): number {
    const k = this.#keys.peek(key);
    if (!k) return 0;
    return k.rate * Math.exp(-this.#ln2 * Math.max(0, now - k.lastSeen));
  }

  /** The `n` keys with the highest decayed rate at `now` (ties: smaller first). */
  hot(now: number, n: number, minRate = 0): HotKey[] {
    const out: HotKey[] = [];
    for (const [key, k] of this.#keys.entries()) {
      const rate = k.rate * Math.exp(-this.#ln2 * Math.max(0, now - k.lastSeen));
      if (rate >= minRate) out.push({ key, rate, bytes: k.bytes, filledAt: k.filledAt });
    }
    out.sort((a, b) => b.rate - a.rate || a.bytes - b.bytes);
    return out.slice(0, n);
  }

  snapshot(): ModelSnapshot {
    const keys: ModelSnapshot['keys'] = [];
    for (const [key, k] of this.#keys.entries()) {
      keys.push([
        key,
        k.rate,
        k.lastSeen,
        k.bytes,
        k.requests,
        Number.isNaN(k.filledAt) ? null : k.filledAt,
        k.succ.map((s) => [s.key, s.count, s.err]),
      ]);
    }
    return { version: 1, keys };
  }

  /** Restores a snapshot (oldest first, so the bounded table keeps the most recent). Ignores malformed entries. */
  restore(snap: ModelSnapshot | undefined): number {
    if (snap?.version !== 1 || !Array.isArray(snap.keys)) return 0;
    let n = 0;
    for (const e of snap.keys) {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || !Array.isArray(e[6])) continue;
      const [key, rate, lastSeen, bytes, requests, filledAt, succ] = e;
      if (![rate, lastSeen, bytes, requests].every((x) => typeof x === 'number' && Number.isFinite(x)))
        continue;
      this.#keys.set(key, {
        rate,
        lastSeen,
        bytes,
        requests,
        filledAt: typeof filledAt === 'number' ? filledAt : Number.NaN,
        succ: succ
          .filter((x) => Array.isArray(x) && typeof x[0] === 'string' && typeof x[1] === 'number')
          .slice(0, this.options.successorsPerKey)
          .map(([k, c, e]) => ({ key: k, count: c, err: typeof e === 'number' && e >= 0 && e < c ? e : 0 })),
      });
      n++;
    }
    return n;
  }
}
