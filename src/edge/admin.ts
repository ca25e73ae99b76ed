/**
 * Routes the edge answers itself instead of forwarding: its Prometheus metrics and the
 * invalidation API; and the guard on the origin's `/metrics`, which the edge forwards only to a
 * caller the metrics guard lets in (src/http/operator-access.ts: a key or an allowed address;
 * 401 otherwise).
 * The invalidation API follows CloudFront's CreateInvalidation: paths start
 * with `/`, `*` is allowed only as the last character, at most 3,000 paths per request (the
 * limit CloudFront sets for in-progress paths), and every variant of a matched path goes
 * (all query strings, encodings and Vary variants). Keys are compared in constant time.
 */
import { randomBytes } from 'node:crypto';
import type { KpiConfig } from '../config/sections/kpi.js';
import { EdgeBadInvalidation, MethodNotAllowed, Unauthorized } from '../errors.js';
import { bearerMatches, type MetricsAccess, metricsGuard } from '../http/operator-access.js';
import type { EdgeCache } from './cache/edge-cache.js';
import type { EdgeContext } from './context.js';
import { dashboardPage } from './dashboard/page.js';
import type { MetricsSampler } from './dashboard/sampler.js';
import { headerString } from './entry.js';
import type { EdgeMetrics } from './metrics.js';

export const INVALIDATIONS_PATH = '/_edge/invalidations';
/** The origin's Prometheus endpoint (src/routes/metrics.ts): forwarded only to metrics callers. */
export const ORIGIN_METRICS_PATH = '/metrics';
const MAX_PATHS = 3000;
const MAX_BODY = 1024 * 1024;

export interface AdminDeps {
  store: EdgeCache;
  metrics: EdgeMetrics;
  metricsPath: () => string;
  apiKeys: () => readonly string[];
  /** Who may read the edge's metrics and, through the edge, the origin's (edge.metricsAccess). */
  metricsAccess: () => MetricsAccess;
  /** With edge workers: the totals of all workers (src/edge/cluster), instead of this process's. */
  clusterMetrics?: () => Promise<{ text: string; contentType: string }>;
  /** With edge workers: invalidates in every worker and resolves once all have applied it. */
  invalidateAll?: (paths: string[]) => Promise<number>;
  /** The dashboard page and its data (guarded like the metrics). */
  dashboard?: { sampler: MetricsSampler; kpi: () => KpiConfig };
}

export const DASHBOARD_PATH = '/_edge/dashboard';
export const DASHBOARD_DATA_PATH = '/_edge/dashboard/data';

function reply(
  ctx: EdgeContext,
  status: number,
  body: unknown,
  type = 'application/json; charset=utf-8',
): void {
  const data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  ctx.status = status;
  ctx.resultType = status >= 400 ? 'Error' : 'Miss';
  // Metrics scrapes and dashboard refreshes are counted apart, never as viewers' misses.
  ctx.traffic = 'operator';
  ctx.res.writeHead(status, {
    'content-type': type,
    'content-length': String(data.length),
    'cache-control': 'no-store',
  });
  ctx.res.end(data);
  ctx.bodyBytes = data.length;
}

function replyError(ctx: EdgeContext, err: { code: string; message: string; statusCode: number }): void {
  ctx.detailedResultType = err.code;
  reply(ctx, err.statusCode, { statusCode: err.statusCode, code: err.code, message: err.message });
}

/** RFC 9110 §15.5.2: a 401 names the scheme that would be accepted (RFC 6750 §3). */
function replyUnauthorized(ctx: EdgeContext): void {
  ctx.res.setHeader('www-authenticate', 'Bearer realm="edgewise-edge"');
  replyError(ctx, new Unauthorized());
}

/**
 * Whether the edge must hand this path to adminRoutes before classifying it. A plain comparison
 * is enough: any other spelling of these paths (`/%6detrics`, `//metrics`) is not canonical and
 * is refused with a 400 by pipeline/canonical-path.ts before anything is forwarded, and the
 * origin guards its own /metrics as well (server.metricsAccess).
 */
export function isAdminPath(path: string, metricsPath: string): boolean {
  return path.startsWith('/_edge/') || path === metricsPath || path === ORIGIN_METRICS_PATH;
}

