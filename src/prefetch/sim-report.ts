/**
 * Runs the simulator over several cache sizes and lays the results out as rows (shared by
 * `edgewise prefetch simulate` and `npm run bench prefetch`).
 */
import type { PolicyName } from '../cache-store/index.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { intervals } from './bounds.js';
import {
  byteHitRatio,
  type DeployedOptions,
  NO_PREFETCH,
  objectHitRatio,
  originRatio,
  runBounds,
  runDeployed,
  runInfinite,
  runStore,
  type SimRun,
  uniqueBytes,
} from './simulate.js';
import type { Trace } from './trace.js';

export type CacheSize = { kind: 'bytes'; bytes: number } | { kind: 'percent'; percent: number };

/** `1048576`, `64MiB`, `2GB`, `1%` or `0.1%`; a comma-separated list of them. */
export function parseCacheSizes(text: string): CacheSize[] {
  const units: Record<string, number> = {
    '': 1,
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    kib: 1024,
    mib: 1024 ** 2,
    gib: 1024 ** 3,
  };
  return text.split(',').map((part) => {
    const s = part.trim();
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
    if (pct) {
      const percent = Number(pct[1]);
      if (!(percent > 0 && percent <= 100))
        throw new RangeError(`cache size ${s}: a percent must be in (0, 100]`);
      return { kind: 'percent', percent };
    }
    const b = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s);
    const mult = b ? units[b[2]!.toLowerCase()] : undefined;
    if (!b || mult === undefined)
      throw new RangeError(`cache size "${s}": expected bytes (e.g. 1048576, 64MiB) or a percent (e.g. 1%)`);
    const bytes = Math.floor(Number(b[1]) * mult);
    if (!(bytes >= 1)) throw new RangeError(`cache size ${s}: must be at least 1 byte`);
    return { kind: 'bytes', bytes };
  });
}

export interface SizeResult {
  label: string;
  cacheBytes: number;
  runs: {
    lru: SimRun;
    store: SimRun;
    prefetch: SimRun;
    pfooL: SimRun;
    pfooU: SimRun;
    /** With `follow`: the edge following on the request, without and with the worker. */
    follow?: SimRun | undefined;
    workerFollow?: SimRun | undefined;
  };
  gains: Gains;
  /** With `follow`: each follow run's gain over the same store without prefetch. */
  followGains?: { follow: RunGains; workerFollow: RunGains } | undefined;
}

/** A prefetching run against the same store without prefetch. */
export interface RunGains {
  object: number;
  byte: number;
  originVsStore: number;
  gapClosedObject: number | null;
  gapClosedByte: number | null;
}

/** Differences of hit ratio (0–1); a gap closed is null when its gap is under GAP_MIN (n/a). */
export interface Gains {
  /** The store's policy over LRU, both without prefetch. */
  policyObject: number;
  policyByte: number;
  /** Prefetch over the same store without prefetch. */
  prefetchObject: number;
  prefetchByte: number;
  /** Origin bytes with prefetch ÷ the same store's without. */
  originVsStore: number;
  /** (store + prefetch − store) ÷ (PFOO-U − store). */
  gapClosedObject: number | null;
  gapClosedByte: number | null;
}

/** Below this gap (a tenth of a point of hit ratio) a share of it closed means nothing. */
export const GAP_MIN = 0.001;

export interface SimulationReport {
  requests: number;
  objects: number;
  uniqueBytes: number;
  requestedBytes: number;
  policy: PolicyName;
  /** What the prefetch run assumed (seconds of trace time). */
  deployed: DeployedOptions;
  /** Bytes one pass may warm: prefetch.budget.bytes, or this share of the simulated cache. */
  budget: { bytes: number | null; capacityShare: number };
  freshCheck: boolean;
  /** Whether the follow runs were made (`--follow`), and the prefetch.follow settings they used. */
  follow: false | (EdgewiseConfig['prefetch']['follow'] & { fetchLatencySeconds: number });
  infinite: SimRun;
  sizes: SizeResult[];
}

function gapClosed(withPrefetch: number, without: number, bound: number): number | null {
  const gap = bound - without;
  return gap >= GAP_MIN ? (withPrefetch - without) / gap : null;
}

export function runGains(run: SimRun, store: SimRun, upper: SimRun): RunGains {
  return {
    object: objectHitRatio(run) - objectHitRatio(store),
    byte: byteHitRatio(run) - byteHitRatio(store),
    originVsStore: store.originBytes > 0 ? run.originBytes / store.originBytes : Number.NaN,
    gapClosedObject: gapClosed(objectHitRatio(run), objectHitRatio(store), objectHitRatio(upper)),
    gapClosedByte: gapClosed(byteHitRatio(run), byteHitRatio(store), byteHitRatio(upper)),
  };
}

export interface SimulateOptions {
  /** Also run the edge following on the request (prefetch.follow.*), alone and with the worker. */
  follow?: boolean | undefined;
}

