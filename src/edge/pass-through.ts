/**
 * Pass-through: unsafe methods (and HEAD misses) go to the origin streamed both ways and are
 * never stored; a non-error answer to an unsafe method invalidates what it names
 * (RFC 9111 §4.4).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { policyQuery } from '../cache-key.js';
import { lingerOnClose } from '../http/linger.js';
import { type BodyFraming, hasRequestBody } from '../http/request-body.js';
import type { EdgeCache } from './cache/edge-cache.js';
import type { EdgeContext } from './context.js';
import { headerString } from './entry.js';
import { storedHeaders } from './fill.js';
import { forwardInterim } from './interim.js';
import type { EdgeMetrics } from './metrics.js';
import type { OriginClient } from './origin-client.js';
import { originHeaders } from './pipeline/origin-headers.js';
import { drain, type Replies } from './reply.js';
import { type Body, viewerHeaders } from './respond.js';

/** Safe methods (RFC 9110 §9.2.1): passing through, they invalidate nothing (CORS preflights!). */
const NON_INVALIDATING = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export interface PassThroughDeps {
  store: EdgeCache;
  metrics: EdgeMetrics;
  origin: OriginClient;
  replies: Replies;
}

/**
 * The path and query an uncached request takes to the origin. CloudFront forwards the query
 * strings the behavior's cache policy names, for every method (there is no origin request
 * policy for them in the plan); the upload behaviors forward every query string (their signed
 * grants live there, managed policy AllViewerExceptHostHeader), as does a request with no class.
 */
function forwardedTarget(ctx: EdgeContext): string {
  if (!ctx.query) return ctx.path;
  const query = ctx.cls && ctx.functions ? policyQuery(ctx.query, ctx.cls.cacheKey).forward : ctx.query;
  return query ? `${ctx.path}?${query}` : ctx.path;
}

export class PassThrough {
  readonly #d: PassThroughDeps;

  constructor(deps: PassThroughDeps) {
    this.#d = deps;
  }

  async run(ctx: EdgeContext, target: string): Promise<void> {
    const headers = originHeaders(ctx.headers, {
      key: undefined,
      encoding: undefined,
      clientIp: ctx.clientIp,
      requestId: ctx.requestId,
      fill: false,
    });
    const hasBody = hasRequestBody(ctx.req as unknown as BodyFraming);
    const t0 = performance.now();
    let res: Awaited<ReturnType<OriginClient['request']>>;
    try {
      this.#d.metrics.originRequests.inc({ kind: 'pass' });
      res = await this.#d.metrics.timeOrigin(
        'pass',
        ctx.cls?.name ?? '-',
        this.#d.origin.request({
          origin: target,
          method: ctx.method,
          path: forwardedTarget(ctx),
          headers,
          // The viewer's body is streamed, never buffered: uploads run at line speed.
          body: hasBody && ctx.method !== 'HEAD' ? (ctx.req as unknown as Readable) : undefined,
          onInfo: forwardInterim(ctx.res),
        }),
      );
    } catch (err) {
      return this.#d.replies.originError(ctx, err);
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
    const body: Body = ctx.method === 'HEAD' ? drain(res.body) : { kind: 'stream', stream: res.body };
    return this.#d.replies.send(
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
}
