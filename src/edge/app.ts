/**
 * Builds the edge without listening (tests and the CLI listen themselves, like the origin's
 * buildOrigin): the tiered store over the cache-store seam, the origin pools, metrics, access
 * logs, viewer functions and the request pipeline. `close()` releases pools, flushes logs.
 */

import { join, resolve } from 'node:path';
import { buildFunctions } from '../cloudfront/build.js';
import type { LiveConfig } from '../config/live.js';
import type { Logger } from '../logger.js';
import { RevalidationLogWriter } from '../ttl/revalidations.js';
import { AccessLogWriter } from './access-log/writer.js';
import { adminRoutes } from './admin.js';
import { EdgeCache } from './cache/edge-cache.js';
import { ReplicatedStore } from './cluster/replicated-store.js';
import type { WorkerLink } from './cluster/worker.js';
import { MetricsSampler } from './dashboard/sampler.js';
import { Edge, type RequestStep } from './edge.js';
import { EdgeMetrics } from './metrics.js';
import { OriginClient } from './origin-client.js';
import { canonicalPathStep } from './pipeline/canonical-path.js';
import { signedCheck } from './pipeline/signed.js';
import { loadViewerFunctions } from './pipeline/viewer-functions.js';

export interface BuildEdgeOptions {
  config: LiveConfig;
  logger: Logger;
  /** Base for relative paths in the edge section (disk tier, logs, functions); default cwd. */
  cwd?: string;
  /** Built CloudFront Functions directory instead of edge.functions.dir (dev builds its own). */
  functionsDir?: string;
  /** URL of the edgewise origin when it is not origin.url (dev starts it on its own port). */
  originUrl?: string;
  /** Set in an edge worker process (edge.workers > 1): the channel that makes workers one cache. */
  cluster?: WorkerLink;
  /**
   * `edgewise dev`: while edge.metricsAccess opens to no one (no keys, no addresses), the metrics
   * and dashboard answer loopback callers, so the URLs dev prints open on the developer's machine.
   * Read per request: configuring metricsAccess takes over at the next reload.
   */
  loopbackOperators?: boolean;
}

const LOOPBACK = { apiKeys: [] as string[], allowIps: ['127.0.0.1', '::1'] };

export interface EdgeApp {
  edge: Edge;
  store: EdgeCache;
  metrics: EdgeMetrics;
  logs: AccessLogWriter | undefined;
  functions: string[];
  close(): Promise<void>;
}

