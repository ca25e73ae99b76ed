/**
 * The edge's metrics as totals across workers: prom-client's AggregatorRegistry sums the
 * workers' counters; the few series that are not sums are fixed here, in one place —
 * store bytes are the largest replica (each worker holds the whole cache), and the hit
 * ratios are recomputed from the summed counters (an average of ratios would be wrong).
 */
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue } from 'prom-client';

const AGGREGATOR: Record<string, 'max' | 'omit'> = {
  edgewise_edge_cache_bytes: 'max',
  edgewise_edge_hit_ratio: 'omit',
  edgewise_edge_byte_hit_ratio: 'omit',
};

type Json = MetricObjectWithValues<MetricValue<string>> & { aggregator?: string };

export async function aggregateMetrics(
  perWorker: unknown[][],
): Promise<{ text: string; contentType: string }> {
  const lists = perWorker.map((list) =>
    (list as Json[]).map((m) => (AGGREGATOR[m.name] ? { ...m, aggregator: AGGREGATOR[m.name] } : m)),
  );
  const reg = AggregatorRegistry.aggregate(lists as never);
  const ratio = async (name: string) => {
    const values = ((await reg.getSingleMetric(name)?.get()) as Json | undefined)?.values ?? [];
    let hit = 0;
    let total = 0;
    for (const v of values) {
      total += v.value;
      if (v.labels.result === 'Hit' || v.labels.result === 'RefreshHit') hit += v.value;
    }
    return total === 0 ? 0 : hit / total;
  };
  const requests = await ratio('edgewise_edge_requests_total');
  const bytes = await ratio('edgewise_edge_response_bytes_total');
  new Gauge({
    name: 'edgewise_edge_hit_ratio',
    help: 'Share of viewer requests served from cache (Hit + RefreshHit) since start, all workers',
    registers: [reg],
  }).set(requests);
  new Gauge({
    name: 'edgewise_edge_byte_hit_ratio',
    help: 'Share of body bytes served from cache since start, all workers',
    registers: [reg],
  }).set(bytes);
  new Gauge({
    name: 'edgewise_edge_workers',
    help: 'Edge worker processes that answered this scrape',
    registers: [reg],
  }).set(perWorker.length);
  return { text: await reg.metrics(), contentType: reg.contentType };
}