export function simulateSizes(
  trace: Trace,
  sizes: CacheSize[],
  policy: PolicyName,
  config: Readonly<EdgewiseConfig>,
  deployed: DeployedOptions,
  /** After each step (the infinite cache and the intervals, then 4 or 6 per cache size), for a progress bar. */
  onStep?: (done: number, total: number) => void,
  options: SimulateOptions = {},
): SimulationReport {
  const follow = options.follow === true;
  const total = 1 + (follow ? 6 : 4) * sizes.length;
  let done = 0;
  const step = <T>(value: T): T => {
    onStep?.(++done, total);
    return value;
  };
  const unique = uniqueBytes(trace);
  const infinite = runInfinite(trace);
  const iv = step(intervals(trace));
  const out: SizeResult[] = [];
  for (const s of sizes) {
    const cacheBytes = s.kind === 'bytes' ? s.bytes : Math.max(1, Math.floor((unique * s.percent) / 100));
    const label = s.kind === 'percent' ? `${s.percent}%` : `${cacheBytes} B`;
    // With `after`, the store alone replays on the browser's clock too (a missed page delays its assets).
    const plain = (p: PolicyName) =>
      trace.after
        ? runDeployed(trace, cacheBytes, p, config, deployed, NO_PREFETCH)
        : runStore(trace, cacheBytes, p);
    const lru = step(plain('lru'));
    const store = step(policy === 'lru' ? lru : plain(policy));
    const pf = step(runDeployed(trace, cacheBytes, policy, config, deployed));
    const { upper, lower } = step(runBounds(trace, iv, cacheBytes));
    const fo = follow
      ? step(runDeployed(trace, cacheBytes, policy, config, deployed, { worker: false, follow: true }))
      : undefined;
    const wf = follow
      ? step(runDeployed(trace, cacheBytes, policy, config, deployed, { worker: true, follow: true }))
      : undefined;
    const w = runGains(pf, store, upper);
    out.push({
      label,
      cacheBytes,
      runs: { lru, store, prefetch: pf, pfooL: lower, pfooU: upper, follow: fo, workerFollow: wf },
      followGains:
        fo && wf
          ? { follow: runGains(fo, store, upper), workerFollow: runGains(wf, store, upper) }
          : undefined,
      gains: {
        policyObject: objectHitRatio(store) - objectHitRatio(lru),
        policyByte: byteHitRatio(store) - byteHitRatio(lru),
        prefetchObject: w.object,
        prefetchByte: w.byte,
        originVsStore: w.originVsStore,
        gapClosedObject: w.gapClosedObject,
        gapClosedByte: w.gapClosedByte,
      },
    });
  }
  const b = config.prefetch.budget;
  return {
    requests: trace.n,
    objects: trace.keys.length,
    uniqueBytes: unique,
    requestedBytes: infinite.requestedBytes,
    policy,
    deployed,
    budget: { bytes: b.bytes ?? null, capacityShare: b.capacityShare },
    freshCheck: config.prefetch.freshCheck,
    follow: follow ? { ...config.prefetch.follow, fetchLatencySeconds: deployed.fetchLatencySeconds } : false,
    infinite,
    sizes: out,
  };
}

const pct = (x: number | null) => (x !== null && Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : 'n/a');
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(3)}×` : '—');
const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(2)}`;

/** `used/sent (share) (joined)` for the worker's warms and the follow fills a run made. */
function usedCell(run: SimRun): string {
  const one = (used: number, sent: number, joined: number) =>
    `${used}/${sent} (${pct(sent > 0 ? used / sent : 0)}) (${joined})`;
  const worker = run.name.includes('+prefetch');
  const follow = run.name.includes('+follow');
  if (!worker && !follow) return '—';
  const parts: string[] = [];
  if (worker)
    parts.push(run.prefetches > 0 ? one(run.prefetchUsed, run.prefetches, run.prefetchJoined) : 'none sent');
  if (follow)
    parts.push(
      `follow ${run.follows > 0 ? one(run.followUsed, run.follows, run.followJoined) : 'none sent'}`,
    );
  return parts.join(' + ');
}

