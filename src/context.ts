/**
 * What every route and subsystem of a running origin shares: the live config, the storage
 * driver (already wrapped for metrics) and the metrics. Reached as `app.edgewise`
 * (declaration merging below), never through globals.
 */
import type { LiveConfig } from './config/live.js';
import type { EdgewiseMetrics } from './metrics.js';
import type { StorageDriver } from './storage/types.js';

export interface EdgewiseContext {
  config: LiveConfig;
  storage: StorageDriver;
  metrics: EdgewiseMetrics;
  /** In `edgewise dev`: the local edge's URL, where upload answers point (src/uploads/public-base.ts). */
  devEdgeUrl?: () => string | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    edgewise: EdgewiseContext;
  }
  interface FastifyRequest {
    /** Content class that served this request, for metrics labels; '' when none applies. */
    edgewiseClass: string;
  }
}
