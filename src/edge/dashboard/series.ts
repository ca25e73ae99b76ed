/**
 * The dashboard's numbers, computed from two samples of the edge's own Prometheus metrics (the
 * text exposition, so one edge and the totals of several workers are read alike): what happened
 * in the interval between them. The rules are PromQL's: rates are counter deltas over the
 * interval, quantiles are `histogram_quantile`'s linear interpolation inside a bucket, so the
 * page, the Grafana dashboard and the alert rules (src/edge/dashboard/grafana.ts) agree.
 */

/** One scrape: series (`name{a="1",b="2"}`, labels sorted) → value, and when it was taken. */
export interface Sample {
  t: number;
  values: Map<string, number>;
}

export interface Point {
  /** End of the interval, ms since the epoch. */
  t: number;
  seconds: number;
  /** Viewer requests (the prefetch worker's and operators' excluded). */
  viewerRequests: number;
  hitRatio: number | undefined;
  originP50Ms: number | undefined;
  originP95Ms: number | undefined;
  viewerP95Ms: number | undefined;
  /** Viewer requests per second by `class result`. */
  byClassResult: Record<string, number>;
  /** The prefetch worker's requests per second. */
  prefetchPerSecond: number;
  /** Body bytes per second served from cache to viewers: what the origin did not have to send. */
  savedBytesPerSecond: number;
  /** Viewer request count per duration bucket (not cumulative), `le` as the key. */
  heat: Record<string, number>;
}

/** Parses the Prometheus text format (comments skipped, labels sorted for lookups). */
export function parseExposition(text: string, t: number): Sample {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    if (cut <= 0) continue;
    const v = Number(line.slice(cut + 1));
    if (!Number.isFinite(v)) continue;
    values.set(canonical(line.slice(0, cut)), v);
  }
  return { t, values };
}

function canonical(series: string): string {
  const open = series.indexOf('{');
  if (open === -1) return series;
  const labels = series.slice(open + 1, series.lastIndexOf('}')).match(/[a-zA-Z_]+="(?:[^"\\]|\\.)*"/g) ?? [];
  return `${series.slice(0, open)}{${labels.sort().join(',')}}`;
}

interface Parsed {
  name: string;
  labels: Record<string, string>;
}

function parseSeries(series: string): Parsed {
  const open = series.indexOf('{');
  if (open === -1) return { name: series, labels: {} };
  const labels: Record<string, string> = {};
  for (const m of series.slice(open + 1, -1).matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g))
    labels[m[1]!] = m[2]!;
  return { name: series.slice(0, open), labels };
}

/** Counter deltas of one metric between two samples (a restart's reset counts from zero). */
function deltas(a: Sample, b: Sample, name: string): Array<{ labels: Record<string, string>; d: number }> {
  const out: Array<{ labels: Record<string, string>; d: number }> = [];
  for (const [series, v] of b.values) {
    if (!series.startsWith(name)) continue;
    const p = parseSeries(series);
    if (p.name !== name) continue;
    const before = a.values.get(series) ?? 0;
    out.push({ labels: p.labels, d: v >= before ? v - before : v });
  }
  return out;
}

/**
 * PromQL's histogram_quantile over cumulative bucket counts: the bucket the rank falls in, with
 * linear interpolation from its lower edge; the +Inf bucket answers its lower edge.
 */
export function histogramQuantile(
  q: number,
  buckets: Array<{ le: number; count: number }>,
): number | undefined {
  const sorted = [...buckets].sort((x, y) => x.le - y.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Number.POSITIVE_INFINITY) return lower;
      const inBucket = b.count - below;
      return inBucket === 0 ? b.le : lower + ((b.le - lower) * (rank - below)) / inBucket;
    }
    lower = b.le;
    below = b.count;
  }
  return lower;
}

/** A histogram's cumulative bucket counts gained between two samples, summed over the kept series. */
function bucketsBetween(
  a: Sample,
  b: Sample,
  metric: string,
  keep: (labels: Record<string, string>) => boolean,
): Array<{ le: number; count: number }> {
  const byLe = new Map<number, number>();
  for (const { labels, d } of deltas(a, b, `${metric}_bucket`)) {
    if (!keep(labels) || labels.le === undefined) continue;
    const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + d);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((x, y) => x.le - y.le);
}

/** Counts per bucket (not cumulative), keyed by `le` as Prometheus writes it. */
function perBucket(sorted: Array<{ le: number; count: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  let prev = 0;
  for (const bk of sorted) {
    out[bk.le === Number.POSITIVE_INFINITY ? '+Inf' : String(bk.le)] = bk.count - prev;
    prev = bk.count;
  }
  return out;
}

const isHit = (r: string | undefined) => r === 'Hit' || r === 'RefreshHit';

/** What happened between two samples. */
export function pointBetween(a: Sample, b: Sample): Point {
  const seconds = Math.max((b.t - a.t) / 1000, 1e-9);
  let viewer = 0;
  let hits = 0;
  let prefetch = 0;
  const byClassResult: Record<string, number> = {};
  for (const { labels, d } of deltas(a, b, 'edgewise_edge_requests_total')) {
    if (labels.traffic === 'prefetch') prefetch += d;
    if (labels.traffic !== 'viewer') continue;
    viewer += d;
    if (isHit(labels.result)) hits += d;
    const k = `${labels.class ?? '-'} ${labels.result ?? '-'}`;
    byClassResult[k] = (byClassResult[k] ?? 0) + d / seconds;
  }
  let saved = 0;
  for (const { labels, d } of deltas(a, b, 'edgewise_edge_response_bytes_total'))
    if (labels.traffic === 'viewer' && isHit(labels.result)) saved += d;
  const ms = (s: number | undefined) => (s === undefined ? undefined : s * 1000);
  const origin = bucketsBetween(a, b, 'edgewise_edge_origin_duration_seconds', (l) => l.outcome !== 'error');
  const viewerBuckets = bucketsBetween(
    a,
    b,
    'edgewise_edge_request_duration_seconds',
    (l) => l.traffic === 'viewer',
  );
  return {
    t: b.t,
    seconds,
    viewerRequests: viewer,
    hitRatio: viewer === 0 ? undefined : hits / viewer,
    originP50Ms: ms(histogramQuantile(0.5, origin)),
    originP95Ms: ms(histogramQuantile(0.95, origin)),
    viewerP95Ms: ms(histogramQuantile(0.95, viewerBuckets)),
    byClassResult,
    prefetchPerSecond: prefetch / seconds,
    savedBytesPerSecond: saved / seconds,
    heat: perBucket(viewerBuckets),
  };
}
