/**
 * Prometheus metrics for one origin. Each app gets its own prom-client Registry (never the
 * global one), so several origins in one process — tests, the dev command — do not collide.
 * Reached as `app.edgewise.metrics`; exposed as text by src/routes/metrics.ts.
 *
 * Recording contract for other subsystems:
 *   - uploads:  `uploadBytes.inc({ route }, n)` for bytes stored, `uploadDuration.observe({ route,
 *               outcome: 'ok' | 'failed' }, seconds)` once per upload, `uploadFailures.inc({ code })`
 *               with the coded error's `code` when an upload fails.
 *   - storage:  recorded automatically by `instrumentStorage(driver, metrics)`.
 *   - requests: recorded by the onResponse hook in src/routes/metrics.ts.
 */

import type { Readable } from 'node:stream';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { SeriesCounter, SeriesHistogram } from './fast-metrics.js';
import type {
  ByteRange,
  ListOptions,
  ObjectMeta,
  PutOptions,
  StorageDriver,
  StoredObject,
} from './storage/types.js';

export type UploadOutcome = 'ok' | 'failed';
export type StorageOperation = 'head' | 'get' | 'put' | 'delete' | 'list' | 'check';

export interface EdgewiseMetrics {
  registry: Registry;
  /** Seconds from request received to response finished, by route pattern, content class, method and status. */
  requestDuration: SeriesHistogram<'route' | 'class' | 'method' | 'status'>;
  /** Response body bytes sent, by route pattern and content class. */
  bytesSent: SeriesCounter<'route' | 'class'>;
  /** Bytes accepted into storage by upload routes. */
  uploadBytes: Counter<'route'>;
  /** Seconds per upload, from first byte to stored (or failed). */
  uploadDuration: Histogram<'route' | 'outcome'>;
  /** Failed uploads by error code (EDGEWISE_UPLOAD_TOO_LARGE, …). */
  uploadFailures: Counter<'code'>;
  /** Storage call latency by driver, operation and outcome (ok, miss, error); `get` is time to first byte. */
  storageDuration: SeriesHistogram<'driver' | 'operation' | 'outcome'>;
  /** Requests refused with 503 by overload protection. */
  overloadRejections: Counter<never>;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event-loop lag, GC) from prom-client; on by default. */
  defaultMetrics?: boolean;
}

// Latency buckets from 1 ms to 60 s: cache-warm hits are milliseconds, large downloads over a
// slow viewer connection can take tens of seconds.
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STORAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const UPLOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600];

export function createMetrics(options: MetricsOptions = {}): EdgewiseMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requestDuration: new SeriesHistogram({
      name: 'edgewise_http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by route pattern, content class, method and status.',
      labelNames: ['route', 'class', 'method', 'status'] as const,
      buckets: REQUEST_BUCKETS,
      registry,
    }),
    bytesSent: new SeriesCounter({
      name: 'edgewise_http_response_bytes_total',
      help: 'Response body bytes sent, by route pattern and content class.',
      labelNames: ['route', 'class'] as const,
      registry,
    }),
    uploadBytes: new Counter({
      name: 'edgewise_upload_bytes_total',
      help: 'Bytes accepted into storage by upload routes.',
      labelNames: ['route'] as const,
      registers,
    }),
    uploadDuration: new Histogram({
      name: 'edgewise_upload_duration_seconds',
      help: 'Upload duration in seconds, by route and outcome.',
      labelNames: ['route', 'outcome'] as const,
      buckets: UPLOAD_BUCKETS,
      registers,
    }),
    uploadFailures: new Counter({
      name: 'edgewise_upload_failures_total',
      help: 'Failed uploads by error code.',
      labelNames: ['code'] as const,
      registers,
    }),
    storageDuration: new SeriesHistogram({
      name: 'edgewise_storage_operation_duration_seconds',
      help: 'Storage driver call latency in seconds, by driver, operation and outcome (get: time to first byte).',
      labelNames: ['driver', 'operation', 'outcome'] as const,
      buckets: STORAGE_BUCKETS,
      registry,
    }),
    overloadRejections: new Counter({
      name: 'edgewise_overload_rejections_total',
      help: 'Requests refused with 503 because the process was over its load limits.',
      registers,
    }),
  };
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * Wraps a driver so every call records its latency. The wrapper implements the same seam,
 * so routes cannot tell it apart from the driver; errors pass through unchanged.
 */
