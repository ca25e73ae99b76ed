/**
 * Prometheus counters and histograms for paths that count every request (an edge cache hit):
 * a label set is bound once to a series, and counting into it is a number increment. prom-client's
 * own `labels(...).inc()` hashes the label object on every call, which a profile of 1 KiB hits put
 * at ~5 % of the edge's CPU. The registry reads these at scrape time in prom-client's own shape
 * (`get()`), so the text exposition, `getMetricsAsJSON` and the cluster's AggregatorRegistry
 * (src/edge/cluster/metrics.ts) treat them as prom-client counters and histograms.
 */
import type { Registry } from 'prom-client';

/** What prom-client's metrics answer to `get()` (MetricObjectWithValues), as the registry reads it. */
export interface MetricSnapshot {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
  aggregator: 'sum';
}

type Labels<L extends string> = Record<L, string>;

export class CounterSeries {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  readonly #bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  /** Counts `v` in the first bucket whose upper bound is ≥ v (above the last: only in +Inf). */
  observe(v: number): void {
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

abstract class FastMetric<L extends string, S> {
  readonly aggregator = 'sum' as const;
  readonly #series = new Map<string, { labels: Labels<L>; series: S }>();
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];

  constructor(name: string, help: string, labelNames: readonly L[], registry: Registry) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    registry.registerMetric(this as never);
  }

  protected abstract create(): S;
  protected abstract zero(series: S): void;

  /** The series of a label set (every label name given); bind once, keep the result. */
  series(labels: Labels<L>): S {
    let key = '';
    for (const n of this.labelNames) key += `${labels[n]}\u0000`;
    let s = this.#series.get(key);
    if (!s) {
      const own = {} as Labels<L>;
      for (const n of this.labelNames) own[n] = String(labels[n]);
      s = { labels: own, series: this.create() };
      this.#series.set(key, s);
    }
    return s.series;
  }

  protected entries(): Iterable<{ labels: Labels<L>; series: S }> {
    return this.#series.values();
  }

  /** prom-client's Registry.resetMetrics(): zeroes every series (bound series stay bound). */
  reset(): void {
    for (const { series } of this.#series.values()) this.zero(series);
  }
}

export class FastCounter<L extends string> extends FastMetric<L, CounterSeries> {
  readonly type = 'counter' as const;

  protected create(): CounterSeries {
    return new CounterSeries();
  }

  protected zero(s: CounterSeries): void {
    s.value = 0;
  }

  async get(): Promise<MetricSnapshot> {
    const values: MetricSnapshot['values'] = [];
    for (const { labels, series } of this.entries())
      values.push({ labels: { ...labels }, value: series.value });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}

export class FastHistogram<L extends string> extends FastMetric<L, HistogramSeries> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    this.buckets = buckets;
  }

  protected create(): HistogramSeries {
    return new HistogramSeries(this.buckets);
  }

  protected zero(s: HistogramSeries): void {
    s.counts.fill(0);
    s.sum = 0;
    s.count = 0;
  }

  async get(): Promise<MetricSnapshot> {
    const values: MetricSnapshot['values'] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, series } of this.entries()) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += series.counts[i]!;
        values.push({ labels: { le: this.buckets[i]!, ...labels }, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf', ...labels }, value: series.count, metricName: bucket });
      values.push({ labels: { ...labels }, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}
