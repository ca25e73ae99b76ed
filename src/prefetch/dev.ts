/**
 * The prefetch worker inside `edgewise dev`: `prefetch watch` against the dev edge, reading
 * the logs that edge writes (its own edge.logs dir and prefix, so the two cannot disagree),
 * with its results as Prometheus series in the edge's registry (served at edge.metricsPath).
 */
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LiveConfig } from '../config/live.js';
import type { Logger } from '../logger.js';
import { DirSource } from './sources.js';
import { PrefetchWorker } from './worker.js';

export interface DevPrefetch {
  stop(): Promise<void>;
}

export function startDevPrefetch(
  store: LiveConfig,
  logger: Logger,
  edgeUrl: string,
  registry: Registry,
): DevPrefetch {
  const log = logger.child({ module: 'prefetch' });
  const registers = [registry];
  const m = {
    passes: new Counter({
      name: 'edgewise_prefetch_passes_total',
      help: 'Prefetch worker passes',
      registers,
    }),
    files: new Counter({
      name: 'edgewise_prefetch_log_files_total',
      help: 'Access log files read',
      registers,
    }),
    malformed: new Counter({
      name: 'edgewise_prefetch_malformed_lines_total',
      help: 'Log lines skipped as malformed',
      registers,
    }),
    requests: new Counter({
      name: 'edgewise_prefetch_requests_total',
      help: 'Warming outcomes: warmed, fresh (already held), failed',
      labelNames: ['outcome'] as const,
      registers,
    }),
    bytes: new Counter({
      name: 'edgewise_prefetch_bytes_total',
      help: 'Body bytes fetched by warming',
      registers,
    }),
    originRequests: new Counter({
      name: 'edgewise_prefetch_origin_requests_total',
      help: 'Warming requests the edge answered from the origin',
      registers,
    }),
    keys: new Gauge({
      name: 'edgewise_prefetch_model_keys',
      help: 'Cache keys the model remembers',
      registers,
    }),
  };
  const e = store.current.edge.logs;
  const worker = new PrefetchWorker({
    config: () => store.current,
    source: new DirSource(resolve(e.dir), e.prefix),
    stateFile: resolve(store.current.prefetch.stateFile),
    targets: [{ url: edgeUrl, pinnedIps: [] }],
  });
  const ac = new AbortController();
  const loop = (async () => {
    while (!ac.signal.aborted) {
      try {
        const r = await worker.pass({ signal: ac.signal });
        m.passes.inc();
        m.files.inc(r.files.read);
        m.malformed.inc(r.parse.malformed);
        m.keys.set(r.modelKeys);
        if (r.warm) {
          m.requests.inc({ outcome: 'warmed' }, r.warm.warmed);
          m.requests.inc({ outcome: 'fresh' }, r.warm.fresh);
          m.requests.inc({ outcome: 'failed' }, r.warm.failed);
          m.bytes.inc(r.warm.bytes);
          m.originRequests.inc(r.warm.originRequests);
          if (r.warm.warmed > 0 || r.warm.failed > 0)
            log.info(
              {
                files: r.files.read,
                warmed: r.warm.warmed,
                fresh: r.warm.fresh,
                failed: r.warm.failed,
                bytes: r.warm.bytes,
              },
              'prefetch pass',
            );
        }
      } catch (err) {
        if (!ac.signal.aborted) log.error({ err }, 'prefetch pass failed');
      }
      // The signal may have fired during the pass: a listener added now would never run.
      if (ac.signal.aborted) break;
      await sleep(worker.nextWait(Date.now()), undefined, { signal: ac.signal, ref: false }).catch(() => {});
    }
  })();
  return {
    async stop() {
      ac.abort();
      await loop;
    },
  };
}
