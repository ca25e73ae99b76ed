/**
 * Prometheus counters and histograms for paths that count every request (an edge cache hit, an
 * origin answer), used by both the origin's metrics (src/metrics.ts) and the edge's
 * (src/edge/metrics.ts): a label set is bound once to a series, and recording into it is a
 * bucket search and a few additions. The registry reads them in prom-client's own shapes
 * (`getForPromString` / `get`), so the text exposition, `getMetricsAsJSON` and the cluster's
 * AggregatorRegistry (src/edge/cluster/metrics.ts) treat them as prom-client's
 * (test/edge/fast-metrics.test.ts compares them with prom-client's for the same observations).
 */
import type { Metric, Registry } from 'prom-client';

type Labels<L extends string> = Readonly<Record<L, string | number>>;

/** One label set's values: what a hot path holds on to and records into. */
export interface HistogramSeries {
  observe(value: number): void;
}
export interface CounterSeries {
  inc(value?: number): void;
}

/**
 * Metrics recorded on every request, kept per label set in plain fields and exposed through the
 * same Registry, in the same text, as prom-client's own. prom-client's Histogram and Counter
 * validate and hash the label object on every observe, even through a `labels()` child, and
 * keep bucket counts under the bound as a property name (a number-to-string conversion per
 * observe): about 1 µs a request for the request and storage histograms together, on a 1 KiB
 * answer that costs ~20 µs. Here `labels()` (called once per label set by the caller) returns
 * the series itself, and `observe` is a bucket search and three additions.
 */
export abstract class SeriesMetric<L extends string, S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  abstract readonly type: 'histogram' | 'counter';
  readonly #labelNames: readonly L[];
  protected readonly series = new Map<string, { labels: Labels<L>; s: S }>();

  constructor(config: { name: string; help: string; labelNames: readonly L[]; registry: Registry }) {
    this.name = config.name;
    this.help = config.help;
    this.#labelNames = config.labelNames;
    config.registry.registerMetric(this as unknown as Metric);
  }

  protected abstract create(): S;

  /** The series for one label set: look it up once and keep it (every call builds a key). */
  labels(values: Labels<L>): S {
    const key = this.#labelNames.map((n) => String(values[n])).join('\0');
    let e = this.series.get(key);
    if (!e) {
      const labels = {} as Record<L, string | number>;
      for (const n of this.#labelNames) labels[n] = values[n];
      e = { labels, s: this.create() };
      this.series.set(key, e);
    }
    return e.s;
  }

  /** prom-client's Registry.resetMetrics(): zeroes every series, which stay bound. */
  reset(): void {
    for (const { s } of this.series.values()) this.zero(s);
  }

  protected abstract zero(series: S): void;

  abstract getForPromString(): Promise<Exposed>;

  /** prom-client's `get()`: the same values with each sample's labels in one object. */
  async get(): Promise<Exposed> {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map((v) => ({
        value: v.value,
        // prom-client's splayLabels: the sample's own labels (le) first, then the series'.
        labels: { ...v.labels, ...v.sharedLabels },
        ...(v.metricName ? { metricName: v.metricName } : {}),
      })),
    };
  }
}

/** What the Registry reads to write the text exposition (prom-client's `getForPromString`). */
interface Exposed {
  name: string;
  help: string;
  type: 'histogram' | 'counter';
  aggregator: 'sum';
  values: MetricValue[];
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string | number>;
  metricName?: string;
}

class HistogramCells implements HistogramSeries {
  /** Per-bucket counts (not cumulative); the last cell is above the top bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`histogram value must be finite: ${value}`);
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

export class SeriesHistogram<L extends string> extends SeriesMetric<L, HistogramSeries> {
  readonly type = 'histogram' as const;
  readonly #bounds: readonly number[];
  constructor(config: {
    name: string;
    help: string;
    labelNames: readonly L[];
    buckets: readonly number[];
    registry: Registry;
  }) {
    super(config);
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
  }
  protected create(): HistogramSeries {
    return new HistogramCells(this.#bounds);
  }
  protected zero(s: HistogramSeries): void {
    const cells = s as HistogramCells;
    cells.counts.fill(0);
    cells.sum = 0;
    cells.count = 0;
  }
  /** The values prom-client's Histogram exposes: cumulative buckets, +Inf, sum, count. */
  async getForPromString(): Promise<Exposed> {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, s } of this.series.values()) {
      const cells = s as HistogramCells;
      let acc = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        acc += cells.counts[i] as number;
        values.push({
          labels: { le: this.#bounds[i] as number },
          value: acc,
          metricName: bucket,
          sharedLabels: labels,
        });
      }
      values.push({ labels: { le: '+Inf' }, value: cells.count, metricName: bucket, sharedLabels: labels });
      values.push({ labels: {}, value: cells.sum, metricName: `${this.name}_sum`, sharedLabels: labels });
      values.push({ labels: {}, value: cells.count, metricName: `${this.name}_count`, sharedLabels: labels });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

class CounterCell implements CounterSeries {
  value = 0;
  inc(value = 1): void {
    if (!(value >= 0) || !Number.isFinite(value))
      throw new TypeError(`counter increment must be finite and ≥ 0: ${value}`);
    this.value += value;
  }
}

export class SeriesCounter<L extends string> extends SeriesMetric<L, CounterSeries> {
  readonly type = 'counter' as const;
  protected create(): CounterSeries {
    return new CounterCell();
  }
  protected zero(s: CounterSeries): void {
    (s as CounterCell).value = 0;
  }
  async getForPromString(): Promise<Exposed> {
    const values: MetricValue[] = [];
    for (const { labels, s } of this.series.values())
      values.push({ labels: labels as Record<string, string | number>, value: (s as CounterCell).value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
