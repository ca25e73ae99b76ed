/**
 * Follow-on-request prefetch in the local edge: when a viewer request's lookup is done, the
 * shared decision (src/prefetch/follow.ts, `Follower`) learns from it and names the successors
 * worth filling now (the assets a page pulls, when this edge has seen them follow it); each
 * becomes a background request the edge makes of itself.
 *
 * A follow fill is a request through the edge's own pipeline, with no socket: the viewer-request
 * function, the cache key, the cache state machine (cache-flow.ts: the same lookup, collapsing,
 * cross-worker fill lease and store as a viewer's miss, so a viewer asking meanwhile joins it),
 * the viewer-response function, and an access-log line and metrics like any request. It carries
 * what selects the triggering viewer's variant (Host, Accept-Encoding, Accept-Language; for image
 * paths the image Accept the worker warms first, prefetch.variants.imageAccepts[0], because a
 * page's Accept is not the one its images are requested with) and the prefetch User-Agent with
 * " (edge follow)" after it, so the log marks it as the edge's own traffic the way the worker's
 * warms are (src/prefetch/own-traffic.ts: the worker skips those lines, the viewer hit ratio
 * leaves them out). No cookies, no Authorization, no conditionals, no Range. Signed and
 * personalised classes are never filled (the planner's rule, plan.ts `unwarmable`, applied by
 * the Follower).
 *
 * Bounds: the Follower hands out at most prefetch.follow.maxInFlight fills at once; with edge
 * workers each process follows its own viewers and gets its share of that bound (rounded up), so
 * the edge as a whole stays near it. The fills still meet across workers: the fill lease makes
 * one origin fetch per cold key edge-wide, and the stored entry reaches every worker's replica.
 *
 * Reload: settings are read per request, as the rest of the edge reads them (a reload applies to
 * the next request and leaves those in flight alone). Turning follow off drops the learned model
 * (its memory goes back) and starts no more fills; fills already out finish, because viewers may
 * have joined them, and they are bounded by the maxInFlight they started under. A change of
 * prefetch.model.* starts a new model (its sizes are fixed when it is made). Shutdown (`close`)
 * stops new fills and aborts every one in flight: by then the server has closed its viewer
 * connections, so nobody is following them, and an aborted body is never stored.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import { buildCacheKey, normaliseAcceptEncoding } from '../cache-key.js';
import { classify } from '../classes.js';
import type { LiveConfig } from '../config/live.js';
import { compilePathPattern } from '../config/patterns.js';
import type { EdgewiseConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { Follower, type FollowTask } from '../prefetch/follow.js';
import { modelKeyOf } from '../prefetch/plan.js';
import type { EdgeCache } from './cache/edge-cache.js';
import type { Collapser } from './collapse.js';
import {
  type EdgeContext,
  type RequestHeaders,
  requestId,
  type ViewerRequest,
  type ViewerResponse,
} from './context.js';
import type { CachedResponse } from './entry.js';
import { headerString } from './entry.js';
import { type FillRequest, variantKey } from './fill.js';
import type { EdgeMetrics } from './metrics.js';

export interface FollowDeps {
  config: LiveConfig;
  store: EdgeCache;
  collapser: Pick<Collapser, 'join'>;
  metrics: EdgeMetrics;
  logger: Logger;
  /** Edge worker processes: each follows its own viewers with its share of maxInFlight. */
  workers: number;
  /** Runs a request the edge makes of itself through the viewer pipeline; resolves when answered. */
  run(ctx: EdgeContext): Promise<void>;
}

/** How a follow fill ended (edgewise_edge_follow_fills_total{outcome}). */
export type FollowOutcome = 'fetched' | 'held' | 'failed' | 'cancelled';

interface Running {
  key: string;
  abort: AbortController;
  ctx: EdgeContext;
  sink: Sink;
}

/** The User-Agent suffix of follow fills: the prefix is prefetch.userAgent (own-traffic.ts). */
export const FOLLOW_AGENT_SUFFIX = ' (edge follow)';

function splitKey(key: string): { path: string; query: string } {
  const q = key.indexOf('?');
  return q === -1 ? { path: key, query: '' } : { path: key.slice(0, q), query: key.slice(q + 1) };
}

