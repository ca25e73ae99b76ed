/**
 * The edge's Prometheus metrics, in a registry of its own (the origin has another), so an
 * edge and an origin in one process never mix series.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ResultType } from '../access-log/format.js';
import type { EdgeCache } from './cache/edge-cache.js';

export type { ResultType };

export class EdgeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'edgewise_edge_requests_total',
    help: 'Viewer requests by x-edge-result-type',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly bytes = new Counter({
    name: 'edgewise_edge_response_bytes_total',
    help: 'Body bytes sent to viewers by x-edge-result-type',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly originRequests = new Counter({
    name: 'edgewise_edge_origin_requests_total',
    help: 'Requests sent to origins (fills, revalidations, pass-through)',
    labelNames: ['kind'] as const,
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

  readonly #bound = new Map<
    ResultType,
    { requests: { inc(n?: number): void }; bytes: { inc(n?: number): void } }
  >();

  /** Counts one viewer request (label children bound once: this runs on every hit). */
  count(result: ResultType, bodyBytes: number): void {
    let b = this.#bound.get(result);
    if (!b) {
      b = { requests: this.requests.labels(result), bytes: this.bytes.labels(result) };
      this.#bound.set(result, b);
    }
    b.requests.inc();
    if (bodyBytes > 0) b.bytes.inc(bodyBytes);
  }

  constructor(store: EdgeCache) {
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
    const ratio = async (c: Counter<'result'>) => {
      const values = (await c.get()).values;
      let hit = 0;
      let total = 0;
      for (const v of values) {
        const r = v.labels.result;
        total += v.value;
        if (r === 'Hit' || r === 'RefreshHit') hit += v.value;
      }
      return total === 0 ? 0 : hit / total;
    };
    new Gauge({
      name: 'edgewise_edge_hit_ratio',
      help: 'Share of viewer requests served from cache (Hit + RefreshHit) since start',
      registers: [this.registry],
      async collect() {
        this.set(await ratio(requests));
      },
    });
    new Gauge({
      name: 'edgewise_edge_byte_hit_ratio',
      help: 'Share of body bytes served from cache since start',
      registers: [this.registry],
      async collect() {
        this.set(await ratio(bytes));
      },
    });
  }
}
