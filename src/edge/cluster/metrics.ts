/**
 * The edge's metrics as totals across workers: prom-client's AggregatorRegistry sums the
 * workers' counters; the few series that are not sums are fixed here, in one place —
 * store bytes are the largest replica (each worker holds the whole cache), and the hit
 * ratios are recomputed from the summed counters (an average of ratios would be wrong).
 */
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { hitRatios } from '../metrics.js';

const AGGREGATOR: Record<string, 'max' | 'omit'> = {
  edgewise_edge_cache_bytes: 'max',
  edgewise_edge_hit_ratio: 'omit',
  edgewise_edge_byte_hit_ratio: 'omit',
};

type Json = MetricObjectWithValues<MetricValue<string>> & { aggregator?: string };

/** perWorker: each worker's registry as JSON; primary: the primary's own (process metrics only). */
export async function aggregateMetrics(
  perWorker: unknown[][],
  primary: unknown[] = [],
): Promise<{ text: string; contentType: string }> {
  const lists = [...perWorker, primary].map((list) =>
    (list as Json[]).map((m) => (AGGREGATOR[m.name] ? { ...m, aggregator: AGGREGATOR[m.name] } : m)),
  );
  const reg = AggregatorRegistry.aggregate(lists as never);
  const ratios = async (name: string, gauge: string, help: string) => {
    const values = ((await reg.getSingleMetric(name)?.get()) as Json | undefined)?.values ?? [];
    const g = new Gauge({ name: gauge, help, labelNames: ['class'], registers: [reg] });
    for (const [cls, r] of hitRatios(values)) g.set({ class: cls }, r);
  };
  await ratios(
    'edgewise_edge_requests_total',
    'edgewise_edge_hit_ratio',
    'Share of viewer requests served from cache (Hit + RefreshHit) since start, all workers; prefetch excluded',
  );
  await ratios(
    'edgewise_edge_response_bytes_total',
    'edgewise_edge_byte_hit_ratio',
    'Share of viewer body bytes served from cache since start, all workers; prefetch excluded',
  );
  new Gauge({
    name: 'edgewise_edge_workers',
    help: 'Edge worker processes that answered this scrape',
    registers: [reg],
  }).set(perWorker.length);
  return { text: await reg.metrics(), contentType: reg.contentType };
}
