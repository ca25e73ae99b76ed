/**
 * The edge's request pipeline, CloudFront's order:
 * viewer protocol policy → viewer-request function → signed URL/cookie check → cache key →
 * cache state machine (cache-flow.ts) → viewer-response function → viewer.
 * Unsafe methods go to pass-through.ts, streamed both ways; the finished request is counted
 * and logged by access-record.ts. This module only sequences those steps.
 */

import type { OutgoingHttpHeaders } from 'node:http';
import { buildCacheKey, normaliseAcceptEncoding } from '../cache-key.js';
import { classify } from '../classes.js';
import { isUploadPath, methodAllowed } from '../cloudfront/methods.js';
import type { LiveConfig } from '../config/live.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import { BadPath, EdgeHttpsRequired, EdgeMethodForbidden, Internal, isCodedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { trafficOf } from '../prefetch/own-traffic.js';
import type { AccessLogWriter } from './access-log/writer.js';
import { recordAccess } from './access-record.js';
import { isAdminPath } from './admin.js';
import type { EdgeCache } from './cache/edge-cache.js';
import { CacheFlow, type FillLeases } from './cache-flow.js';
import { createContext, type EdgeContext, type ViewerRequest, type ViewerResponse } from './context.js';
import { headerString } from './entry.js';
import type { FillRequest } from './fill.js';
import { EdgeFollow } from './follow-prefetch.js';
import type { EdgeMetrics } from './metrics.js';
import type { OriginClient } from './origin-client.js';
import { PassThrough } from './pass-through.js';
import { viewerProtocol } from './pipeline/viewer-protocol.js';
import { Replies } from './reply.js';
import type { ResponseHook } from './respond.js';

/** What a viewer-request step may answer: continue (possibly rewritten) or respond now. */
export type RequestStep = (
  ctx: EdgeContext,
  cls: ContentClassConfig,
) =>
  | undefined
  | Promise<
      | { status: number; headers: OutgoingHttpHeaders; body: Buffer }
      | { code: string; message: string; statusCode: number }
      | undefined
    >;

export interface EdgeDeps {
  config: LiveConfig;
  logger: Logger;
  store: EdgeCache;
  metrics: EdgeMetrics;
  origin: OriginClient;
  logs: AccessLogWriter | undefined;
  /** Viewer-request function and signed check, in that order (src/edge/pipeline). */
  requestSteps: RequestStep[];
  responseHook: ResponseHook | undefined;
  /** The edgewise origin's URL when known at start (else origin.url, else server.host:port). */
  originUrl?: string;
  /** Extra routes the edge answers itself (metrics, invalidations); true when handled. */
  adminRoutes: (ctx: EdgeContext) => Promise<boolean>;
  /** Fill leases across edge workers (src/edge/cluster); absent in a single process. */
  fills?: FillLeases;
  /** Edge worker processes (1 in a single process). */
  workers?: number;
}

/** Methods the edge caches. */
const SAFE = new Set(['GET', 'HEAD']);

export class Edge {
  readonly #d: EdgeDeps;
  readonly #log: Logger;
  readonly #replies: Replies;
  readonly #pass: PassThrough;
  readonly #cache: CacheFlow;
  /** Follow-on-request prefetch (src/edge/follow-prefetch.ts). */
  readonly follow: EdgeFollow;

