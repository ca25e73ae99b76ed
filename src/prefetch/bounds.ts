/**
 * Offline bounds on demand caching with variable object sizes, from Berger, Beckmann and
 * Harchol-Balter, "Practical Bounds on Optimal Caching with Variable Object Sizes" (SIGMETRICS
 * 2018): PFOO-U, an upper bound, and PFOO-L, a feasible offline schedule (a lower reference).
 *
 * The model is FOO's interval formulation. Each pair of consecutive requests to one object, at
 * request indices s < e, is an interval. Keeping the object over it occupies its size (the size
 * requested at s) at each of the e − s request times s … e−1 and makes request e a hit. A demand
 * cache of C bytes — objects enter only when requested, any may be bypassed or evicted — is a
 * choice of intervals whose sizes sum to at most C at every request time; the offline optimum
 * OPT is the best such choice. First requests can never hit, and prefetching is outside the
 * model (a prefetch can hit a first request), so prefetch may exceed both numbers.
 *
 * - PFOO-U relaxes "at most C at every time" to "at most C on average over the N request
 *   times": Σ size × (e − s) ≤ C × N. Every feasible schedule meets the relaxed constraint, so
 *   the relaxation's optimum is ≥ OPT. The relaxation is a fractional knapsack (value per
 *   interval: 1 for object hits, the bytes of request e for byte hits; weight size × length),
 *   whose optimum takes intervals by value per weight, the last one fractionally.
 * - PFOO-L takes intervals in the same order and keeps one only if it fits at every time it
 *   spans (a segment tree of occupancy). The result is feasible, so it is ≤ OPT.
 *
 * Object and byte hit ratio are separate problems (the OHR order is by size × length, the BHR
 * order by length per byte), so each column of a bound row comes from its own schedule.
 * Intervals of an object larger than C are left out of both (no schedule can hold it).
 */
import type { Trace } from './trace.js';

/** Next request index of the same key for every request (n when none). */
export function nextUses(trace: Trace): Int32Array {
  const next = new Int32Array(trace.n);
  const last = new Int32Array(trace.keys.length).fill(trace.n);
  for (let i = trace.n - 1; i >= 0; i--) {
    const id = trace.ids[i]!;
    next[i] = last[id]!;
    last[id] = i;
  }
  return next;
}

/** The trace's intervals in the two greedy orders; independent of the cache size, so built once. */
export interface Intervals {
  n: number;
  next: Int32Array;
  sizes: Float64Array;
  /** Interval starts (request indices with a next use) by size × length, ascending. */
  byObjectValue: Uint32Array;
  /** Interval starts by size × length ÷ bytes of the next request, ascending. */
  byByteValue: Uint32Array;
}

export function intervals(trace: Trace, next: Int32Array = nextUses(trace)): Intervals {
  const n = trace.n;
  const sizes = trace.sizes;
  let m = 0;
  for (let i = 0; i < n; i++) if (next[i]! < n) m++;
  const starts = new Uint32Array(m);
  for (let i = 0, j = 0; i < n; i++) if (next[i]! < n) starts[j++] = i;
  // Sort keys once into an array indexed like `starts`, then sort positions by them.
  const key = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const s = starts[j]!;
    key[j] = sizes[s]! * (next[s]! - s);
  }
  const byObjectValue = sortBy(starts, key);
  for (let j = 0; j < m; j++) {
    const s = starts[j]!;
    const value = sizes[next[s]!]!;
    // A zero-byte next request is worth no bytes: last.
    key[j] = value > 0 ? (sizes[s]! * (next[s]! - s)) / value : Number.POSITIVE_INFINITY;
  }
  const byByteValue = sortBy(starts, key);
  return { n, next, sizes, byObjectValue, byByteValue };
}

function sortBy(starts: Uint32Array, key: Float64Array): Uint32Array {
  const pos = new Uint32Array(starts.length);
  for (let j = 0; j < pos.length; j++) pos[j] = j;
  pos.sort((a, b) => key[a]! - key[b]! || a - b);
  for (let j = 0; j < pos.length; j++) pos[j] = starts[pos[j]!]!;
  return pos;
}

