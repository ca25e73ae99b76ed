/**
 * Runs the simulator over several cache sizes and lays the results out as rows (shared by
 * `edgewise prefetch simulate` and `npm run bench prefetch`).
 */
import type { PolicyName } from '../cache-store/index.js';
import { nextUses } from './belady.js';
import {
  byteHitRatio,
  objectHitRatio,
  originRatio,
  runInfinite,
  runOffline,
  runPrefetch,
  runStore,
  type SimPrefetchOptions,
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
  runs: { lru: SimRun; store: SimRun; prefetch: SimRun; offline: SimRun };
  /** (prefetch − LRU) / (offline − LRU) object hit ratio: the share of the gap closed. */
  gapClosed: number;
}

export interface SimulationReport {
  requests: number;
  objects: number;
  uniqueBytes: number;
  requestedBytes: number;
  policy: PolicyName;
  fetchDelay: number;
  infinite: SimRun;
  sizes: SizeResult[];
}

export function simulateSizes(
  trace: Trace,
  sizes: CacheSize[],
  policy: PolicyName,
  prefetch: SimPrefetchOptions,
  /** After each replay of the trace (1 + 4 per cache size), for a progress bar. */
  onStep?: (done: number, total: number) => void,
): SimulationReport {
  const total = 1 + 4 * sizes.length;
  let done = 0;
  const step = <T>(value: T): T => {
    onStep?.(++done, total);
    return value;
  };
  const unique = uniqueBytes(trace);
  const next = nextUses(trace);
  const infinite = step(runInfinite(trace));
  const out: SizeResult[] = [];
  for (const s of sizes) {
    const cacheBytes = s.kind === 'bytes' ? s.bytes : Math.max(1, Math.floor((unique * s.percent) / 100));
    const label = s.kind === 'percent' ? `${s.percent}%` : `${cacheBytes} B`;
    const lru = step(runStore(trace, cacheBytes, 'lru'));
    const store = step(runStore(trace, cacheBytes, policy));
    const pf = step(runPrefetch(trace, cacheBytes, policy, prefetch));
    const offline = step(runOffline(trace, cacheBytes, next));
    const gap = objectHitRatio(offline) - objectHitRatio(lru);
    out.push({
      label,
      cacheBytes,
      runs: { lru, store, prefetch: pf, offline },
      gapClosed: gap > 0 ? (objectHitRatio(pf) - objectHitRatio(lru)) / gap : Number.NaN,
    });
  }
  return {
    requests: trace.n,
    objects: trace.keys.length,
    uniqueBytes: unique,
    requestedBytes: infinite.requestedBytes,
    policy,
    fetchDelay: prefetch.fetchDelay,
    infinite,
    sizes: out,
  };
}

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : '—');
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(3)}×` : '—');

/** Rows for a text table: header first. */
export function reportRows(r: SimulationReport): string[][] {
  const rows: string[][] = [
    ['cache', 'run', 'object hit', 'byte hit', 'origin/requested', 'origin vs LRU', 'prefetched used'],
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
        ? `${run.prefetchUsed}/${run.prefetches} (${pct(run.prefetchUsed / run.prefetches)})`
        : '—',
    ];
    rows.push(line('LRU', s.runs.lru));
    rows.push(line(r.policy, s.runs.store));
    rows.push(line(`${r.policy} + prefetch`, s.runs.prefetch));
    rows.push(line('offline bound', s.runs.offline));
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

/** The targets, evaluated on this report (percent sizes only). */
export function targetChecks(r: SimulationReport): string[] {
  const lines: string[] = [];
  for (const s of r.sizes) {
    const beats = objectHitRatio(s.runs.store) > objectHitRatio(s.runs.lru);
    lines.push(
      `${s.label}: ${r.policy} ${beats ? 'beats' : 'does NOT beat'} LRU on object hit ratio (${pct(objectHitRatio(s.runs.store))} vs ${pct(objectHitRatio(s.runs.lru))}); ` +
        `prefetch closes ${pct(s.gapClosed)} of the LRU→offline gap with origin bytes ${ratio(s.runs.prefetch.originBytes / s.runs.lru.originBytes)} LRU's`,
    );
  }
  return lines;
}
