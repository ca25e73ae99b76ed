/**
 * The edge's request pipeline, CloudFront's order:
 * viewer protocol policy → viewer-request function → signed URL/cookie check → cache key →
 * lookup → hit (Age; ranges and conditionals answered from the stored object) / stale
 * (stale-while-revalidate, revalidation, stale-if-error) / miss (collapsed into one origin
 * fetch) → TTL → store → viewer-response function → viewer.
 * Unsafe methods pass through, streamed both ways, and invalidate the URL (RFC 9111 §4.4).
 * Each step lives in its own module; this one only sequences them.
 */

import { open } from 'node:fs/promises';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { classify } from '../classes.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import type { ConfigStore } from '../config/store.js';
import {
  EdgeBadRequest,
  EdgeHttpsRequired,
  EdgeNotCached,
  EdgeOriginTimeout,
  EdgeOriginUnreachable,
  Internal,
  isCodedError,
  RangeNotSatisfiable,
} from '../errors.js';
import { lingerOnClose } from '../http/linger.js';
import type { Logger } from '../logger.js';
import { formatLine } from './access-log/format.js';
import type { AccessLogWriter } from './access-log/writer.js';
import type { TieredStore } from './cache/tiered-store.js';
import { Collapser, type Fill } from './collapse.js';
import { createContext, type EdgeContext, type ViewerRequest, type ViewerResponse } from './context.js';
import { type CachedResponse, headerString } from './entry.js';
import {
  applyNotModified,
  type FillDeps,
  type FillRequest,
  freshnessOf,
  requestOrigin,
  startFill,
  storedHeaders,
  variantKey,
} from './fill.js';
import type { EdgeMetrics, ResultType } from './metrics.js';
import { type OriginClient, originFailure } from './origin-client.js';
import { buildCacheKey, normaliseAcceptEncoding } from './pipeline/cache-key.js';
import { NOT_MODIFIED_FIELDS, selectRepresentation } from './pipeline/conditional.js';
import { originHeaders } from './pipeline/origin-headers.js';
import { viewerProtocol } from './pipeline/viewer-protocol.js';
import { type Body, deliver, entryHeaders, type ResponseHook, viewerHeaders } from './respond.js';

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
  config: ConfigStore;
  logger: Logger;
  store: TieredStore;
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
}

