/**
 * The edge's Prometheus metrics, in a registry of its own (the origin has another), so an
 * edge and an origin in one process never mix series.
 */
import { performance } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ResultType } from '../access-log/format.js';
import { type CounterSeries, type HistogramSeries, SeriesCounter, SeriesHistogram } from '../fast-metrics.js';
import type { Traffic } from '../prefetch/own-traffic.js';
import type { EdgeCache } from './cache/edge-cache.js';

export type { ResultType };

/**
 * Latency buckets in seconds, with edges at the dashboard's KPI targets and alert thresholds
 * (origin < 50 ms, alert > 100 ms; viewer p95 < 200 ms, alert > 500 ms), so those quantiles are
 * read off bucket boundaries, not interpolated across them.
 */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10];

/**
 * One revalidation of a stale copy and what the origin said (src/ttl/revalidations.ts writes
 * these to the edge's log dir for `edgewise ttl suggest`): `unchanged` is a 304, or a 200 with
 * the stored validator; `changed` a 200 with another validator; `unknown` a 200 when neither
 * copy had a validator to compare.
 */
export interface RevalidationEvent {
  /** Completion time, ms since the epoch. */
  at: number;
  path: string;
  query: string;
  cls: string;
  outcome: 'unchanged' | 'changed' | 'unknown';
  status: number;
  /** Seconds the stale copy had been held since it was fetched or last validated (its age). */
  age: number;
  /** The TTL the stale copy had, in seconds. */
  ttl: number;
  requestId: string;
}

/** What a finished viewer request is counted by. */
export interface CountedRequest {
  resultType: ResultType;
  bodyBytes: number;
  status: number;
  cls: { name: string } | undefined;
  traffic: Traffic;
  /** performance.now() at arrival. */
  start: number;
}

const RESULT_INDEX: Record<ResultType, number> = {
  Hit: 0,
  RefreshHit: 1,
  Miss: 2,
  Error: 3,
  Redirect: 4,
  FunctionGeneratedResponse: 5,
};
const TRAFFIC_INDEX: Record<Traffic, number> = { viewer: 0, prefetch: 1, operator: 2 };

interface Bound {
  requests: CounterSeries;
  bytes: CounterSeries;
  duration: HistogramSeries;
}