export function instrumentStorage(driver: StorageDriver, metrics: EdgewiseMetrics): StorageDriver {
  const h = metrics.storageDuration;
  const name = driver.name;
  // Pre-bound label children: the hot path does no label-map lookups.
  const child = (operation: StorageOperation, outcome: 'ok' | 'miss' | 'error') =>
    h.labels({ driver: name, operation, outcome });
  const timers = {
    head: { ok: child('head', 'ok'), miss: child('head', 'miss'), error: child('head', 'error') },
    get: { ok: child('get', 'ok'), miss: child('get', 'miss'), error: child('get', 'error') },
    put: { ok: child('put', 'ok'), error: child('put', 'error') },
    delete: { ok: child('delete', 'ok'), miss: child('delete', 'miss'), error: child('delete', 'error') },
    list: { ok: child('list', 'ok'), error: child('list', 'error') },
    check: { ok: child('check', 'ok'), error: child('check', 'error') },
  };
  return {
    name,
    // Capabilities pass through untimed: callers ask for them on whatever driver they hold.
    presignedPost: driver.presignedPost,
    multipart: driver.multipart,
    cleanupIncomplete: driver.cleanupIncomplete,
    async head(key: string): Promise<ObjectMeta | undefined> {
      const t = process.hrtime.bigint();
      try {
        const r = await driver.head(key);
        (r ? timers.head.ok : timers.head.miss).observe(seconds(t));
        return r;
      } catch (err) {
        timers.head.error.observe(seconds(t));
        throw err;
      }
    },
    // Not async: the hot path of every GET, and an async wrapper costs a promise and a
    // microtask per call on top of the driver's.
    get(key: string, options?: { range?: ByteRange | undefined }): Promise<StoredObject | undefined> {
      const t = process.hrtime.bigint();
      let p: Promise<StoredObject | undefined>;
      try {
        p = driver.get(key, options);
      } catch (err) {
        timers.get.error.observe(seconds(t));
        return Promise.reject(err);
      }
      return p.then(
        (r) => {
          (r ? timers.get.ok : timers.get.miss).observe(seconds(t));
          return r;
        },
        (err: unknown) => {
          timers.get.error.observe(seconds(t));
          throw err;
        },
      );
    },
    async put(key: string, body: Readable, options: PutOptions): Promise<ObjectMeta> {
      const t = process.hrtime.bigint();
      try {
        const r = await driver.put(key, body, options);
        timers.put.ok.observe(seconds(t));
        return r;
      } catch (err) {
        timers.put.error.observe(seconds(t));
        throw err;
      }
    },
    async delete(key: string): Promise<boolean> {
      const t = process.hrtime.bigint();
      try {
        const r = await driver.delete(key);
        (r ? timers.delete.ok : timers.delete.miss).observe(seconds(t));
        return r;
      } catch (err) {
        timers.delete.error.observe(seconds(t));
        throw err;
      }
    },
    async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectMeta> {
      // Measures the whole listing, as the caller consumed it.
      const t = process.hrtime.bigint();
      try {
        yield* driver.list(prefix, options);
        timers.list.ok.observe(seconds(t));
      } catch (err) {
        timers.list.error.observe(seconds(t));
        throw err;
      }
    },
    async check(): Promise<void> {
      const t = process.hrtime.bigint();
      try {
        await driver.check();
        timers.check.ok.observe(seconds(t));
      } catch (err) {
        timers.check.error.observe(seconds(t));
        throw err;
      }
    },
    close: () => driver.close(),
  };
}
