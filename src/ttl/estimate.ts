/**
 * How often objects change, from interval-censored evidence, and the TTL that follows.
 *
 * A revalidation sees an object at two moments: when its copy was fetched or last validated,
 * and `d` seconds later when the stale copy is revalidated. It says only whether the object
 * changed at least once in between (a 200 with a new validator) or not at all (a 304), never
 * when or how often: each observation is censored to the interval (0, d]. With changes modelled
 * as a Poisson process of rate λ per object of a group (a class, or a path prefix of one):
 *
 *   P(unchanged over d) = e^(−λd),   P(changed within d) = 1 − e^(−λd)
 *   log L(λ) = −λ·U + Σ_changed ln(1 − e^(−λ·d_i)),   U = Σ_unchanged d_j
 *
 * log L is concave; its maximum is the root of the score −U + Σ_changed d_i / (e^(λ·d_i) − 1),
 * found by bisection (the score falls monotonically from +∞ to −U). With equal intervals d,
 * n revalidations and k changes it is λ̂ = ln(n / (n − k)) / d, the closed form the tests check.
 *
 * Why this and not a per-object minimum observed change interval: an object is revalidated
 * only once its copy has expired, so every interval seen is at least the current TTL and most
 * objects are seen a handful of times; a per-object minimum can never propose a TTL below the
 * current one and is dominated by noise. Pooling a group's observations in the likelihood uses
 * every interval, short and long, changed or not, and a shorter TTL than today's falls out of
 * the changed fraction directly.
 *
 * Edge cases: no change seen gives λ̂ = 0 (the evidence only bounds the change interval from
 * below: it is longer than the longest interval seen unchanged); every revalidation changed
 * gives λ̂ = ∞ (no finite maximum), replaced by the estimate as if half of one more
 * observation at the median interval had been unchanged, λ = ln(2n) / median(d), so the TTL
 * proposed is short but not zero.
 */

export interface Observation {
  /** Seconds between the copy's fetch (or last validation) and this revalidation. */
  interval: number;
  changed: boolean;
}

export interface RateEstimate {
  /** Revalidations used. */
  n: number;
  /** Of which found a change. */
  changed: number;
  /** Changes per second per object (0: none seen). */
  rate: number;
  /** How the rate was obtained. */
  kind: 'mle' | 'no-change' | 'all-changed';
  /** Longest interval observed unchanged, seconds (0 when none). */
  longestUnchanged: number;
}

function median(sorted: number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/** The maximum-likelihood change rate of a group from its revalidations. */
export function estimateRate(obs: readonly Observation[]): RateEstimate {
  const valid = obs.filter((o) => Number.isFinite(o.interval) && o.interval > 0);
  const changed = valid.filter((o) => o.changed).map((o) => o.interval);
  let unchangedTotal = 0;
  let longestUnchanged = 0;
  for (const o of valid) {
    if (o.changed) continue;
    unchangedTotal += o.interval;
    if (o.interval > longestUnchanged) longestUnchanged = o.interval;
  }
  const base = { n: valid.length, changed: changed.length, longestUnchanged };
  if (changed.length === 0) return { ...base, rate: 0, kind: 'no-change' };
  if (unchangedTotal === 0) {
    const d = median(changed.sort((a, b) => a - b));
    return { ...base, rate: Math.log(2 * changed.length) / d, kind: 'all-changed' };
  }
  const score = (lambda: number) => {
    let s = -unchangedTotal;
    for (const d of changed) s += d / Math.expm1(lambda * d);
    return s;
  };
  // Bracket the root in log space, then bisect (monotone score: always converges).
  let lo = 1e-12;
  let hi = 1;
  while (score(hi) > 0 && hi < 1e12) hi *= 16;
  while (score(lo) < 0 && lo > 1e-300) lo /= 16;
  for (let i = 0; i < 200; i++) {
    const mid = Math.sqrt(lo * hi);
    if (score(mid) > 0) lo = mid;
    else hi = mid;
    if (hi / lo < 1 + 1e-12) break;
  }
  return { ...base, rate: Math.sqrt(lo * hi), kind: 'mle' };
}

/** Largest allowed staleness budget: a TTL of one mean change interval (1 − 1/e). */
export const MAX_STALE_LIMIT = 1 - Math.exp(-1);

/**
 * The TTL bound from an estimate: the time within which an object changes with probability
 * `maxStale` (so a copy served at any age below it is stale with at most that probability),
 * never more than the mean change interval 1/λ. With no change seen, the longest interval seen
 * unchanged (nothing supports more). Seconds, or undefined when there is no bound to give.
 */
export function ttlBound(est: RateEstimate, maxStale: number): number | undefined {
  if (est.kind === 'no-change') return est.longestUnchanged > 0 ? est.longestUnchanged : undefined;
  const q = Math.min(maxStale, MAX_STALE_LIMIT);
  return -Math.log1p(-q) / est.rate;
}