export class EdgeMetrics {
  readonly registry = new Registry();
  // Counted on every request, hits included: series bound once per label set (src/fast-metrics.ts).
  readonly requests = new SeriesCounter({
    name: 'edgewise_edge_requests_total',
    help: 'Requests by x-edge-result-type, class and traffic (viewer, or the prefetch worker)',
    labelNames: ['result', 'class', 'traffic'] as const,
    registry: this.registry,
  });
  readonly bytes = new SeriesCounter({
    name: 'edgewise_edge_response_bytes_total',
    help: 'Body bytes sent, by x-edge-result-type, class and traffic',
    labelNames: ['result', 'class', 'traffic'] as const,
    registry: this.registry,
  });
  readonly duration = new SeriesHistogram({
    name: 'edgewise_edge_request_duration_seconds',
    help: 'From a request’s arrival to its last byte handed to the connection',
    labelNames: ['class', 'result', 'status_class', 'traffic'] as const,
    buckets: LATENCY_BUCKETS,
    registry: this.registry,
  });
  readonly originRequests = new Counter({
    name: 'edgewise_edge_origin_requests_total',
    help: 'Requests sent to origins (fills, revalidations, pass-through)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly originDuration = new Histogram({
    name: 'edgewise_edge_origin_duration_seconds',
    help: 'Origin fetches: from the request sent to the response headers received (or the failure)',
    labelNames: ['kind', 'class', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly originBytes = new Counter({
    name: 'edgewise_edge_origin_bytes_total',
    help: 'Body bytes received from origins',
    registers: [this.registry],
  });
  readonly collapsed = new Counter({
    name: 'edgewise_edge_collapsed_waiters_total',
    help: 'Viewer requests that waited for another request’s origin fetch instead of making their own',
    registers: [this.registry],
  });
  readonly evictions = new Counter({
    name: 'edgewise_edge_evictions_total',
    help: 'Entries evicted by the store policy, per tier',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });
  readonly invalidated = new Counter({
    name: 'edgewise_edge_invalidated_entries_total',
    help: 'Entries removed by invalidations and unsafe methods',
    registers: [this.registry],
  });
  readonly probes = new Counter({
    name: 'edgewise_edge_probes_total',
    help: 'only-if-cached probes (warmers asking whether a key is held); not counted as viewer requests',
    labelNames: ['held'] as const,
    registers: [this.registry],
  });

  readonly revalidations = new Counter({
    name: 'edgewise_edge_revalidations_total',
    help: 'Revalidations of stale copies by class and outcome (unchanged: 304 or same validator; changed: a new validator; unknown: nothing to compare)',
    labelNames: ['class', 'outcome'] as const,
    registers: [this.registry],
  });
  /** Follow-on-request prefetch (src/edge/follow-prefetch.ts): brings its counts up to date on a scrape. */
  onFollowCollect: (() => void) | undefined;
  // Registered first of the follow series: its collect updates the others before they are read.
  readonly followSkipped = new Counter({
    name: 'edgewise_edge_follow_skipped_total',
    help: 'Follow-on-request prefetch: predicted successors not filled, by why (held: cached or being filled; full: maxInFlight reached; backedOff: its class does not pay now; signed, personalised, tooLarge, unknownSize; wastedShare: wasted fill bytes over follow.maxWastedShare of viewer miss bytes)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
    collect: () => this.onFollowCollect?.(),
  });
  readonly followFills = new Counter({
    name: 'edgewise_edge_follow_fills_total',
    help: 'Follow-on-request prefetch: background fills by how they ended (fetched from the origin; held: the cache or another fill had it by then; failed; cancelled by a reload or shutdown)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly followJudged = new Counter({
    name: 'edgewise_edge_follow_judged_total',
    help: 'Follow-on-request prefetch: fetched fills judged by the back-off (used: a viewer hit or joined it; wasted: missed or not asked for within prefetch.follow.useWindowSeconds)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly followJudgedBytes = new Counter({
    name: 'edgewise_edge_follow_judged_bytes_total',
    help: 'Follow-on-request prefetch: origin bytes of judged fills, used or wasted',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly followInFlight = new Gauge({
    name: 'edgewise_edge_follow_in_flight',
    help: 'Follow-on-request prefetch: background fills running now',
    registers: [this.registry],
  });
  readonly followModelKeys = new Gauge({
    name: 'edgewise_edge_follow_model_keys',
    help: 'Follow-on-request prefetch: cache keys its model remembers now (at most prefetch.model.maxKeys per edge process; with workers, summed)',
    registers: [this.registry],
  });
  readonly followClassState = new Gauge({
    name: 'edgewise_edge_follow_class_state',
    help: 'Follow-on-request prefetch back-off per content class: 0 filled in full, 1 probing, 2 suspended (with workers: the most backed-off worker)',
    labelNames: ['class'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });

  /** Where revalidation records go besides the counter (the edge's revalidation log), if anywhere. */
  onRevalidation: ((e: RevalidationEvent) => void) | undefined;

  revalidated(e: RevalidationEvent): void {
    this.revalidations.inc({ class: e.cls, outcome: e.outcome });
    this.onRevalidation?.(e);
  }

  /** Bound children per class name, then per result × traffic × status hundred (a number: no key string per hit). */
  readonly #bound = new Map<string, Map<number, Bound>>();

  /** Counts one finished request (label children bound once per label set: this runs on every hit). */
  count(r: CountedRequest): void {
    const cls = r.cls?.name ?? '-';
    const hundred = Math.floor(r.status / 100);
    const id = (RESULT_INDEX[r.resultType] * 3 + TRAFFIC_INDEX[r.traffic]) * 10 + hundred;
    let perClass = this.#bound.get(cls);
    if (!perClass) {
      perClass = new Map();
      this.#bound.set(cls, perClass);
    }
    let b = perClass.get(id);
    if (!b) {
      const labels = { result: r.resultType, class: cls, traffic: r.traffic };
      b = {
        requests: this.requests.labels(labels),
        bytes: this.bytes.labels(labels),
        duration: this.duration.labels({ ...labels, status_class: `${hundred}xx` }),
      };
      perClass.set(id, b);
    }
    b.requests.inc();
    if (r.bodyBytes > 0) b.bytes.inc(r.bodyBytes);
    b.duration.observe((performance.now() - r.start) / 1000);
  }

  /** Times one origin fetch: resolves as `pending` does. */
  timeOrigin<T>(kind: string, cls: string, pending: Promise<T>): Promise<T> {
    const t0 = performance.now();
    const done = (outcome: string) =>
      this.originDuration.observe({ kind, class: cls, outcome }, (performance.now() - t0) / 1000);
    pending.then(
      () => done('response'),
      () => done('error'),
    );
    return pending;
  }

  constructor(store: EdgeCache) {
    registerProcessMetrics(this.registry);
    const requests = this.requests;
    const bytes = this.bytes;
    new Gauge({
      name: 'edgewise_edge_cache_bytes',
      help: 'Bytes held per cache tier',
      labelNames: ['tier'] as const,
      registers: [this.registry],
      collect() {
        this.set({ tier: 'memory' }, store.bytes('memory'));
        this.set({ tier: 'disk' }, store.bytes('disk'));
      },
    });
    new Gauge({
      name: 'edgewise_edge_hit_ratio',
      help: 'Share of viewer requests served from cache (Hit + RefreshHit) since start; prefetch traffic excluded',
      labelNames: ['class'] as const,
      registers: [this.registry],
      async collect() {
        setRatios(this, hitRatios((await requests.get()).values));
      },
    });
    new Gauge({
      name: 'edgewise_edge_byte_hit_ratio',
      help: 'Share of viewer body bytes served from cache since start; prefetch traffic excluded',
      labelNames: ['class'] as const,
      registers: [this.registry],
      async collect() {
        setRatios(this, hitRatios((await bytes.get()).values));
      },
    });
  }
}

/**
 * What one edge process costs the machine, in the registry of each edge process (the single
 * process, or the primary and every worker): prom-client's default process metrics under their
 * conventional names (process_resident_memory_bytes, process_cpu_seconds_total,
 * nodejs_heap_size_used_bytes / _total_bytes, nodejs_external_memory_bytes,
 * nodejs_eventloop_lag_*_seconds, nodejs_gc_duration_seconds, …), plus the two that
 * prom-client lacks: the bytes of ArrayBuffers (where cached bodies live: Buffers are not V8
 * heap) and the event loop's busy time. With workers, src/edge/cluster/metrics.ts sums them
 * into edge totals (lag quantiles are averaged, as prom-client declares), so
 * process_resident_memory_bytes is what the whole edge holds: the figure `edge.cache.memoryBytes`
 * is sized against (docs/edge.md).
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'edgewise_edge_array_buffers_bytes',
    help: 'Bytes of ArrayBuffers and Buffers (cached bodies among them), outside the V8 heap; summed over edge processes',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().arrayBuffers);
    },
  });
  new Counter({
    name: 'edgewise_edge_event_loop_busy_seconds_total',
    help: 'Time the event loop spent running callbacks (not waiting for I/O), summed over edge processes: rate() over one process is its event-loop utilization, over the edge the cores it kept busy',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(performance.eventLoopUtilization().active / 1000);
    },
  });
}

/**
 * Hit ratios of viewer traffic from a requests/bytes counter's values: overall (class "*")
 * and per class. One rule for a single edge and for the totals across workers
 * (src/edge/cluster/metrics.ts), where ratios must be recomputed from summed counters.
 */
export function hitRatios(
  values: ReadonlyArray<{ value: number; labels: Partial<Record<string, string | number>> }>,
): Map<string, number> {
  const sums = new Map<string, { hit: number; total: number }>();
  const add = (cls: string, v: number, hit: boolean) => {
    const s = sums.get(cls) ?? { hit: 0, total: 0 };
    s.total += v;
    if (hit) s.hit += v;
    sums.set(cls, s);
  };
  for (const v of values) {
    if (v.labels.traffic !== 'viewer') continue;
    const hit = v.labels.result === 'Hit' || v.labels.result === 'RefreshHit';
    add('*', v.value, hit);
    add(String(v.labels.class ?? '-'), v.value, hit);
  }
  const out = new Map<string, number>([['*', 0]]);
  for (const [cls, s] of sums) out.set(cls, s.total === 0 ? 0 : s.hit / s.total);
  return out;
}

function setRatios(g: Gauge<'class'>, ratios: Map<string, number>): void {
  g.reset();
  for (const [cls, r] of ratios) g.set({ class: cls }, r);
}