export class EdgeFollow {
  readonly #d: FollowDeps;
  #follower: Follower | undefined;
  /** The prefetch.model the follower was built with (its sizes are fixed at construction). */
  #model: EdgewiseConfig['prefetch']['model'] | undefined;
  readonly #running = new Map<string, Running>();
  #closed = false;
  // The config the Follower reads: the live one with this process's share of maxInFlight.
  #base: Readonly<EdgewiseConfig> | undefined;
  #shared: Readonly<EdgewiseConfig> | undefined;
  #images: { source: readonly string[]; patterns: RegExp[] } | undefined;
  /** Follower counts already added to the metrics (the follower is replaced on reload). */
  readonly #counted = {
    skipped: new Map<string, number>(),
    used: 0,
    wasted: 0,
    usedBytes: 0,
    wastedBytes: 0,
  };
  readonly #onChange = () => this.#reconfigure();

  constructor(deps: FollowDeps) {
    this.#d = deps;
    deps.config.on('change', this.#onChange);
    deps.metrics.onFollowCollect = () => this.#collect();
  }

  /** Follow fills running now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** The decision's state (tests, reports): undefined while follow is off. */
  get follower(): Follower | undefined {
    return this.#follower;
  }

  #config(): Readonly<EdgewiseConfig> {
    const c = this.#d.config.current;
    if (c !== this.#base || !this.#shared) {
      this.#base = c;
      const f = c.prefetch.follow;
      const share = Math.max(1, Math.ceil(f.maxInFlight / this.#d.workers));
      this.#shared =
        share === f.maxInFlight
          ? c
          : { ...c, prefetch: { ...c.prefetch, follow: { ...f, maxInFlight: share } } };
    }
    return this.#shared;
  }

  /**
   * A request's lookup is done (cache-flow.ts): `entry` is what the cache holds for its variant
   * (fresh, stale or none). Viewer requests only; nothing is done while follow is off.
   */
  seen(ctx: EdgeContext, r: FillRequest, entry: CachedResponse | undefined): void {
    const config = this.#d.config.current;
    if (!config.prefetch.follow.enabled || this.#closed || ctx.traffic !== 'viewer' || ctx.probe) return;
    let follower = this.#follower;
    if (!follower) {
      follower = new Follower(() => this.#config());
      this.#follower = follower;
      this.#model = config.prefetch.model;
    }
    let hit = false;
    if (entry) {
      const age = entry.policy.age();
      hit = age < entry.ttl + entry.swr;
    }
    const now = Date.now();
    const key = modelKeyOf(r.key);
    const tasks = follower.request(
      key,
      `${ctx.clientIp} ${headerString(ctx.headers['user-agent'])}`,
      now,
      // A miss's bytes are counted when its answer completes (#sized), once.
      hit ? (entry?.size ?? 0) : 0,
      hit,
      (k) => this.#held(ctx, k),
    );
    // A miss's size is known once its answer is complete: the model learns it then, so a key that
    // is always a miss on arrival can still be followed (its size is what a fill would cost).
    if (!hit) (ctx.res as NodeJS.EventEmitter).once('finish', () => this.#sized(follower, ctx, key));
    if (tasks.length === 0) return;
    // After this viewer's own answer has been started.
    setImmediate(() => {
      for (const t of tasks) this.#start(follower, ctx, t);
    });
  }

  #sized(follower: Follower, ctx: EdgeContext, key: string): void {
    // Only a whole 200 body tells the size (a 206 is a part, a 304 or HEAD has none).
    if (ctx.status !== 200 || ctx.method !== 'GET' || ctx.bodyBytes <= 0) return;
    if (ctx.contentLength !== undefined && ctx.contentLength !== ctx.bodyBytes) return;
    follower.sized(key, ctx.bodyBytes);
  }

  /** The headers a follow fill of `path` sends: what selects the trigger's variant. */
  #headers(trigger: EdgeContext, path: string): RequestHeaders {
    const config = this.#d.config.current;
    const h: RequestHeaders = {};
    const host = headerString(trigger.headers.host) ?? headerString(trigger.headers[':authority']);
    if (host !== undefined) h.host = host;
    const ae = trigger.headers['accept-encoding'];
    if (ae !== undefined) h['accept-encoding'] = ae;
    const al = trigger.headers['accept-language'];
    if (al !== undefined) h['accept-language'] = al;
    const v = config.prefetch.variants;
    if (this.#images?.source !== v.imagePatterns)
      this.#images = { source: v.imagePatterns, patterns: v.imagePatterns.map(compilePathPattern) };
    if (this.#images.patterns.some((re) => re.test(path))) {
      const triggerIsImage = this.#images.patterns.some((re) => re.test(trigger.path));
      const accept = triggerIsImage ? headerString(trigger.headers.accept) : undefined;
      h.accept = accept ?? v.imageAccepts[0] ?? '*/*';
    }
    h['user-agent'] = `${config.prefetch.userAgent}${FOLLOW_AGENT_SUFFIX}`;
    return h;
  }

  /** The cache key of the trigger's variant of model key `key` (what a fill of it stores under). */
  #variant(trigger: EdgeContext, key: string): string {
    const config = this.#d.config.current;
    const { path, query } = splitKey(key);
    const cls = classify(config, path);
    const headers = this.#headers(trigger, path);
    const encoding = cls.compress ? normaliseAcceptEncoding(headerString(headers['accept-encoding'])) : '';
    const primary = buildCacheKey({ path, query, headers, encoding }, cls.cacheKey).key;
    return variantKey(primary, this.#d.store.variesOn(primary), headers);
  }

  /** Whether the cache holds a fresh copy of the trigger's variant of `key`, or a fill is bringing it. */
  #held(trigger: EdgeContext, key: string): boolean {
    if (this.#running.has(key)) return true;
    const full = this.#variant(trigger, key);
    const e = this.#d.store.peek(full);
    if (e && !e.part && e.policy.age() < e.ttl) return true;
    return this.#d.collapser.join(full) !== undefined;
  }

  /**
   * A fill that went to the origin is stored as the access it stands for: the follower predicts a
   * viewer request for it. Stored as a plain miss, S3-FIFO (and the adaptive store holding S3-FIFO)
   * would put it in its small queue with no access, and on a small cache drop it to its ghost
   * before the browser asks (a page's assets come tens to hundreds of ms after the page); with
   * one, it moves to the main queue like a key that was asked for. Simulated with the same rule
   * (simulate.ts runDeployed). A disk-tier entry whose file is still being written is not marked.
   */
  #accessed(trigger: EdgeContext, key: string): void {
    this.#d.store.get(this.#variant(trigger, key));
  }

  #start(follower: Follower, trigger: EdgeContext, t: FollowTask): void {
    if (this.#closed || this.#follower !== follower || this.#running.has(t.key)) {
      follower.settled(t.key, Date.now(), 0);
      this.#d.metrics.followFills.inc({ outcome: 'cancelled' });
      return;
    }
    const { path, query } = splitKey(t.key);
    const abort = new AbortController();
    const headers = this.#headers(trigger, path);
    const sink = new Sink();
    const ctx = backgroundContext(trigger, path, query, headers, sink, abort.signal);
    const running: Running = { key: t.key, abort, ctx, sink };
    this.#running.set(t.key, running);
    let settled = false;
    const settle = (outcome: FollowOutcome, bytes: number) => {
      if (settled) return;
      settled = true;
      this.#running.delete(t.key);
      follower.settled(t.key, Date.now(), bytes);
      this.#d.metrics.followFills.inc({ outcome });
    };
    // The access-log line and metrics are written on 'close' (Edge.background), as for a viewer.
    sink.once('close', () => {
      if (abort.signal.aborted) return settle('cancelled', 0);
      const [outcome, bytes] = outcomeOf(ctx, sink);
      if (outcome === 'fetched') this.#accessed(trigger, t.key);
      settle(outcome, bytes);
    });
    this.#d.run(ctx).then(
      () => {
        // Every answer ends its response; one that did not would hold a maxInFlight slot for good.
        if (!sink.writableEnded && !sink.destroyed) sink.destroy();
      },
      (err: unknown) => {
        this.#d.logger.warn({ err, path }, 'follow fill failed');
        if (!sink.destroyed) sink.destroy();
      },
    );
  }

  #reconfigure(): void {
    const config = this.#d.config.current;
    if (!config.prefetch.follow.enabled) {
      if (this.#follower) this.#collect();
      this.#follower = undefined;
      this.#model = undefined;
      return;
    }
    if (this.#follower && this.#model !== config.prefetch.model) {
      // Same values in a new object (a reload of an unchanged section) keep the model.
      if (JSON.stringify(this.#model) !== JSON.stringify(config.prefetch.model)) {
        this.#collect();
        this.#follower = undefined;
      }
      this.#model = config.prefetch.model;
    }
  }

  /** Adds what the follower counted since the last look to the metrics (on a scrape). */
  #collect(): void {
    const f = this.#follower;
    const m = this.#d.metrics;
    m.followInFlight.set(this.#running.size);
    m.followModelKeys.set(f?.model.keyCount ?? 0);
    if (!f) return;
    const c = this.#counted;
    for (const [reason, n] of Object.entries(f.stats.skipped)) {
      const was = c.skipped.get(reason) ?? 0;
      if (n > was) m.followSkipped.inc({ reason }, n - was);
      c.skipped.set(reason, n);
    }
    const t = f.payoff.totals;
    if (t.used > c.used) m.followJudged.inc({ outcome: 'used' }, t.used - c.used);
    if (t.wasted > c.wasted) m.followJudged.inc({ outcome: 'wasted' }, t.wasted - c.wasted);
    if (t.usedBytes > c.usedBytes) m.followJudgedBytes.inc({ outcome: 'used' }, t.usedBytes - c.usedBytes);
    if (t.wastedBytes > c.wastedBytes)
      m.followJudgedBytes.inc({ outcome: 'wasted' }, t.wastedBytes - c.wastedBytes);
    Object.assign(c, { used: t.used, wasted: t.wasted, usedBytes: t.usedBytes, wastedBytes: t.wastedBytes });
    for (const r of f.report(Date.now())) m.followClassState.set({ class: r.cls }, STATE[r.state]);
  }

  /** Stops new fills and aborts those in flight; resolves once every one has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#d.config.off('change', this.#onChange);
    const ended = [...this.#running.values()].map(
      (r) =>
        new Promise<void>((resolve) => {
          if (r.sink.closed) return resolve();
          r.sink.once('close', () => resolve());
        }),
    );
    for (const r of this.#running.values()) {
      r.abort.abort();
      // A fill that already had its head streams into the sink: ending the sink detaches it.
      if (r.sink.headersSent) r.sink.destroy();
    }
    await Promise.all(ended);
  }
}

const STATE = { full: 0, probing: 1, suspended: 2 } as const;

/**
 * What a finished follow fill cost the origin: `fetched` when this request went there itself
 * (its answer carries the upstream timing the edge adds only then, Server-Timing
 * cdn-upstream-fbl), with the body bytes it took (at least 1, so an empty body still counts as
 * a fetch); `held` when the cache or another fill answered it; `failed` on an error answer.
 */
function outcomeOf(ctx: EdgeContext, sink: Sink): [FollowOutcome, number] {
  const timing = String(sink.head?.['server-timing'] ?? '');
  const upstream = timing.includes('cdn-upstream-fbl');
  if (ctx.status === 0 || ctx.status >= 500) return ['failed', upstream ? Math.max(1, sink.bytes) : 0];
  if (!upstream) return ['held', 0];
  return [ctx.status >= 400 ? 'failed' : 'fetched', Math.max(1, sink.bytes)];
}

/** Where a follow fill's answer goes: counted and dropped (the cache keeps the copy). */
class Sink extends Writable {
  headersSent = false;
  statusCode = 0;
  head: OutgoingHttpHeaders | undefined;
  bytes = 0;

  writeHead(status: number, headers: OutgoingHttpHeaders): this {
    this.headersSent = true;
    this.statusCode = status;
    this.head = headers;
    return this;
  }

  setHeader(): this {
    return this;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytes += chunk.length;
    cb();
  }
}

/** The request context of a follow fill: a GET the edge makes of itself on the trigger's behalf. */
function backgroundContext(
  trigger: EdgeContext,
  path: string,
  query: string,
  headers: RequestHeaders,
  sink: Sink,
  signal: AbortSignal,
): EdgeContext {
  const url = query ? `${path}?${query}` : path;
  const rawHeaders: string[] = [];
  for (const k in headers) rawHeaders.push(k, String(headers[k]));
  const req = { headers, rawHeaders, url, method: 'GET', httpVersion: '1.1', complete: true, socket: null };
  return {
    req: req as unknown as ViewerRequest,
    res: sink as unknown as ViewerResponse,
    start: performance.now(),
    startMs: Date.now(),
    requestId: requestId(),
    method: 'GET',
    path,
    query,
    tls: undefined,
    viewerUrl: url,
    headers,
    scheme: trigger.scheme,
    host: headerString(headers.host) ?? '',
    // On the viewer's behalf: the origin's X-Forwarded-For and the log's c-ip name who caused it.
    clientIp: trigger.clientIp,
    clientPort: 0,
    cls: undefined,
    functions: true,
    ttfb: 0,
    resultType: 'Miss',
    detailedResultType: undefined,
    bodyBytes: 0,
    headerBytes: 0,
    status: 0,
    contentType: undefined,
    contentLength: undefined,
    range: undefined,
    probe: false,
    traffic: 'prefetch',
    signal,
  };
}
