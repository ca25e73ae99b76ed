/**
 * The offline bound for the simulator: Belady's MIN made size-aware by sampling, as in
 * "Learning Relaxed Belady for CDN caching" (LRB, NSDI 2020) and webcachesim's Belady-Size:
 * knowing the future, on each eviction sample up to 64 cached objects and evict the one
 * whose (distance to next request × size) is largest; never admit an object that is not
 * requested again. With variable sizes exact optimal caching is NP-hard, so this is a strong
 * offline reference rather than a proven maximum.
 */
import type { Trace } from './trace.js';

export interface OfflineResult {
  hits: number;
  hitBytes: number;
}

const SAMPLES = 64;

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

export function offlineBound(
  trace: Trace,
  cacheBytes: number,
  next: Int32Array = nextUses(trace),
  seed = 1,
): OfflineResult {
  const nKeys = trace.keys.length;
  const pos = new Int32Array(nKeys).fill(-1);
  const nextOf = new Float64Array(nKeys);
  const sizeOf = new Float64Array(nKeys);
  const held = new Int32Array(nKeys);
  let count = 0;
  let bytes = 0;
  let hits = 0;
  let hitBytes = 0;
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const remove = (id: number) => {
    const p = pos[id]!;
    const lastId = held[--count]!;
    held[p] = lastId;
    pos[lastId] = p;
    pos[id] = -1;
    bytes -= sizeOf[id]!;
  };
  for (let i = 0; i < trace.n; i++) {
    const id = trace.ids[i]!;
    const size = trace.sizes[i]!;
    const nx = next[i]!;
    if (pos[id] !== -1) {
      hits++;
      hitBytes += size;
      nextOf[id] = nx;
      if (sizeOf[id] !== size) {
        // The object changed size: account the new one (drop it if it no longer fits).
        bytes += size - sizeOf[id]!;
        sizeOf[id] = size;
        if (bytes > cacheBytes) remove(id);
      }
      continue;
    }
    if (nx >= trace.n || size > cacheBytes) continue;
    const score = (nx - i) * size;
    let admitted = true;
    while (bytes + size > cacheBytes) {
      let worst = -1;
      let worstScore = -1;
      const k = Math.min(SAMPLES, count);
      for (let j = 0; j < k; j++) {
        const c = held[Math.floor(rand() * count)]!;
        const sc = (nextOf[c]! - i) * sizeOf[c]!;
        if (sc > worstScore) {
          worstScore = sc;
          worst = c;
        }
      }
      // Admission: bypass an object worth less than everything it would displace.
      if (worst === -1 || worstScore < score) {
        admitted = false;
        break;
      }
      remove(worst);
    }
    if (!admitted) continue;
    pos[id] = count;
    held[count++] = id;
    nextOf[id] = nx;
    sizeOf[id] = size;
    bytes += size;
  }
  return { hits, hitBytes };
}
