/**
 * Replays logged request times under a TTL, to compare the current TTL with a proposed one on
 * the traffic that actually came. What the replay assumes (docs/ttl.md says it too):
 * - an infinite cache with no eviction: a copy leaves only by expiring;
 * - the TTL applies as set (the origin sends it, as edgewise's origin does with s-maxage);
 * - the first request for an object in the logs is a miss under either TTL;
 * - an expired copy is revalidated, and the object has changed since the copy was validated
 *   with probability 1 − e^(−λ·age) (src/ttl/estimate.ts): a miss then, a RefreshHit otherwise;
 * - a copy served from cache at age a is stale (the origin changed it since) with
 *   probability 1 − e^(−λ·a).
 * Counts are expectations under that model, not a simulation draw.
 */

export interface ReplayResult {
  requests: number;
  /** Served from cache without asking the origin (x-edge-result-type Hit). */
  hits: number;
  /** Expired, revalidated, unchanged (RefreshHit): an origin request, no body. */
  refreshHits: number;
  /** First requests and changed revalidations: a full origin fetch. */
  misses: number;
  /** Expected responses served from cache whose object had changed at the origin. */
  stale: number;
}

/**
 * `objects`: each object's request times in ms, ascending. `ttl` in seconds, `rate` in changes
 * per second.
 */
export function replay(objects: Iterable<readonly number[]>, ttl: number, rate: number): ReplayResult {
  const out: ReplayResult = { requests: 0, hits: 0, refreshHits: 0, misses: 0, stale: 0 };
  const ttlMs = ttl * 1000;
  for (const times of objects) {
    let validated = Number.NaN;
    for (const t of times) {
      out.requests++;
      if (Number.isNaN(validated)) {
        out.misses++;
        validated = t;
        continue;
      }
      const ageS = (t - validated) / 1000;
      const unchanged = Math.exp(-rate * ageS);
      if (t - validated < ttlMs) {
        out.hits++;
        out.stale += 1 - unchanged;
        continue;
      }
      out.refreshHits += unchanged;
      out.misses += 1 - unchanged;
      validated = t;
    }
  }
  return out;
}

export function hitRatio(r: ReplayResult): number {
  return r.requests === 0 ? 0 : r.hits / r.requests;
}

export function staleRatio(r: ReplayResult): number {
  return r.requests === 0 ? 0 : r.stale / r.requests;
}