async function readJson(ctx: EdgeContext): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new EdgeBadInvalidation(`body over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new EdgeBadInvalidation('body is not JSON');
  }
}

/** Accepts `{ "paths": [...] }` or CloudFront's `{ "Paths": { "Items": [...] } }`. */
export function parsePaths(body: unknown): string[] {
  const b = body as { paths?: unknown; Paths?: { Items?: unknown } } | null;
  const list = b?.paths ?? b?.Paths?.Items;
  if (!Array.isArray(list) || list.length === 0)
    throw new EdgeBadInvalidation('"paths" must be a non-empty array');
  if (list.length > MAX_PATHS) throw new EdgeBadInvalidation(`at most ${MAX_PATHS} paths per request`);
  for (const p of list) {
    if (typeof p !== 'string' || !p.startsWith('/') || p.length > 4096)
      throw new EdgeBadInvalidation(`path must be a string starting with "/": ${JSON.stringify(p)}`);
    if (p.slice(0, -1).includes('*')) throw new EdgeBadInvalidation(`"*" is allowed only at the end: ${p}`);
  }
  return list as string[];
}

export function adminRoutes(deps: AdminDeps): (ctx: EdgeContext) => Promise<boolean> {
  const guard = metricsGuard(deps.metricsAccess);
  /** True (and the 401 sent) when the caller may not read metrics. */
  const refused = (ctx: EdgeContext): boolean => {
    const err = guard({
      authorization: headerString(ctx.headers.authorization),
      remoteAddress: ctx.clientIp,
    });
    if (err) replyUnauthorized(ctx);
    return err !== undefined;
  };
  return async (ctx) => {
    if (ctx.path === ORIGIN_METRICS_PATH && ctx.path !== deps.metricsPath()) {
      // Handled (refused) here, or returned to the pipeline, which forwards it to the origin.
      return refused(ctx);
    }
    if (ctx.path === deps.metricsPath()) {
      if (refused(ctx)) return true;
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
        replyError(ctx, new MethodNotAllowed(ctx.method));
        return true;
      }
      const m = deps.clusterMetrics
        ? await deps.clusterMetrics()
        : { text: await deps.metrics.registry.metrics(), contentType: deps.metrics.registry.contentType };
      reply(ctx, 200, m.text, m.contentType);
      return true;
    }
    if (deps.dashboard && (ctx.path === DASHBOARD_PATH || ctx.path === DASHBOARD_DATA_PATH)) {
      if (refused(ctx)) return true;
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
        replyError(ctx, new MethodNotAllowed(ctx.method));
        return true;
      }
      const kpi = deps.dashboard.kpi();
      if (ctx.path === DASHBOARD_PATH)
        reply(ctx, 200, dashboardPage(kpi, DASHBOARD_DATA_PATH), 'text/html; charset=utf-8');
      else
        reply(ctx, 200, {
          sampleSeconds: kpi.sampleSeconds,
          kpi,
          points: await deps.dashboard.sampler.points(),
        });
      return true;
    }
    if (ctx.path !== INVALIDATIONS_PATH) return false;
    if (ctx.method !== 'POST') {
      replyError(ctx, new MethodNotAllowed(ctx.method));
      return true;
    }
    // Authenticate before reading the body: an anonymous caller costs nothing.
    if (!bearerMatches(headerString(ctx.headers.authorization), deps.apiKeys())) {
      replyUnauthorized(ctx);
      return true;
    }
    try {
      const paths = parsePaths(await readJson(ctx));
      let removed = 0;
      if (deps.invalidateAll) removed = await deps.invalidateAll(paths);
      else for (const p of paths) removed += deps.store.invalidate(p);
      if (removed > 0) deps.metrics.invalidated.inc(removed);
      reply(ctx, 201, {
        id: `I${randomBytes(6).toString('hex').toUpperCase()}`,
        status: 'Completed',
        createTime: new Date().toISOString(),
        paths,
        removed,
      });
    } catch (err) {
      const e = err as { code?: string; message: string; statusCode?: number };
      if (e.code === EdgeBadInvalidation.code)
        replyError(ctx, e as { code: string; message: string; statusCode: number });
      else throw err;
    }
    return true;
  };
}