  constructor(deps: EdgeDeps) {
    this.#d = deps;
    this.#log = deps.logger.child({ module: 'edge' });
    this.#replies = new Replies(deps.config, deps.responseHook, this.#log);
    this.#pass = new PassThrough({
      store: deps.store,
      metrics: deps.metrics,
      origin: deps.origin,
      replies: this.#replies,
    });
    this.follow = new EdgeFollow({
      config: deps.config,
      store: deps.store,
      collapser: { join: (key) => this.#cache.collapser.join(key) },
      metrics: deps.metrics,
      logger: this.#log,
      workers: deps.workers ?? 1,
      run: (ctx) => this.background(ctx),
    });
    this.#cache = new CacheFlow({
      config: deps.config,
      store: deps.store,
      origin: deps.origin,
      metrics: deps.metrics,
      logger: this.#log,
      replies: this.#replies,
      passThrough: this.#pass,
      follow: this.follow,
      ...(deps.fills ? { fills: deps.fills } : {}),
    });
  }

  /**
   * A request the edge makes of itself (a follow fill, src/edge/follow-prefetch.ts): the viewer
   * pipeline from the viewer-request function on, counted and logged when its answer is done.
   */
  background(ctx: EdgeContext): Promise<void> {
    (ctx.res as NodeJS.EventEmitter).once('close', () =>
      recordAccess(ctx, this.#d.metrics, this.#d.logs, this.#edge.logs),
    );
    return this.#run(ctx).catch((err: unknown) => this.#fail(ctx, err));
  }

  /** Stops background work (follow fills) before the origin pools close. */
  close(): Promise<void> {
    return this.follow.close();
  }

  /** Request collapsing state (one origin fetch per cold key). */
  get collapser() {
    return this.#cache.collapser;
  }

  get #edge() {
    return this.#d.config.current.edge;
  }

  /** The node:http / node:http2 request listener. */
  readonly handle = (req: ViewerRequest, res: ViewerResponse): void => {
    const ctx = createContext(req, res, this.#edge.trustForwardedProto);
    if (typeof ctx === 'string') {
      // The origin's answer to the same target (src/http/request-target.ts).
      const err = new BadPath(ctx);
      const body = JSON.stringify({ statusCode: err.statusCode, code: err.code, message: err.message });
      res.writeHead(err.statusCode, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        'cache-control': 'no-store',
      });
      res.end(body);
      return;
    }
    ctx.traffic = trafficOf(
      headerString(ctx.headers['user-agent']),
      this.#d.config.current.prefetch.userAgent,
    );
    // 'close' comes once per response; `on` spares once()'s wrapper on every request.
    (res as NodeJS.EventEmitter).on('close', () =>
      recordAccess(ctx, this.#d.metrics, this.#d.logs, this.#edge.logs),
    );
    this.#run(ctx).catch((err: unknown) => this.#fail(ctx, err));
  };

  async #run(ctx: EdgeContext): Promise<void> {
    if (isAdminPath(ctx.path, this.#edge.metricsPath)) {
      if (await this.#d.adminRoutes(ctx)) return;
    }
    const config = this.#d.config.current;
    // Chosen on the raw path, as CloudFront chooses a behavior; a non-canonical spelling is
    // refused by a request step (pipeline/canonical-path.ts) before the class is used to cache.
    const cls = classify(config, ctx.path);
    ctx.cls = cls;
    const enforce = this.#edge.tls !== undefined || this.#edge.trustForwardedProto;
    const vp = viewerProtocol(
      cls.viewerProtocolPolicy,
      ctx.scheme,
      enforce,
      ctx.method,
      ctx.host,
      ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path,
    );
    if (vp.action === 'redirect') {
      return this.#replies.send(
        ctx,
        'Redirect',
        301,
        { location: vp.location, 'content-length': '0' },
        { kind: 'none' },
      );
    }
    if (vp.action === 'forbid') return this.#replies.error(ctx, new EdgeHttpsRequired());
    if (!methodAllowed(config.cloudfront, config.dev, ctx.path, cls, ctx.method))
      return this.#replies.error(ctx, new EdgeMethodForbidden(ctx.method, cls.name));
    // The upload paths' behaviors (src/cloudfront/methods.ts): no functions, no key group,
    // caching disabled. Their answers (grants, upload receipts) are never stored.
    if (isUploadPath(ctx.path, config.dev)) {
      ctx.functions = false;
      return this.#pass.run(ctx, this.#targetOf(cls));
    }

    for (const step of this.#d.requestSteps) {
      const pending = step(ctx, cls);
      // Steps with nothing to do return undefined synchronously: no promise on the hit path.
      const answer = pending === undefined ? undefined : await pending;
      if (answer === undefined) continue;
      if ('code' in answer) return this.#replies.error(ctx, answer);
      return this.#replies.send(ctx, 'FunctionGeneratedResponse', answer.status, answer.headers, {
        kind: 'buffer',
        data: answer.body,
      });
    }
    const target = this.#targetOf(cls);
    if (!SAFE.has(ctx.method)) return this.#pass.run(ctx, target);

    const encoding = cls.compress
      ? normaliseAcceptEncoding(headerString(ctx.headers['accept-encoding']))
      : '';
    const key = buildCacheKey(
      { path: ctx.path, query: ctx.query, headers: ctx.headers, encoding },
      cls.cacheKey,
    );
    // RFC 9111 §5.2.1.7 only-if-cached: answer from the cache or 504. Warmers use it to ask
    // whether a key is held without causing a fill; such probes are not viewer traffic.
    ctx.probe = /(^|[\s,])only-if-cached([\s,]|$)/i.test(headerString(ctx.headers['cache-control']) ?? '');
    const r: FillRequest = {
      target,
      cls,
      key,
      encoding,
      viewerHeaders: ctx.headers,
      clientIp: ctx.clientIp,
      requestId: ctx.requestId,
      stale: undefined,
      signal: ctx.signal,
    };
    return this.#cache.run(ctx, r);
  }

  /** The origin a class's requests go to: its named edge origin, else the edgewise origin. */
  #targetOf(cls: ContentClassConfig): string {
    const config = this.#d.config.current;
    const name = this.#edge.targets[cls.name] ?? 'origin';
    if (name !== 'origin') {
      const o = this.#edge.origins.find((x) => x.name === name);
      if (o) return o.url;
    }
    return (
      config.origin.url ??
      this.#d.originUrl ??
      `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${config.server.port}`
    );
  }

  #fail(ctx: EdgeContext, err: unknown): void {
    this.#log.error({ err, path: ctx.path }, 'edge request failed');
    if (ctx.res.headersSent) {
      ctx.res.destroy(err instanceof Error ? err : undefined);
      return;
    }
    const shown =
      isCodedError(err) && typeof err.statusCode === 'number' && err.statusCode < 500 ? err : new Internal();
    this.#replies.error(ctx, shown).catch(() => ctx.res.destroy());
  }
}
