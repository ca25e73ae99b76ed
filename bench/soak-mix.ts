/**
 * The key mix of `npm run bench soak` (bench/soak.ts): a seeded, reproducible stream of viewer
 * requests over a catalogue larger than the edge's memory tier.
 *
 *   - Catalogue: objects with sizes log-uniform from 1 KiB to just under the disk threshold
 *     (memory tier) until they add up to `oversubscribe` × memoryBytes, plus `diskShare` of keys
 *     from the threshold to 1.5× it (disk tier). Popularity is Zipf(s) over a shuffled order, so
 *     an object's size says nothing about how often it is asked for.
 *   - Kinds: plain GETs of catalogue keys; If-None-Match with the object's ETag (expect 304);
 *     a single Range inside the object (expect 206); GETs of keys never asked before (a miss of
 *     new content, which the cache must make room for); GETs of absent paths (expect 404), a
 *     small set asked repeatedly as broken links are.
 *
 * Paths carry the size (/t/s/<id>-<bytes>.bin) so bench/soak-origin.ts needs no catalogue; the
 * ETag is derived from the path the same way there and here.
 */
import { uniform } from '../src/ttl/evidence.js';

export type Kind = 'get' | 'conditional' | 'range' | 'new' | 'absent';
export const KINDS: readonly Kind[] = ['get', 'conditional', 'range', 'new', 'absent'];

export interface SoakRequest {
  kind: Kind;
  path: string;
  headers: Record<string, string>;
  /** The status a correct edge answers. */
  status: number;
  /** Body bytes expected with that status (undefined: not checked, the 404 body). */
  bytes: number | undefined;
}

export interface MixOptions {
  memoryBytes: number;
  diskThresholdBytes: number;
  oversubscribe: number;
  diskShare: number;
  zipf: number;
  /** Shares of the kinds other than 'get' (which takes the rest). */
  shares: Record<Exclude<Kind, 'get'>, number>;
  seed: number;
}

/** The ETag the soak origin sends for an object path (quoted, strong). */
export function etagOf(id: string, bytes: number): string {
  return `"${id}-${bytes}"`;
}

export function objectPath(id: string, bytes: number): string {
  return `/t/s/${id}-${bytes}.bin`;
}

export interface Catalogue {
  sizes: number[];
  memoryTierBytes: number;
  diskTierKeys: number;
  diskTierBytes: number;
}

export class SoakMix {
  readonly catalogue: Catalogue;
  readonly #rand: () => number;
  readonly #cdf: Float64Array;
  readonly #order: number[];
  readonly #o: MixOptions;
  readonly #cut: Array<[Kind, number]>;
  #fresh = 0;

  constructor(o: MixOptions) {
    this.#o = o;
    // mulberry32, seeded: two runs ask for the same keys in the same order.
    this.#rand = uniform(o.seed);
    const sizes: number[] = [];
    let memoryTierBytes = 0;
    let diskTierKeys = 0;
    let diskTierBytes = 0;
    while (memoryTierBytes < o.oversubscribe * o.memoryBytes) {
      const s = this.#size();
      sizes.push(s);
      if (s >= o.diskThresholdBytes) {
        diskTierKeys++;
        diskTierBytes += s;
      } else memoryTierBytes += s;
    }
    this.catalogue = { sizes, memoryTierBytes, diskTierKeys, diskTierBytes };
    // Zipf CDF over ranks 1..n; rank r is key #order[r].
    const n = sizes.length;
    this.#cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) {
      sum += 1 / (r + 1) ** o.zipf;
      this.#cdf[r] = sum;
    }
    for (let r = 0; r < n; r++) this.#cdf[r]! /= sum;
    this.#order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.#rand() * (i + 1));
      [this.#order[i], this.#order[j]] = [this.#order[j]!, this.#order[i]!];
    }
    let acc = 0;
    this.#cut = (Object.entries(o.shares) as Array<[Kind, number]>).map(([k, share]) => {
      acc += share;
      return [k, acc];
    });
  }

  /** 1 − diskShare log-uniform in [1 KiB, threshold), diskShare uniform in [threshold, 1.5 × threshold). */
  #size(): number {
    const t = this.#o.diskThresholdBytes;
    if (this.#rand() < this.#o.diskShare) return Math.floor(t + this.#rand() * (t / 2));
    return Math.floor(1024 * (t / 1024) ** this.#rand());
  }

  /** A catalogue key by popularity. */
  #popular(): number {
    const u = this.#rand();
    let lo = 0;
    let hi = this.#cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return this.#order[lo]!;
  }

  /** Every catalogue object once, for priming the cache before the measured phases. */
  primeList(): SoakRequest[] {
    return this.catalogue.sizes.map((bytes, i) => this.#get('get', `k${i}`, bytes));
  }

  #get(kind: Kind, id: string, bytes: number): SoakRequest {
    return { kind, path: objectPath(id, bytes), headers: {}, status: 200, bytes };
  }

  next(): SoakRequest {
    const u = this.#rand();
    const kind = this.#cut.find(([, c]) => u < c)?.[0] ?? 'get';
    if (kind === 'new') return this.#get('new', `n${this.#fresh++}`, this.#size());
    if (kind === 'absent') {
      // 50 broken links, the first few asked most (rank log-uniform over 1..50).
      const r = Math.min(49, Math.floor(50 ** this.#rand()) - 1);
      return { kind, path: `/t/s/absent/${r}.bin`, headers: {}, status: 404, bytes: undefined };
    }
    const i = this.#popular();
    const bytes = this.catalogue.sizes[i]!;
    const id = `k${i}`;
    if (kind === 'conditional')
      return {
        kind,
        path: objectPath(id, bytes),
        headers: { 'if-none-match': etagOf(id, bytes) },
        status: 304,
        bytes: 0,
      };
    if (kind === 'range') {
      const len = Math.min(bytes, 1 + Math.floor(this.#rand() * 65536));
      const start = Math.floor(this.#rand() * (bytes - len + 1));
      return {
        kind,
        path: objectPath(id, bytes),
        headers: { range: `bytes=${start}-${start + len - 1}` },
        status: 206,
        bytes: len,
      };
    }
    return this.#get('get', id, bytes);
  }
}