/** Rows for a text table: header first. */
export function reportRows(r: SimulationReport): string[][] {
  const rows: string[][] = [
    [
      'cache',
      'run',
      'object hit',
      'byte hit',
      'origin/requested',
      'origin vs LRU',
      'prefetches used (joined)',
    ],
  ];
  for (const s of r.sizes) {
    const lruOrigin = s.runs.lru.originBytes;
    const line = (name: string, run: SimRun) => [
      `${s.label} (${s.cacheBytes.toLocaleString('en-US')} B)`,
      name,
      pct(objectHitRatio(run)),
      pct(byteHitRatio(run)),
      pct(originRatio(run)),
      ratio(lruOrigin > 0 ? run.originBytes / lruOrigin : Number.NaN),
      usedCell(run),
    ];
    rows.push(line('LRU', s.runs.lru));
    if (r.policy !== 'lru') rows.push(line(r.policy, s.runs.store));
    rows.push(line(`${r.policy} + prefetch`, s.runs.prefetch));
    if (s.runs.follow) rows.push(line(`${r.policy} + follow`, s.runs.follow));
    if (s.runs.workerFollow) rows.push(line(`${r.policy} + prefetch + follow`, s.runs.workerFollow));
    rows.push(line('PFOO-L (feasible offline)', s.runs.pfooL));
    rows.push(line('PFOO-U (upper bound)', s.runs.pfooU));
  }
  const inf = r.infinite;
  rows.push([
    '∞',
    'infinite cache',
    pct(objectHitRatio(inf)),
    pct(byteHitRatio(inf)),
    pct(originRatio(inf)),
    '—',
    '—',
  ]);
  return rows;
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** What each figure assumes, for the text report. */
export function assumptions(r: SimulationReport): string[] {
  const d = r.deployed;
  const delivery =
    d.delivery.kind === 'delay'
      ? `a log record reaches the worker ${d.delivery.seconds} s after its request (a constant delay, as CloudFront standard logs)`
      : `a log record reaches the worker when the local edge publishes its file: ${d.delivery.rotateSeconds} s after the file opened or at the end of the UTC hour, whichever is first, plus one ${d.delivery.flushSeconds} s flush`;
  const budget =
    r.budget.bytes !== null
      ? `${r.budget.bytes.toLocaleString('en-US')} bytes`
      : `${(r.budget.capacityShare * 100).toFixed(0)}% of the cache`;
  return [
    `prefetch (the worker as deployed; seconds of trace time): ${delivery}; a pass every ${d.passIntervalSeconds} s after the previous one ends, planning at most ${budget}; ${d.requestsPerSecond} warming requests/s, ${d.concurrency} in flight${r.freshCheck ? ', each probed first' : ''}; an origin fetch lands ${d.fetchLatencySeconds} s after it starts.`,
    'prefetches used: prefetched objects whose next request was a hit; joined: requests that arrived while their prefetch was in flight (misses, fetched once).',
    ...(r.follow
      ? [
          `follow (the edge following on the request, src/prefetch/follow.ts, as the local edge runs it, enabled for these runs): on each viewer request it learns what follows what per client and fills at most ${r.follow.maxPerRequest} successors seen at least ${r.follow.minCount} times and in ${(r.follow.minConfidence * 100).toFixed(0)}% of the request's views, that the cache lacks, ${r.follow.maxInFlight} in flight at most; a fill lands ${r.follow.fetchLatencySeconds} s after the request; it backs off per class with prefetch.backoff.* (fills unused within ${r.follow.useWindowSeconds} s are wasted). Not available on CloudFront (its functions make no network calls).`,
        ]
      : []),
    'PFOO-U: an upper bound on the hit ratio of any demand cache of that size (one that stores objects only when requested; prefetch can exceed it); PFOO-L: a feasible offline schedule (a lower reference for the optimum). Each column of their rows is its own schedule (object-hit and byte-hit optima differ).',
    `gap closed: (store + prefetch − store) ÷ (PFOO-U − store), n/a when that gap is under ${GAP_MIN * 100} point.`,
  ];
}

/** Gains per cache size: the policy's over LRU, and prefetch's over the same policy. */
export function gainLines(r: SimulationReport): string[] {
  const lines: string[] = [];
  for (const s of r.sizes) {
    const g = s.gains;
    if (r.policy !== 'lru')
      lines.push(
        `${s.label}: ${r.policy} over LRU (no prefetch): ${points(g.policyObject)} points object hit, ${points(g.policyByte)} byte hit`,
      );
    lines.push(
      `${s.label}: prefetch over ${r.policy} alone: ${points(g.prefetchObject)} points object hit, ${points(g.prefetchByte)} byte hit; origin bytes ${ratio(g.originVsStore)} ${r.policy}'s; closes ${pct(g.gapClosedObject)} (object hit) and ${pct(g.gapClosedByte)} (byte hit) of the gap from ${r.policy} to PFOO-U`,
    );
    const f = s.followGains;
    if (!f) continue;
    for (const [what, x] of [
      ['follow', f.follow],
      ['prefetch + follow', f.workerFollow],
    ] as const)
      lines.push(
        `${s.label}: ${what} over ${r.policy} alone: ${points(x.object)} points object hit, ${points(x.byte)} byte hit; origin bytes ${ratio(x.originVsStore)} ${r.policy}'s; closes ${pct(x.gapClosedObject)} (object hit) and ${pct(x.gapClosedByte)} (byte hit) of the gap from ${r.policy} to PFOO-U`,
      );
  }
  return lines;
}
