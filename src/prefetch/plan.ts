/**
 * From what the model learned to a list of warming requests. Each candidate is a cache key
 * base (path + allowlisted query, as the edge builds it); the planner expands it into every
 * variant the edge keys separately — each normalised Accept-Encoding for classes that
 * compress, each image Accept for image paths — ranks by expected requests per byte and cuts
 * at the byte budget. Classes the worker cannot warm faithfully are left out: signed classes
 * (a warm request would need a viewer's signature) and classes whose cache key holds headers
 * or cookies (the variant belongs to one user).
 */

import { buildCacheKey, type CacheKey, type NormalisedEncoding } from '../cache-key.js';
import { classify } from '../classes.js';
import { compilePathPattern } from '../config/patterns.js';
import type { EdgewiseConfig } from '../config/schema.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import type { Payoff } from './backoff.js';
import type { PrefetchModel } from './model.js';

export interface WarmTask {
  /** Path and query to request (`/a.js`, `/img/x.jpg?w=640`). */
  url: string;
  /** The model's key (path + allowlisted query). */
  key: string;
  /** Exactly the request headers that select this variant in the edge's cache key. */
  headers: Record<string, string>;
  /** Short label for reports: `br,gzip`, `identity`, `gzip accept=image/webp,*\/*`. */
  variant: string;
  /** Expected body bytes, from the logs. */
  estBytes: number;
  /** Expected requests (decayed rate, or inherited from predecessors). */
  score: number;
  reason: 'hot' | 'follows';
}

export interface Plan {
  tasks: WarmTask[];
  /** Candidates left out, by why. */
  skipped: {
    signed: number;
    personalised: number;
    tooLarge: number;
    overBudget: number;
    unknownSize: number;
    /** Left out because their class backed off (its warms did not pay; see backoff.ts). */
    backedOff: number;
  };
  plannedBytes: number;
}

/** The model key of a request: its path plus the query the edge keeps, sorted as in the key. */
export function modelKey(path: string, query: string, cls: ContentClassConfig): string {
  return modelKeyOf(buildCacheKey({ path, query, headers: {}, encoding: '' }, cls.cacheKey));
}

/** The model key of a built cache key (the edge has one per request: nothing is built again). */
export function modelKeyOf(k: CacheKey): string {
  if (k.forwardQuery === '') return k.path;
  const a = k.key.indexOf('\n');
  const keyQuery = k.key.slice(a + 1, k.key.indexOf('\n', a + 1));
  return keyQuery ? `${k.path}?${keyQuery}` : k.path;
}

/**
 * Why a class's objects are never prefetched (by the worker or the edge's follow fills), or
 * undefined: a signed class's request would need a viewer's signature, and a class whose cache
 * key holds headers or cookies has variants that belong to one user.
 */
export function unwarmable(cls: ContentClassConfig): 'signed' | 'personalised' | undefined {
  if (cls.signed) return 'signed';
  if (cls.cacheKey.headers.length > 0 || cls.cacheKey.cookies.length > 0) return 'personalised';
  return undefined;
}

function pathOf(key: string): string {
  const q = key.indexOf('?');
  return q === -1 ? key : key.slice(0, q);
}

/** The Accept-Encoding header a viewer sends for a normalised value ('' sends none). */
function acceptEncodingHeader(e: NormalisedEncoding): string | undefined {
  return e === 'br,gzip' ? 'br, gzip' : e === '' ? undefined : e;
}

