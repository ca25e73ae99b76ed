/**
 * From evidence to proposals: per group (a class, or a path prefix of one), the change rate
 * (src/ttl/estimate.ts), the TTL bound it allows, and the replay of the group's logged
 * requests under the current and the proposed TTL (src/ttl/replay.ts).
 *
 * "The TTL that maximises hit ratio without serving objects staler than their change
 * interval": in the replay's infinite cache the hit ratio only grows with the TTL, so the
 * best TTL is the largest one the staleness bound allows — the bound itself, clamped into the
 * class's [ttl.min, ttl.max] (the edge clamps there anyway) and rounded down to whole seconds.
 */
import type { EdgewiseConfig } from '../config/schema.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import { estimateRate, type RateEstimate, ttlBound } from './estimate.js';
import type { Evidence, GroupEvidence } from './evidence.js';
import { type ReplayResult, replay } from './replay.js';

export interface SuggestOptions {
  /** Probability a copy served at any age below the TTL is stale (≤ 1 − 1/e). */
  maxStale: number;
  /** Revalidations a group needs before its TTL is changed. */
  minEvidence: number;
}

export const DEFAULT_MAX_STALE = 0.1;
export const DEFAULT_MIN_EVIDENCE = 20;

export interface Proposal {
  cls: string;
  /** '' for a whole class. */
  prefix: string;
  requests: number;
  objects: number;
  estimate: RateEstimate;
  /** The edge TTL the class gives today (ttl.default clamped into [min, max]), seconds. */
  current: number;
  /** The TTL proposed, or undefined when the group is left alone (`note` says why). */
  proposed: number | undefined;
  note: string;
  before: ReplayResult;
  after: ReplayResult | undefined;
}

/** The edge TTL for a response with edgewise's own s-maxage (= ttl.default), CloudFront-clamped. */
export function currentTtl(cls: Pick<ContentClassConfig, 'ttl'>): number {
  return Math.min(cls.ttl.max, Math.max(cls.ttl.min, cls.ttl.default));
}

function proposalFor(
  g: GroupEvidence | undefined,
  cls: ContentClassConfig,
  prefix: string,
  o: SuggestOptions,
): Proposal {
  const observations = g?.observations ?? [];
  const requests = g ? [...g.requests.values()] : [];
  const estimate = estimateRate(observations);
  const current = currentTtl(cls);
  const before = replay(requests, current, estimate.rate);
  const base = {
    cls: cls.name,
    prefix,
    requests: before.requests,
    objects: requests.length,
    estimate,
    current,
    before,
  };
  if (estimate.n < o.minEvidence)
    return {
      ...base,
      proposed: undefined,
      after: undefined,
      note: `too little evidence: ${estimate.n} revalidation${estimate.n === 1 ? '' : 's'} (needs ${o.minEvidence}); left alone`,
    };
  const bound = ttlBound(estimate, o.maxStale);
  if (bound === undefined)
    return { ...base, proposed: undefined, after: undefined, note: 'no interval to go by; left alone' };
  const floor = Math.max(1, cls.ttl.min);
  let proposed = Math.max(floor, Math.min(cls.ttl.max, Math.floor(bound)));
  const notes: string[] = [];
  if (estimate.kind === 'no-change')
    notes.push(
      `no change seen: only lengthened up to the longest interval seen unchanged (${Math.floor(bound)} s)`,
    );
  if (estimate.kind === 'all-changed')
    notes.push('every revalidation found a change: rate bounded (docs/ttl.md)');
  if (bound > cls.ttl.max)
    notes.push(`capped by ttl.max (${cls.ttl.max} s; the bound is ${Math.floor(bound)} s)`);
  if (bound < floor) notes.push(`held at ${floor} s (ttl.min, or 1 s); the bound is ${bound.toFixed(2)} s`);
  // Never lengthen on "no change seen" beyond what was observed, and never shorten on it.
  if (estimate.kind === 'no-change' && proposed < current) proposed = current;
  const after = replay(requests, proposed, estimate.rate);
  if (proposed === current) notes.push('already at the proposed TTL');
  return { ...base, proposed: proposed === current ? undefined : proposed, after, note: notes.join('; ') };
}

export function suggest(evidence: Evidence, config: Readonly<EdgewiseConfig>, o: SuggestOptions): Proposal[] {
  const out: Proposal[] = [];
  const byClass = new Map(config.classes.map((c) => [c.name, c]));
  const grouped = [...evidence.groups.values()];
  for (const cls of config.classes) {
    const mine = grouped.filter((g) => g.cls === cls.name).sort((a, b) => a.prefix.localeCompare(b.prefix));
    if (mine.length === 0) {
      out.push(proposalFor(undefined, cls, '', o));
      continue;
    }
    for (const g of mine) out.push(proposalFor(g, byClass.get(g.cls) ?? cls, g.prefix, o));
  }
  return out;
}
