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
  runs: { lru: SimRun; store: SimRun; prefetch: SimRun; pfooL: SimRun; pfooU: SimRun };
  gains: Gains;
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
  infinite: SimRun;
  sizes: SizeResult[];
}

function gapClosed(withPrefetch: number, without: number, bound: number): number | null {
  const gap = bound - without;
  return gap >= GAP_MIN ? (withPrefetch - without) / gap : null;
}

export function simulateSizes(
  trace: Trace,
  sizes: CacheSize[],
  policy: PolicyName,
  config: Readonly<EdgewiseConfig>,
  deployed: DeployedOptions,
  /** After each step (the infinite cache and the intervals, then 4 per cache size), for a progress bar. */
  onStep?: (done: number, total: number) => void,
): SimulationReport {
  const total = 1 + 4 * sizes.length;
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
    const lru = step(runStore(trace, cacheBytes, 'lru'));
    const store = step(policy === 'lru' ? lru : runStore(trace, cacheBytes, policy));
    const pf = step(runDeployed(trace, cacheBytes, policy, config, deployed));
    const { upper, lower } = step(runBounds(trace, iv, cacheBytes));
    out.push({
      label,
      cacheBytes,
      runs: { lru, store, prefetch: pf, pfooL: lower, pfooU: upper },
      gains: {
        policyObject: objectHitRatio(store) - objectHitRatio(lru),
        policyByte: byteHitRatio(store) - byteHitRatio(lru),
        prefetchObject: objectHitRatio(pf) - objectHitRatio(store),
        prefetchByte: byteHitRatio(pf) - byteHitRatio(store),
        originVsStore: store.originBytes > 0 ? pf.originBytes / store.originBytes : Number.NaN,
        gapClosedObject: gapClosed(objectHitRatio(pf), objectHitRatio(store), objectHitRatio(upper)),
        gapClosedByte: gapClosed(byteHitRatio(pf), byteHitRatio(store), byteHitRatio(upper)),
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
    infinite,
    sizes: out,
  };
}

const pct = (x: number | null) => (x !== null && Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : 'n/a');
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(3)}×` : '—');
const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(2)}`;

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
      run.prefetches > 0
        ? `${run.prefetchUsed}/${run.prefetches} (${pct(run.prefetchUsed / run.prefetches)}) (${run.prefetchJoined})`
        : run.name.endsWith('+prefetch')
          ? 'none sent'
          : '—',
    ];
    rows.push(line('LRU', s.runs.lru));
    if (r.policy !== 'lru') rows.push(line(r.policy, s.runs.store));
    rows.push(line(`${r.policy} + prefetch`, s.runs.prefetch));
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
  }
  return lines;
}