export function buildEdge(options: BuildEdgeOptions): EdgeApp {
  const cwd = options.cwd ?? process.cwd();
  const config = options.config;
  const e = config.current.edge;
  const log = options.logger.child({ module: 'edge' });
  let metrics: EdgeMetrics | undefined;
  const link = options.cluster;
  const storeOptions = {
    policy: e.cache.policy,
    memoryBytes: e.cache.memoryBytes,
    diskBytes: e.cache.diskBytes,
    // Each worker's replica has its own disk-tier folder (a start empties it; slots are reused).
    diskDir: link
      ? join(resolve(cwd, e.cache.diskDir), `worker-${link.slot}`)
      : resolve(cwd, e.cache.diskDir),
    diskThresholdBytes: e.cache.diskThresholdBytes,
    onEvict: (tier: 'memory' | 'disk') => metrics?.evictions.inc({ tier }),
  };
  const store = link ? new ReplicatedStore(storeOptions, (m) => link.send(m)) : new EdgeCache(storeOptions);
  metrics = new EdgeMetrics(store);
  if (link) {
    link.store = store as ReplicatedStore;
    link.registry = metrics.registry;
  }
  const origin = new OriginClient(config.current.origin);
  const logs = e.logs.enabled
    ? new AccessLogWriter({
        dir: resolve(cwd, e.logs.dir),
        prefix: e.logs.prefix,
        distributionId: e.logs.distributionId,
        flushIntervalMs: e.logs.flushIntervalMs,
        rotateSeconds: e.logs.rotateSeconds,
        onError: (err) => log.error({ err }, 'access log write failed'),
      })
    : undefined;
  // Revalidation outcomes beside the access logs, for `edgewise ttl suggest` (docs/ttl.md).
  const revalidations = e.logs.enabled
    ? new RevalidationLogWriter({
        dir: resolve(cwd, e.logs.dir),
        prefix: e.logs.prefix,
        distributionId: e.logs.distributionId,
        flushIntervalMs: e.logs.flushIntervalMs,
        rotateSeconds: e.logs.rotateSeconds,
        onError: (err) => log.error({ err }, 'revalidation log write failed'),
      })
    : undefined;
  if (revalidations) metrics.onRevalidation = (ev) => revalidations.write(ev);
  const fns = loadViewerFunctions(
    {
      ...e.functions,
      dir: resolve(cwd, options.functionsDir ?? e.functions.dir),
      // Files that are exactly this config's build have their results reused (docs/edge.md).
      build: () => buildFunctions(config.current),
    },
    (line) => log.info({ fn: line }, 'function log'),
  );
  // A fresh checkout has no edge-functions/dist: say so loudly rather than run without them.
  const fnDir = resolve(cwd, options.functionsDir ?? e.functions.dir);
  const missing = [
    ...(e.functions.viewerRequest ? ['viewer-request.js'] : []),
    ...(e.functions.viewerResponse ? ['viewer-response.js'] : []),
  ].filter((f) => !fns.loaded.some((l) => l.endsWith(f)));
  if (missing.length > 0)
    log.warn(
      { dir: fnDir, missing },
      'viewer functions configured but not built: the edge runs WITHOUT them (run `edgewise cloudfront build`, or set edge.functions.viewerRequest/viewerResponse to false)',
    );
  // CloudFront's order: the trusted key group check, then the viewer-request function (which
  // refuses non-canonical paths; the edge refuses them itself too, functions or not).
  // A reload rebuilds the functions edgewise generated from the new config and swaps them in, so
  // a TTL or browser-TTL edit reaches the next request through the edge as well as the origin.
  const onChange = () => {
    try {
      const result = fns.update(buildFunctions(config.current));
      if (result === 'updated') log.info('viewer functions rebuilt from the reloaded config');
      else if (result === 'not-generated')
        log.warn('viewer functions were not built by edgewise: a reload does not change them');
    } catch (err) {
      log.error(
        { err },
        'viewer functions could not be rebuilt from the reloaded config: the running ones stay',
      );
    }
  };
  config.on('change', onChange);
  // The dashboard's history: the edge's own metrics (all workers' totals with workers), sampled.
  const scrape = link ? async () => (await link.metrics()).text : () => metrics.registry.metrics();
  const sampler = new MetricsSampler(scrape, () => config.current.kpi.historySamples);
  sampler.start(() => config.current.kpi.sampleSeconds);
  const steps: RequestStep[] = [signedCheck(config), canonicalPathStep];
  if (fns.request) steps.push(fns.request);
  const edge = new Edge({
    config,
    logger: options.logger,
    store,
    metrics,
    origin,
    logs,
    requestSteps: steps,
    responseHook: fns.response,
    ...(options.originUrl ? { originUrl: options.originUrl } : {}),
    ...(link ? { fills: link, workers: link.workers } : {}),
    adminRoutes: adminRoutes({
      ...(link
        ? {
            clusterMetrics: () => link.metrics(),
            invalidateAll: (paths: string[]) => link.invalidateAll(paths),
          }
        : {}),
      store,
      metrics,
      metricsPath: () => config.current.edge.metricsPath,
      apiKeys: () => config.current.edge.invalidation.apiKeys,
      metricsAccess: () => {
        const access = config.current.edge.metricsAccess;
        const closed = access.apiKeys.length === 0 && access.allowIps.length === 0;
        return options.loopbackOperators && closed ? LOOPBACK : access;
      },
      dashboard: { sampler, kpi: () => config.current.kpi },
    }),
  });
  return {
    edge,
    store,
    metrics,
    logs,
    functions: fns.loaded,
    async close() {
      config.off('change', onChange);
      sampler.stop();
      await edge.close();
      await origin.close();
      await logs?.close();
      await revalidations?.close();
      // The disk tier's reused descriptors (ones still being read close when the read ends).
      store.closeFiles();
    },
  };
}
