/**
 * src/fast-metrics.ts stands in for prom-client's Counter and Histogram on the edge's per-request
 * series: the same observations must give the same exposition text and JSON, and the cluster's
 * aggregation must sum them like prom-client's own.
 */
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SeriesCounter, SeriesHistogram } from '../../src/fast-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVED = [0.0005, 0.001, 0.002, 0.05, 0.1, 0.5, 3, 12];

function both() {
  const theirs = new Registry();
  const mine = new Registry();
  const c1 = new Counter({ name: 'x_total', help: 'h', labelNames: ['a', 'b'], registers: [theirs] });
  const h1 = new Histogram({
    name: 'x_seconds',
    help: 'd',
    labelNames: ['a', 'b'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const c2 = new SeriesCounter({ name: 'x_total', help: 'h', labelNames: ['a', 'b'], registry: mine });
  const h2 = new SeriesHistogram({
    name: 'x_seconds',
    help: 'd',
    labelNames: ['a', 'b'],
    buckets: BUCKETS,
    registry: mine,
  });
  const record = (labels: { a: string; b: string }, n: number) => {
    const c = c2.labels(labels);
    const h = h2.labels(labels);
    for (let i = 0; i < n; i++) {
      const v = OBSERVED[i % OBSERVED.length]!;
      c1.inc(labels, 2);
      c.inc(2);
      h1.observe(labels, v);
      h.observe(v);
    }
  };
  return { theirs, mine, record };
}

describe('fast metrics', () => {
  it('expose exactly what prom-client exposes for the same observations', async () => {
    const { theirs, mine, record } = both();
    record({ a: 'Hit', b: 'one' }, 11);
    record({ a: 'Miss', b: 'two' }, 3);
    record({ a: 'Hit', b: 'one' }, 2);
    expect(await mine.metrics()).toBe(await theirs.metrics());
    // Exemplars are off: prom-client's JSON carries `exemplar: null`, these carry none.
    const plain = (json: unknown) =>
      JSON.parse(JSON.stringify(json, (k, v) => (k === 'exemplar' && v === null ? undefined : v)));
    expect(plain(await mine.getMetricsAsJSON())).toEqual(plain(await theirs.getMetricsAsJSON()));
  });

  it('aggregate across workers like prom-client', async () => {
    const a = both();
    const b = both();
    a.record({ a: 'Hit', b: 'one' }, 5);
    b.record({ a: 'Hit', b: 'one' }, 7);
    b.record({ a: 'Miss', b: 'x' }, 1);
    const theirs = AggregatorRegistry.aggregate([
      await a.theirs.getMetricsAsJSON(),
      await b.theirs.getMetricsAsJSON(),
    ]);
    const mine = AggregatorRegistry.aggregate([
      await a.mine.getMetricsAsJSON(),
      await b.mine.getMetricsAsJSON(),
    ]);
    expect(await mine.metrics()).toBe(await theirs.metrics());
  });

  it('keep bound series counting after a registry reset', async () => {
    const reg = new Registry();
    const c = new SeriesCounter({ name: 'y_total', help: 'h', labelNames: ['a'], registry: reg });
    const s = c.labels({ a: 'z' });
    s.inc(3);
    reg.resetMetrics();
    s.inc();
    expect(await reg.metrics()).toContain('y_total{a="z"} 1');
  });
});