/** Methods the edge caches. */
const SAFE = new Set(['GET', 'HEAD']);
/** Safe methods (RFC 9110 §9.2.1): passing through, they invalidate nothing (CORS preflights!). */
const NON_INVALIDATING = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export class Edge {
  readonly collapser = new Collapser();
  readonly #d: EdgeDeps;
  readonly #log: Logger;

  constructor(deps: EdgeDeps) {
    this.#d = deps;
    this.#log = deps.logger.child({ module: 'edge' });
  }

  get #edge() {
    return this.#d.config.current.edge;
  }

  #fillDeps(): FillDeps {
    const e = this.#edge;
    return {
      store: this.#d.store,
      origin: this.#d.origin,
      metrics: this.#d.metrics,
      errorCachingMinTtl: e.errorCachingMinTtl,
      maxObjectBytes: e.cache.maxObjectBytes,
    };
  }

  /** The node:http / node:http2 request listener. */
  readonly handle = (req: ViewerRequest, res: ViewerResponse): void => {
    const ctx = createContext(req, res, this.#edge.trustForwardedProto);
    if (typeof ctx === 'string') {
      res.writeHead(400, { 'content-type': 'application/json' });
      const err = new EdgeBadRequest(ctx);
      res.end(JSON.stringify({ statusCode: 400, code: err.code, message: err.message }));
      return;
    }
    (res as NodeJS.EventEmitter).once('close', () => this.#finish(ctx));
    this.#run(ctx).catch((err: unknown) => this.#fail(ctx, err));
  };

  async #run(ctx: EdgeContext): Promise<void> {
    if (ctx.path.startsWith('/_edge/') || ctx.path === this.#edge.metricsPath) {
      if (await this.#d.adminRoutes(ctx)) return;
    }
    const config = this.#d.config.current;
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
      return this.#send(
        ctx,
        'Redirect',
        301,
        { location: vp.location, 'content-length': '0' },
        { kind: 'none' },
      );
    }
    if (vp.action === 'forbid') return this.#error(ctx, new EdgeHttpsRequired());

    for (const step of this.#d.requestSteps) {
      const pending = step(ctx, cls);
      // Steps with nothing to do return undefined synchronously: no promise on the hit path.
      const answer = pending === undefined ? undefined : await pending;
      if (answer === undefined) continue;
      if ('code' in answer) return this.#error(ctx, answer);
      return this.#send(ctx, 'FunctionGeneratedResponse', answer.status, answer.headers, {
        kind: 'buffer',
        data: answer.body,
      });
    }
    const target = this.#targetOf(cls);
    if (!SAFE.has(ctx.method)) return this.#passThrough(ctx, target);

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
      stale: undefined,
    };
    return this.#cached(ctx, r, true);
  }

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

  async #cached(ctx: EdgeContext, r: FillRequest, mayCollapse: boolean): Promise<void> {
    const store = this.#d.store;
    const fullKey = variantKey(r.key.key, store.variesOn(r.key.key), ctx.headers);
    const entry = store.get(fullKey);
    if (entry) {
      const age = entry.policy.age();
      if (age < entry.ttl) return this.#serveEntry(ctx, r, entry, 'Hit', age);
      // A probe asks whether the edge holds the key fresh; a stale copy is an answer of "no".
      if (age < entry.ttl + entry.swr && !ctx.probe) {
        this.#refreshInBackground(r, fullKey, entry);
        return this.#serveEntry(ctx, r, entry, 'Hit', age);
      }
    }
    if (ctx.probe) return this.#error(ctx, new EdgeNotCached(ctx.path));
    if (ctx.method === 'HEAD' && !entry) return this.#passThrough(ctx, r.target);

    const joined = mayCollapse ? this.collapser.join(fullKey) : undefined;
    if (joined) {
      this.#d.metrics.collapsed.inc();
      const fill = await joined;
      if (fill && !fill.partial) return this.#serveFill(ctx, fill, 'Miss', undefined);
      // The leader's response was not shareable or was a revalidation: look again, alone.
      return this.#cached(ctx, r, false);
    }
    return this.#fetch(ctx, { ...r, stale: entry }, fullKey, mayCollapse);
  }

  async #fetch(ctx: EdgeContext, r: FillRequest, fullKey: string, lead: boolean): Promise<void> {
    const deps = this.#fillDeps();
    const leader = lead ? this.collapser.lead(fullKey) : undefined;
    const t0 = performance.now();
    let res: Awaited<ReturnType<typeof requestOrigin>>;
    try {
      res = await requestOrigin(deps, r);
    } catch (err) {
      leader?.release();
      if (r.stale && this.#staleOnError(r.stale))
        return this.#serveEntry(ctx, r, r.stale, 'Hit', r.stale.policy.age());
      return this.#originError(ctx, err);
    }
    const upstreamMs = performance.now() - t0;
    const stale = r.stale;
    if (stale && res.status === 304) {
      res.body.resume();
      const updated = applyNotModified(deps, r, stale, res.headers);
      leader?.release();
      return this.#serveEntry(ctx, r, updated, 'RefreshHit', updated.policy.age());
    }
    // RFC 5861 §4: stale-if-error covers 500, 502, 503 and 504 as well as unreachable origins.
    if (stale && [500, 502, 503, 504].includes(res.status) && this.#staleOnError(stale)) {
      res.body.on('error', () => {}).destroy();
      leader?.release();
      return this.#serveEntry(ctx, r, stale, 'Hit', stale.policy.age());
    }
    const headers = storedHeaders(res.headers);
    const { policy, fresh } = freshnessOf(deps, r, res.status, headers);
    const declared = Number(headerString(headers['content-length']) ?? 0);
    if (!fresh.store || declared > deps.maxObjectBytes) {
      // A response that may not be stored replaces the stale copy, which must not be reused.
      if (stale) this.#d.store.delete(stale.key);
      leader?.release();
      res.body.on('data', (c: Buffer) => deps.metrics.originBytes.inc(c.length));
      const out = viewerHeaders(headers);
      // Surrogate-Control is for the edge alone (Edge Architecture 1.0).
      delete out['surrogate-control'];
      return this.#send(
        ctx,
        'Miss',
        res.status,
        out,
        ctx.method === 'HEAD' ? this.#drain(res.body) : { kind: 'stream', stream: res.body },
        upstreamMs,
      );
    }
    const started = startFill(deps, r, res, fresh, policy, () => leader?.release());
    leader?.share(started.fill);
    void started.stored.then(() => leader?.release());
    return this.#serveFill(ctx, started.fill, 'Miss', upstreamMs);
  }

  #drain(body: NodeJS.ReadableStream): Body {
    body.resume();
    return { kind: 'none' };
  }

  #staleOnError(entry: CachedResponse): boolean {
    return entry.policy.age() < entry.ttl + entry.sie;
  }

  /** stale-while-revalidate: one background refresh per key; viewers keep getting the stale copy. */
  #refreshInBackground(r: FillRequest, fullKey: string, stale: CachedResponse): void {
    if (this.collapser.join(fullKey)) return;
    const deps = this.#fillDeps();
    const leader = this.collapser.lead(fullKey);
    const req: FillRequest = { ...r, stale };
    requestOrigin(deps, req)
      .then(async (res) => {
        if (res.status === 304) {
          res.body.resume();
          applyNotModified(deps, req, stale, res.headers);
          return;
        }
        const headers = storedHeaders(res.headers);
        const { policy, fresh } = freshnessOf(deps, req, res.status, headers);
        if ([500, 502, 503, 504].includes(res.status) || !fresh.store) {
          res.body.resume();
          if (!fresh.store && res.status < 500) deps.store.delete(stale.key);
          return;
        }
        await startFill(deps, req, res, fresh, policy).stored;
      })
      .catch((err: unknown) => this.#log.warn({ err, path: r.key.path }, 'background revalidation failed'))
      .finally(() => leader.release());
  }

  async #serveEntry(
    ctx: EdgeContext,
    r: FillRequest | undefined,
    entry: CachedResponse,
    result: ResultType,
    age: number,
  ): Promise<void> {
    const headers = entryHeaders(entry.headers);
    headers.age = String(Math.floor(age));
    const sel = selectRepresentation(ctx.method, ctx.headers, entry.status, entry.headers, entry.size);
    if (sel.kind === 'not-modified') {
      const h: OutgoingHttpHeaders = { age: headers.age };
      for (const f of NOT_MODIFIED_FIELDS) if (headers[f] !== undefined) h[f] = headers[f];
      return this.#send(ctx, result, 304, h, { kind: 'none' });
    }
    if (sel.kind === 'unsatisfiable') {
      return this.#error(ctx, new RangeNotSatisfiable(entry.size), {
        'content-range': `bytes */${entry.size}`,
      });
    }
    let start = 0;
    let end = entry.size - 1;
    let status = entry.status;
    if (sel.kind === 'range') {
      ({ start, end } = sel);
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${entry.size}`;
      ctx.range = { start, end };
    }
    if (entry.status === 200) headers['accept-ranges'] = 'bytes';
    const length = entry.size === 0 ? 0 : end - start + 1;
    // 204 and 304 never carry Content-Length-bearing bodies (RFC 9110 §8.6).
    if (entry.status !== 204) headers['content-length'] = String(length);
    if (ctx.method === 'HEAD' || length === 0)
      return this.#send(ctx, result, status, headers, { kind: 'none' });
    if (Buffer.isBuffer(entry.body)) {
      const data = start === 0 && end === entry.size - 1 ? entry.body : entry.body.subarray(start, end + 1);
      return this.#send(ctx, result, status, headers, { kind: 'buffer', data });
    }
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(entry.body.file, 'r');
    } catch {
      // Evicted between lookup and open: treat as a miss.
      this.#d.store.delete(entry.key);
      return r ? this.#cached(ctx, r, true) : this.#originError(ctx, new Error('cached file vanished'));
    }
    return this.#send(ctx, result, status, headers, { kind: 'file', handle, start, end });
  }

  async #serveFill(
    ctx: EdgeContext,
    fill: Fill,
    result: ResultType,
    upstreamMs: number | undefined,
  ): Promise<void> {
    const conditional =
      ctx.headers.range !== undefined ||
      ctx.headers['if-none-match'] !== undefined ||
      ctx.headers['if-modified-since'] !== undefined;
    if (conditional && fill.status === 200) {
      // Ranges and validators are answered from the complete object.
      if (!fill.done)
        await new Promise<void>((resolve) =>
          fill.follow({ write() {}, end: resolve, abort: () => resolve() }),
        );
      if (fill.error) return this.#originError(ctx, fill.error);
      // Outgrew the cacheable size: this viewer gets its own copy from the origin.
      if (fill.partial) return this.#passThrough(ctx, this.#targetOf(ctx.cls!));
      const body = fill.body();
      const pseudo = {
        headers: fill.headers,
        status: fill.status,
        body,
        size: body.length,
      } as CachedResponse;
      return this.#serveEntry(ctx, undefined, pseudo, result, 0);
    }
    const headers = viewerHeaders(fill.headers);
    // Just received: its age is whatever the origin (or a cache behind it) said, else 0.
    if (headers.age === undefined) headers.age = '0';
    if (ctx.method === 'HEAD')
      return this.#send(ctx, result, fill.status, headers, { kind: 'none' }, upstreamMs);
    return this.#send(ctx, result, fill.status, headers, { kind: 'fill', fill }, upstreamMs);
  }

  /** Unsafe methods (and HEAD misses): streamed both ways, never stored. */
  async #passThrough(ctx: EdgeContext, target: string): Promise<void> {
    const headers = originHeaders(ctx.headers, {
      key: undefined,
      encoding: undefined,
      clientIp: ctx.clientIp,
      fill: false,
    });
    const hasBody =
      ctx.headers['content-length'] !== undefined || ctx.headers['transfer-encoding'] !== undefined;
    const t0 = performance.now();
    let res: Awaited<ReturnType<OriginClient['request']>>;
    try {
      this.#d.metrics.originRequests.inc({ kind: 'pass' });
      res = await this.#d.origin.request({
        origin: target,
        method: ctx.method,
        path: ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path,
        headers,
        // The viewer's body is streamed, never buffered: uploads run at line speed.
        body:
          hasBody && ctx.method !== 'HEAD'
            ? (ctx.req as unknown as import('node:stream').Readable)
            : undefined,
      });
    } catch (err) {
      return this.#originError(ctx, err);
    }
    // The origin answered before the viewer finished sending (an early 413/403): answer the
    // viewer with Connection: close and a lingering close, or its unread bytes turn our
    // answer into a reset.
    const viewer = ctx.req as unknown as IncomingMessage;
    const viewerRes = ctx.res as unknown as ServerResponse;
    if (hasBody && viewer.httpVersionMajor < 2 && !viewer.complete && viewerRes.socket) {
      viewerRes.shouldKeepAlive = false;
      lingerOnClose(viewerRes.socket, viewer);
    }
    if (!NON_INVALIDATING.has(ctx.method) && res.status < 400) this.#invalidateAfterUnsafe(ctx, res.headers);
    res.body.on('data', (c: Buffer) => this.#d.metrics.originBytes.inc(c.length));
    const body: Body = ctx.method === 'HEAD' ? this.#drain(res.body) : { kind: 'stream', stream: res.body };
    return this.#send(
      ctx,
      'Miss',
      res.status,
      viewerHeaders(storedHeaders(res.headers)),
      body,
      performance.now() - t0,
    );
  }

  /**
   * RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target URI, and
   * the Location and Content-Location URIs when they are on the same host.
   */
  #invalidateAfterUnsafe(ctx: EdgeContext, headers: Record<string, string | string[] | undefined>): void {
    let removed = this.#d.store.invalidate(ctx.path);
    for (const name of ['location', 'content-location']) {
      const v = headerString(headers[name]);
      if (!v) continue;
      const base = `${ctx.scheme}://${ctx.host || 'edge.invalid'}`;
      if (!URL.canParse(v, base)) continue;
      const u = new URL(v, base);
      if (u.host === new URL(base).host) removed += this.#d.store.invalidate(u.pathname);
    }
    if (removed > 0) this.#d.metrics.invalidated.inc(removed);
  }

  #originError(ctx: EdgeContext, err: unknown): Promise<void> {
    const reason = (err as Error).message ?? String(err);
    this.#log.warn({ err, path: ctx.path }, 'origin request failed');
    return this.#error(
      ctx,
      originFailure(err) === 'timeout' ? new EdgeOriginTimeout(reason) : new EdgeOriginUnreachable(reason),
    );
  }

  #send(
    ctx: EdgeContext,
    result: ResultType,
    status: number,
    headers: OutgoingHttpHeaders,
    body: Body,
    upstreamMs?: number,
  ): Promise<void> {
    return deliver(ctx, result, status, headers, body, {
      pop: this.#edge.logs.edgeLocation,
      hook: this.#d.responseHook,
      upstreamMs,
    });
  }

  /** A coded JSON error, like the origin's. */
  #error(
    ctx: EdgeContext,
    err: { code: string; message: string; statusCode?: number },
    extra: OutgoingHttpHeaders = {},
  ): Promise<void> {
    const status = err.statusCode ?? 500;
    ctx.detailedResultType = err.code;
    const body = Buffer.from(JSON.stringify({ statusCode: status, code: err.code, message: err.message }));
    return this.#send(
      ctx,
      'Error',
      status,
      {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(body.length),
        'cache-control': 'no-store',
        ...extra,
      },
      ctx.method === 'HEAD' ? { kind: 'none' } : { kind: 'buffer', data: body },
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
    this.#error(ctx, shown).catch(() => ctx.res.destroy());
  }

  #finish(ctx: EdgeContext): void {
    const m = this.#d.metrics;
    if (ctx.probe) {
      m.probes.inc({ held: ctx.status === 504 ? 'no' : 'yes' });
      return;
    }
    m.count(ctx.resultType, ctx.bodyBytes);
    const logs = this.#d.logs;
    if (!logs) return;
    const now = Date.now();
    const h = ctx.headers;
    const version = ctx.req.httpVersion === '2.0' ? 'HTTP/2.0' : `HTTP/${ctx.req.httpVersion}`;
    logs.write(
      now,
      formatLine({
        end: now,
        edgeLocation: this.#edge.logs.edgeLocation,
        scBytes: ctx.bodyBytes + ctx.headerBytes,
        clientIp: ctx.clientIp,
        method: ctx.method,
        host: ctx.host,
        path: ctx.path,
        status: ctx.status || 0,
        referer: headerString(h.referer),
        userAgent: headerString(h['user-agent']),
        query: ctx.query,
        cookie: headerString(h.cookie),
        resultType: ctx.resultType,
        requestId: ctx.requestId,
        protocol: ctx.scheme,
        csBytes: Number(headerString(h['content-length']) ?? 0) || 0,
        timeTaken: (performance.now() - ctx.start) / 1000,
        forwardedFor: headerString(h['x-forwarded-for']),
        sslProtocol: ctx.tls?.protocol,
        sslCipher: ctx.tls?.cipher,
        responseResultType: ctx.resultType,
        protocolVersion: version,
        clientPort: ctx.clientPort,
        timeToFirstByte: ctx.ttfb / 1000,
        detailedResultType: ctx.detailedResultType ?? ctx.resultType,
        contentType: ctx.contentType,
        contentLength: ctx.contentLength,
        rangeStart: ctx.range?.start,
        rangeEnd: ctx.range?.end,
      }),
    );
  }
}