export function makePlan(
  model: PrefetchModel,
  config: Readonly<EdgewiseConfig>,
  now: number,
  budgetBytes: number,
  /** When given, classes that backed off get no warms (or a probe's worth). */
  payoff?: Payoff | undefined,
): Plan {
  const p = config.prefetch;
  const images = p.variants.imagePatterns.map(compilePathPattern);
  const skipped: Plan['skipped'] = {
    signed: 0,
    personalised: 0,
    tooLarge: 0,
    overBudget: 0,
    unknownSize: 0,
    backedOff: 0,
  };

  // Score: own decayed rate, raised by predecessors' rates × how often this key follows them.
  const scores = new Map<string, { score: number; reason: WarmTask['reason'] }>();
  const hot = model.hot(now, p.model.maxCandidates);
  for (const h of hot) scores.set(h.key, { score: h.rate, reason: 'hot' });
  for (const h of hot) {
    for (const s of model.predict(h.key, p.model.minConfidence, p.model.minCount)) {
      const inherited = h.rate * s.confidence;
      const cur = scores.get(s.key);
      if (!cur) scores.set(s.key, { score: inherited, reason: 'follows' });
      else if (inherited > cur.score) scores.set(s.key, { score: inherited, reason: 'follows' });
    }
  }

  const tasks: WarmTask[] = [];
  for (const [key, { score, reason }] of scores) {
    const path = pathOf(key);
    const cls = classify(config, path);
    const not = unwarmable(cls);
    if (not) {
      skipped[not]++;
      continue;
    }
    const bytes = model.bytesOf(key) ?? 0;
    if (bytes <= 0) {
      // Never seen with a 200: nothing tells what it costs.
      skipped.unknownSize++;
      continue;
    }
    if (bytes > p.maxObjectBytes) {
      skipped.tooLarge++;
      continue;
    }
    const encodings: NormalisedEncoding[] = cls.compress ? p.variants.acceptEncodings : [''];
    const accepts: Array<string | undefined> = images.some((re) => re.test(path))
      ? p.variants.imageAccepts
      : [undefined];
    for (const e of encodings) {
      for (const a of accepts) {
        const headers: Record<string, string> = {};
        const ae = acceptEncodingHeader(e);
        if (ae) headers['accept-encoding'] = ae;
        if (a !== undefined) headers.accept = a;
        tasks.push({
          url: key,
          key,
          headers,
          variant: `${e || 'identity'}${a !== undefined ? ` accept=${a}` : ''}`,
          estBytes: bytes,
          score,
          reason,
        });
      }
    }
  }
  // Expected requests per byte, with a per-request overhead so tiny objects do not win on
  // size alone.
  tasks.sort(
    (a, b) => b.score / (b.estBytes + 1024) - a.score / (a.estBytes + 1024) || (a.url < b.url ? -1 : 1),
  );
  const chosen: WarmTask[] = [];
  let plannedBytes = 0;
  // Per backed-off class: keys it may still warm this pass, and the keys already chosen.
  const allowance = new Map<string, number>();
  const chosenKeys = new Set<string>();
  for (const t of tasks) {
    if (plannedBytes + t.estBytes > budgetBytes) {
      skipped.overBudget++;
      continue;
    }
    if (payoff && !chosenKeys.has(t.key)) {
      const cls = payoff.classOf(t.key);
      let left = allowance.get(cls);
      if (left === undefined) left = payoff.allowance(cls, now);
      if (left <= 0) {
        allowance.set(cls, 0);
        skipped.backedOff++;
        continue;
      }
      allowance.set(cls, left - 1);
      chosenKeys.add(t.key);
    }
    plannedBytes += t.estBytes;
    chosen.push(t);
  }
  return { tasks: chosen, skipped, plannedBytes };
}

/** Bytes one pass may warm per target: budget.bytes, or capacityShare of the edge's cache. */
export function budgetBytes(config: Readonly<EdgewiseConfig>): number {
  const b = config.prefetch.budget;
  if (b.bytes !== undefined) return b.bytes;
  return Math.floor(b.capacityShare * (config.edge.cache.memoryBytes + config.edge.cache.diskBytes));
}

/** True when `now` is inside the configured UTC window (always, when none is configured). */
export function inWindow(config: Readonly<EdgewiseConfig>, now: Date): boolean {
  const w = config.prefetch.budget.window;
  if (!w) return true;
  const minutes = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  const m = now.getUTCHours() * 60 + now.getUTCMinutes();
  const start = minutes(w.start);
  const end = minutes(w.end);
  return start < end ? m >= start && m < end : m >= start || m < end;
}