export interface BoundResult {
  /** Object hits (fractional for PFOO-U) of the object-hit schedule. */
  hits: number;
  /** Hit bytes of the byte-hit schedule. */
  hitBytes: number;
}

/** PFOO-U: the fractional knapsack over the averaged capacity C × N. An upper bound on OPT. */
export function pfooUpper(iv: Intervals, cacheBytes: number): BoundResult {
  const run = (order: Uint32Array, bytes: boolean): number => {
    let budget = cacheBytes * iv.n;
    let value = 0;
    for (let j = 0; j < order.length; j++) {
      const s = order[j]!;
      const size = iv.sizes[s]!;
      if (size > cacheBytes) continue;
      const e = iv.next[s]!;
      const w = size * (e - s);
      const v = bytes ? iv.sizes[e]! : 1;
      if (w <= budget) {
        budget -= w;
        value += v;
      } else {
        value += (v * budget) / w;
        break;
      }
    }
    return value;
  };
  return { hits: run(iv.byObjectValue, false), hitBytes: run(iv.byByteValue, true) };
}

/** PFOO-L: the same order, keeping an interval only where it fits throughout. A feasible schedule. */
export function pfooLower(iv: Intervals, cacheBytes: number): BoundResult {
  const tree = new MaxAddTree(iv.n);
  const run = (order: Uint32Array, bytes: boolean): number => {
    tree.clear();
    let value = 0;
    for (let j = 0; j < order.length; j++) {
      const s = order[j]!;
      const size = iv.sizes[s]!;
      if (size > cacheBytes) continue;
      const e = iv.next[s]!;
      if (tree.max(s, e) + size > cacheBytes) continue;
      tree.add(s, e, size);
      value += bytes ? iv.sizes[e]! : 1;
    }
    return value;
  };
  return { hits: run(iv.byObjectValue, false), hitBytes: run(iv.byByteValue, true) };
}

/**
 * Range add, range max over [0, n), bottom-up with lazy increments on inner nodes (2n + n
 * doubles: 24 bytes a request). Sizes are whole bytes, so sums stay exact in a double.
 */
class MaxAddTree {
  readonly #n: number;
  readonly #h: number;
  readonly #t: Float64Array;
  readonly #d: Float64Array;

  constructor(n: number) {
    this.#n = Math.max(1, n);
    this.#h = 32 - Math.clz32(this.#n);
    this.#t = new Float64Array(2 * this.#n);
    this.#d = new Float64Array(this.#n);
  }

  clear(): void {
    this.#t.fill(0);
    this.#d.fill(0);
  }

  #apply(p: number, v: number): void {
    this.#t[p]! += v;
    if (p < this.#n) this.#d[p]! += v;
  }

  #build(p: number): void {
    const t = this.#t;
    while (p > 1) {
      p >>= 1;
      t[p] = Math.max(t[2 * p]!, t[2 * p + 1]!) + this.#d[p]!;
    }
  }

  #push(p: number): void {
    const d = this.#d;
    for (let s = this.#h; s > 0; s--) {
      const i = p >> s;
      if (i > 0 && d[i] !== 0) {
        this.#apply(2 * i, d[i]!);
        this.#apply(2 * i + 1, d[i]!);
        d[i] = 0;
      }
    }
  }

  /** Adds v to positions [l, r). */
  add(l: number, r: number, v: number): void {
    l += this.#n;
    r += this.#n;
    const l0 = l;
    const r0 = r;
    for (; l < r; l >>= 1, r >>= 1) {
      if (l & 1) this.#apply(l++, v);
      if (r & 1) this.#apply(--r, v);
    }
    this.#build(l0);
    this.#build(r0 - 1);
  }

  /** Max over positions [l, r). */
  max(l: number, r: number): number {
    l += this.#n;
    r += this.#n;
    this.#push(l);
    this.#push(r - 1);
    let res = Number.NEGATIVE_INFINITY;
    for (; l < r; l >>= 1, r >>= 1) {
      if (l & 1) res = Math.max(res, this.#t[l++]!);
      if (r & 1) res = Math.max(res, this.#t[--r]!);
    }
    return res;
  }
}
