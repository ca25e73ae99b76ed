/**
 * What `ttl suggest` reads: viewer request times per object from CloudFront-format access logs
 * (the prefetch worker's reader: src/prefetch/sources.ts and parse.ts), and revalidation
 * outcomes per object — from the local edge's revalidation log when there is one, else
 * inferred from the access logs alone, where a RefreshHit at t after the object's previous
 * Miss or RefreshHit at t₀ says "unchanged over (t₀, t]" and nothing says "changed"
 * (a changed object's 200 is logged Miss, like an evicted one's).
 */
import { classify } from '../classes.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { trafficOf } from '../prefetch/own-traffic.js';
import { newParseStats, type ParseStats, parseLog } from '../prefetch/parse.js';
import type { LogSource } from '../prefetch/sources.js';
import type { Observation } from './estimate.js';
import { type RevalidationReadStats, readRevalidations } from './revalidations.js';

/** A group's evidence: its objects' request times, and revalidation observations. */
export interface GroupEvidence {
  cls: string;
  /** '' when grouping by class only. */
  prefix: string;
  /** Object (path?query) → request times in ms (sorted by `finish`). */
  requests: Map<string, number[]>;
  observations: Observation[];
}

export interface Evidence {
  groups: Map<string, GroupEvidence>;
  /** 'edge': the local edge's revalidation log; 'logs': RefreshHits in the access logs only. */
  mode: 'edge' | 'logs';
  logFiles: number;
  parse: ParseStats;
  revalidations: RevalidationReadStats;
  /** Records not used: prefetch traffic, unsafe methods, errors. */
  skipped: number;
  /** Reading stopped at `maxRecords` viewer requests (the rest of the files were not read). */
  truncated: boolean;
}

export interface EvidenceOptions {
  config: Readonly<EdgewiseConfig>;
  logs: LogSource;
  revalidations: LogSource;
  /** Path segments a prefix keeps (`--by prefix:N`); undefined: per class only. */
  prefixDepth: number | undefined;
  /** Files for hours before this (ms) are not read. */
  since: number | undefined;
  /** Viewer requests held at most (each costs a number in memory); reading stops there. */
  maxRecords: number;
}

/** `/a/b/c.js` at depth 1 → `/a/`, depth 2 → `/a/b/`; a shallower path is its own directory. */
export function prefixOf(path: string, depth: number): string {
  let at = 0;
  for (let i = 0; i < depth; i++) {
    const next = path.indexOf('/', at + 1);
    if (next === -1) return path.slice(0, at + 1);
    at = next;
  }
  return path.slice(0, at + 1);
}

/**
 * A standard log's time has whole seconds (date + time): the requests one object logged in one
 * second happened somewhere in it. Each gets a uniform position in its second (sorted, from a
 * generator seeded by the second, so a run is repeatable), which keeps the gaps between
 * requests right on average: with every request at the start of its second, a replay under a
 * TTL of a second or two would count each request of the next second as past the TTL. Times
 * with milliseconds (v2 `timestamp(ms)`) are left alone.
 */
export function spreadSeconds(sorted: number[]): number[] {
  let i = 0;
  while (i < sorted.length) {
    const t = sorted[i]!;
    let j = i + 1;
    while (j < sorted.length && sorted[j] === t) j++;
    if (t % 1000 === 0) {
      const next = uniform(t / 1000);
      const offsets = Array.from({ length: j - i }, () => Math.floor(next() * 1000)).sort((x, y) => x - y);
      for (let k = i; k < j; k++) sorted[k] = t + offsets[k - i]!;
    }
    i = j;
  }
  return sorted;
}

/** mulberry32: small, seeded, uniform on [0, 1). */
export function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export async function gatherEvidence(o: EvidenceOptions): Promise<Evidence> {
  const groups = new Map<string, GroupEvidence>();
  const groupFor = (path: string) => {
    const cls = classify(o.config, path).name;
    const prefix = o.prefixDepth === undefined ? '' : prefixOf(path, o.prefixDepth);
    const id = `${cls}\u0000${prefix}`;
    let g = groups.get(id);
    if (!g) {
      g = { cls, prefix, requests: new Map(), observations: [] };
      groups.set(id, g);
    }
    return g;
  };
  const ua = o.config.prefetch.userAgent;

  // Revalidation records first: whether there are any decides how the access logs are read.
  const rstats: RevalidationReadStats = { files: 0, lines: 0, malformed: 0, samples: [] };
  for await (const f of o.revalidations.list()) {
    if (o.since !== undefined && f.hour + 3_600_000 <= o.since) continue;
    for await (const r of readRevalidations(await o.revalidations.open(f.name), f.name, rstats)) {
      if (r.outcome === 'unknown') continue;
      if (o.since !== undefined && r.at < o.since) continue;
      groupFor(r.path).observations.push({ interval: r.age, changed: r.outcome === 'changed' });
    }
  }
  const mode = rstats.lines - rstats.malformed > 0 ? 'edge' : 'logs';

  const stats = newParseStats();
  let logFiles = 0;
  let skipped = 0;
  let held = 0;
  let truncated = false;
  // For the logs-only inference: each object's fill and revalidation events, in time order.
  const fills = new Map<string, Array<{ t: number; refresh: boolean }>>();
  for await (const f of o.logs.list()) {
    if (o.since !== undefined && f.hour + 3_600_000 <= o.since) continue;
    if (held >= o.maxRecords) {
      truncated = true;
      break;
    }
    logFiles++;
    for await (const rec of parseLog(await o.logs.open(f.name), f.name, stats)) {
      if (
        (rec.method !== 'GET' && rec.method !== 'HEAD') ||
        rec.status === 0 ||
        rec.status >= 400 ||
        (o.since !== undefined && rec.time < o.since)
      ) {
        skipped++;
        continue;
      }
      const object = rec.query === '' ? rec.path : `${rec.path}?${rec.query}`;
      // A warming request's fill or refresh validates the copy like any other (so it starts the
      // next interval), but it is not viewer traffic to replay.
      if (mode === 'logs' && (rec.resultType === 'Miss' || rec.resultType === 'RefreshHit')) {
        let ev = fills.get(object);
        if (!ev) {
          ev = [];
          fills.set(object, ev);
        }
        ev.push({ t: rec.time, refresh: rec.resultType === 'RefreshHit' });
      }
      if (trafficOf(rec.userAgent, ua) === 'prefetch') {
        skipped++;
        continue;
      }
      const g = groupFor(rec.path);
      let times = g.requests.get(object);
      if (!times) {
        times = [];
        g.requests.set(object, times);
      }
      times.push(rec.time);
      held++;
    }
  }
  for (const g of groups.values())
    for (const times of g.requests.values()) spreadSeconds(times.sort((a, b) => a - b));
  if (mode === 'logs') {
    for (const [object, ev] of fills) {
      ev.sort((a, b) => a.t - b.t);
      const q = object.indexOf('?');
      const g = groupFor(q === -1 ? object : object.slice(0, q));
      for (let i = 1; i < ev.length; i++) {
        const e = ev[i]!;
        if (e.refresh) g.observations.push({ interval: (e.t - ev[i - 1]!.t) / 1000, changed: false });
      }
    }
  }
  return { groups, mode, logFiles, parse: stats, revalidations: rstats, skipped, truncated };
}
