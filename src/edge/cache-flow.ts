/**
 * The cache state machine for safe methods, CloudFront's order once the cache key is known:
 * lookup → hit (Age; ranges and conditionals answered from the stored object) / stale
 * (stale-while-revalidate, revalidation, stale-if-error) / miss (collapsed into one origin
 * fetch) → TTL → store → viewer. Origin fetches themselves live in fill.ts; this module only
 * decides which state a request is in and what the viewer gets from it.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { LiveConfig } from '../config/live.js';
import { EdgeNotCached, PreconditionFailed, RangeNotSatisfiable } from '../errors.js';
import {
  hasPreconditions,
  httpDate,
  NOT_MODIFIED_FIELDS,
  type Selection,
  selectRepresentation,
  type Validators,
} from '../http/conditional.js';
import type { Logger } from '../logger.js';
import type { OpenFile } from './cache/disk-files.js';
import type { EdgeCache } from './cache/edge-cache.js';
import { Collapser, Fill } from './collapse.js';
import type { EdgeContext } from './context.js';
import { type CachedResponse, headerString, type StoredHeaders } from './entry.js';
import {
  applyNotModified,
  type FillDeps,
  type FillRequest,
  freshnessOf,
  requestOrigin,
  startFill,
  storedEntry,
  storedHeaders,
  variantKey,
  varyNames,
} from './fill.js';
import type { EdgeFollow } from './follow-prefetch.js';
import type { MemoryEntry } from './hit-head.js';
import { forwardInterim } from './interim.js';
import type { EdgeMetrics, ResultType } from './metrics.js';
import type { OriginClient, OriginResponse } from './origin-client.js';
import { combine, forwardableRange, inside, type Part, parseContentRange, partHeaders } from './partial.js';
import type { PassThrough } from './pass-through.js';
import { drain, type Replies } from './reply.js';
import { entryFields, entryHeaders, viewerHeaders } from './respond.js';

export interface CacheFlowDeps {
  config: LiveConfig;
  store: EdgeCache;
  origin: OriginClient;
  metrics: EdgeMetrics;
  logger: Logger;
  replies: Replies;
  passThrough: PassThrough;
  /** With edge workers: one fill per cold key for the whole edge, not per process. */
  fills?: FillLeases;
  /** Follow-on-request prefetch: told of each request once its lookup is done. */
  follow?: Pick<EdgeFollow, 'seen'>;
}

/** One origin fetch per key across processes: 'lead' fetches; 'done' means look again. */
export interface FillLeases {
  lease(key: string): Promise<'lead' | 'done'>;
  release(key: string): void;
}

/** RFC 5861 §4: stale-if-error covers 500, 502, 503 and 504 as well as unreachable origins. */
const ORIGIN_ERRORS = new Set([500, 502, 503, 504]);

export class CacheFlow {
  readonly collapser = new Collapser();
  readonly #d: CacheFlowDeps;

  constructor(deps: CacheFlowDeps) {
    this.#d = deps;
  }

  #fillDeps(): FillDeps {
    const e = this.#d.config.current.edge;
    return {
      store: this.#d.store,
      origin: this.#d.origin,
      metrics: this.#d.metrics,
      errorCachingMinTtl: e.errorCachingMinTtl,
      cacheControlTargets: e.cacheControlTargets,
      maxObjectBytes: e.cache.maxObjectBytes,
    };
  }

  /** Answers a GET or HEAD whose cache key is built. */
  run(ctx: EdgeContext, r: FillRequest): Promise<void> {
    return this.#cached(ctx, r, true);
  }

  async #cached(ctx: EdgeContext, r: FillRequest, mayCollapse: boolean): Promise<void> {
    const store = this.#d.store;
    const fullKey = variantKey(r.key.key, store.variesOn(r.key.key), ctx.headers);
    const found = store.get(fullKey);
    // A stored part answers only what lies inside it; for anything else the key is a miss.
    const entry = found?.part && !partAnswers(ctx, found) ? undefined : found;
    if (mayCollapse) this.#d.follow?.seen(ctx, r, entry);
    if (entry) {
      const age = entry.policy.age();
      if (age < entry.ttl) return this.#serveEntry(ctx, r, entry, 'Hit', age);
      // A probe asks whether the edge holds the key fresh; a stale copy is an answer of "no".
      if (age < entry.ttl + entry.swr && !ctx.probe) {
        this.#refreshInBackground(r, fullKey, entry);
        return this.#serveEntry(ctx, r, entry, 'Hit', age);
      }
    }
    if (ctx.probe) return this.#d.replies.error(ctx, new EdgeNotCached(ctx.path));
    if (ctx.method === 'HEAD' && !entry) return this.#d.passThrough.run(ctx, r.target);

    const joined = mayCollapse ? this.collapser.join(fullKey) : undefined;
    if (joined) {
      this.#d.metrics.collapsed.inc();
      const fill = await joined;
      if (fill && !fill.partial) return this.#serveFill(ctx, r, fill, 'Miss', undefined);
      // The leader's response was not shareable or was a revalidation: look again, alone.
      return this.#cached(ctx, r, false);
    }
    // A range the edge holds no complete copy for goes to the origin as asked, and its 206 is
    // stored as a part. It joins a whole-object fill already running (above), but never leads
    // one: a viewer asking for the whole object must not wait on, or get, a part.
    const range = entry && !entry.part ? undefined : forwardableRange(ctx.method, ctx.headers);
    if (range !== undefined) return this.#fetch(ctx, { ...r, stale: entry, range }, undefined);
    if (!mayCollapse) return this.#fetch(ctx, { ...r, stale: entry }, undefined);
    const local = this.collapser.lead(fullKey);
    const fills = this.#d.fills;
    if (!fills) return this.#fetch(ctx, { ...r, stale: entry }, local);
    // Requests here join `local` while the edge-wide lease is asked for.
    const lease = await fills.lease(fullKey);
    // Another worker fetched it: its entry is in this replica now (or it was not storable).
    // A lead can also come just after another worker's fill: its entry reached this replica
    // before the grant (the primary forwards both in order), so look again before fetching.
    const arrived = lease === 'lead' ? store.get(fullKey) : undefined;
    if (lease === 'done' || (arrived && arrived !== entry)) {
      if (lease === 'lead') fills.release(fullKey);
      local.release();
      return this.#cached(ctx, r, false);
    }
    return this.#fetch(
      ctx,
      { ...r, stale: entry },
      {
        share: local.share,
        release: () => {
          local.release();
          fills.release(fullKey);
        },
      },
    );
  }

  async #fetch(
    ctx: EdgeContext,
    r: FillRequest,
    leader: { share(fill: Fill | undefined): void; release(): void } | undefined,
  ): Promise<void> {
    const deps = this.#fillDeps();
    const replies = this.#d.replies;
    const t0 = performance.now();
    let res: Awaited<ReturnType<typeof requestOrigin>>;
    try {
      // Interim responses go to this viewer only (the one that caused the fetch).
      res = await requestOrigin(deps, { ...r, onInfo: forwardInterim(ctx.res) });
    } catch (err) {
      leader?.release();
      if (r.stale && staleOnError(r.stale))
        return this.#serveEntry(ctx, r, r.stale, 'Hit', r.stale.policy.age());
      return replies.originError(ctx, err);
    }
    const upstreamMs = performance.now() - t0;
    const stale = r.stale;
    if (stale && res.status === 304) {
      res.body.resume();
      this.#revalidated(r, stale, res);
      const updated = applyNotModified(deps, r, stale, res.headers);
      leader?.release();
      return this.#serveEntry(ctx, r, updated, 'RefreshHit', updated.policy.age());
    }
    if (stale && ORIGIN_ERRORS.has(res.status) && staleOnError(stale)) {
      res.body.on('error', () => {}).destroy();
      leader?.release();
      return this.#serveEntry(ctx, r, stale, 'Hit', stale.policy.age());
    }
    // A forwarded range: a 206 is stored as a part; a 200 (the origin ignored Range) is a fill
    // like any other; anything else goes to this viewer and leaves the store alone.
    if (r.range !== undefined && res.status === 206) return this.#storePart(ctx, r, res, upstreamMs);
    if (r.range !== undefined && res.status !== 200)
      return this.#sendUnstored(ctx, res, viewerHeaders(storedHeaders(res.headers)), upstreamMs);
    if (stale && !stale.part && r.range === undefined) this.#revalidated(r, stale, res);
    const headers = storedHeaders(res.headers);
    const { policy, fresh } = freshnessOf(deps, r, res.status, headers);
    const declared = Number(headerString(headers['content-length']) ?? 0);
    if (!fresh.store || declared > deps.maxObjectBytes) {
      // A response that may not be stored replaces the stale copy, which must not be reused.
      if (stale) this.#d.store.delete(stale.key);
      leader?.release();
      return this.#sendUnstored(ctx, res, viewerHeaders(headers), upstreamMs);
    }
    const started = startFill(deps, r, res, fresh, policy, () => leader?.release());
    leader?.share(started.fill);
    void started.stored.then(() => leader?.release());
    return this.#serveFill(ctx, r, started.fill, 'Miss', upstreamMs);
  }

  /**
   * Counts (and hands to the revalidation log) what a revalidation found: a 304 or a 200 with
   * the stored validator means the object did not change while the stale copy was held (its
   * age), a 200 with another validator that it did. Other statuses are not evidence either way.
   * This is the one thing CloudFront's own logs cannot say: they log a changed object's 200 as
   * a Miss, like an evicted one's (docs/ttl.md).
   */
  #revalidated(r: FillRequest, stale: CachedResponse, res: OriginResponse): void {
    let outcome: 'unchanged' | 'changed' | 'unknown';
    if (res.status === 304) outcome = 'unchanged';
    else if (res.status !== 200) return;
    else {
      const strip = (t: string) => t.trim().replace(/^W\//, '');
      const etag = headerString(res.headers.etag);
      const modified = headerString(res.headers['last-modified']);
      const old = stale.validators;
      if (etag !== undefined && old.etag !== undefined)
        outcome = strip(etag) === strip(old.etag) ? 'unchanged' : 'changed';
      else if (modified !== undefined && old.lastModified !== undefined)
        outcome = modified === old.lastModified ? 'unchanged' : 'changed';
      else outcome = 'unknown';
    }
    this.#d.metrics.revalidated({
      at: Date.now(),
      path: r.key.path,
      query: r.key.forwardQuery,
      cls: r.cls.name,
      outcome,
      status: res.status,
      age: stale.policy.age(),
      ttl: stale.ttl,
      requestId: r.requestId,
    });
  }

  /** An origin answer that is not stored, streamed to this viewer alone. */
  #sendUnstored(
    ctx: EdgeContext,
    res: OriginResponse,
    out: OutgoingHttpHeaders,
    upstreamMs: number,
  ): Promise<void> {
    res.body.on('data', (c: Buffer) => this.#d.metrics.originBytes.inc(c.length));
    // Surrogate-Control is for the edge alone (Edge Architecture 1.0).
    delete out['surrogate-control'];
    const body = ctx.method === 'HEAD' ? drain(res.body) : ({ kind: 'stream', stream: res.body } as const);
    return this.#d.replies.send(ctx, 'Miss', res.status, out, body, upstreamMs);
  }

  /**
   * The origin's 206 to a forwarded range: streamed to the viewer as it arrives and, when
   * storable (a known complete length, freshness, within the object limit), stored as a part,
   * combined with a stored part of the same strong validator (src/edge/partial.ts).
   */
  #storePart(ctx: EdgeContext, r: FillRequest, res: OriginResponse, upstreamMs: number): Promise<void> {
    const deps = this.#fillDeps();
    const origin = storedHeaders(res.headers);
    const part = parseContentRange(headerString(origin['content-range']));
    // A part is as fresh as the representation it belongs to (RFC 9111 §3.3): the TTL rules of
    // a 200 apply (the plain-206 refusal in ttl.ts guards the whole-object paths).
    const { policy, fresh } = freshnessOf(deps, r, 200, origin);
    if (!part || !fresh.store || part.end - part.start + 1 > deps.maxObjectBytes)
      return this.#sendUnstored(ctx, res, viewerHeaders(origin), upstreamMs);
    const forViewers: StoredHeaders = { ...origin };
    delete forViewers['surrogate-control'];
    const fill = new Fill(206, forViewers);
    res.body.on('data', (c: Buffer) => {
      deps.metrics.originBytes.inc(c.length);
      fill.push(c);
    });
    res.body.once('error', (err) => fill.fail(err));
    res.body.once('end', () => {
      fill.end();
      const body = fill.body();
      // A part whose bytes are not what Content-Range says is not kept.
      if (body.length !== part.end - part.start + 1) return;
      const names = varyNames(origin);
      const key = variantKey(r.key.key, names, r.viewerHeaders);
      const headers = partHeaders(forViewers);
      void combine(this.#d.store.peek(key), { part, body, headers })
        .then((whole) => {
          if (!whole.part) headers['content-length'] = String(whole.body.length);
          const entry = storedEntry(r, {
            key,
            status: 200,
            headers,
            policy,
            fresh,
            body: whole.body,
            origin,
            coding: undefined,
            part: whole.part,
          });
          return this.#d.store.set(entry, r.key.key, names);
        })
        .catch((err: unknown) => this.#d.logger.warn({ err, path: r.key.path }, 'storing a part failed'));
    });
    return this.#d.replies.send(
      ctx,
      'Miss',
      206,
      viewerHeaders(forViewers),
      { kind: 'fill', fill },
      upstreamMs,
    );
  }

  /** stale-while-revalidate: one background refresh per key; viewers keep getting the stale copy. */
  #refreshInBackground(r: FillRequest, fullKey: string, stale: CachedResponse): void {
    if (this.collapser.join(fullKey)) return;
    const deps = this.#fillDeps();
    const leader = this.collapser.lead(fullKey);
    const req: FillRequest = { ...r, stale };
    requestOrigin(deps, req)
      .then(async (res) => {
        if (res.status === 304 || res.status === 200) this.#revalidated(req, stale, res);
        if (res.status === 304) {
          res.body.resume();
          applyNotModified(deps, req, stale, res.headers);
          return;
        }
        const headers = storedHeaders(res.headers);
        const { policy, fresh } = freshnessOf(deps, req, res.status, headers);
        if (ORIGIN_ERRORS.has(res.status) || !fresh.store) {
          res.body.resume();
          if (!fresh.store && res.status < 500) deps.store.delete(stale.key);
          return;
        }
        await startFill(deps, req, res, fresh, policy).stored;
      })
      .catch((err: unknown) =>
        this.#d.logger.warn({ err, path: r.key.path }, 'background revalidation failed'),
      )
      .finally(() => leader.release());
  }

  async #serveEntry(
    ctx: EdgeContext,
    r: FillRequest | undefined,
    entry: CachedResponse,
    result: ResultType,
    age: number,
  ): Promise<void> {
    const replies = this.#d.replies;
    const sel = selectFromEntry(ctx, entry);
    // The common hit: the whole stored body from memory, answered from its compiled head.
    if (
      sel.kind === 'full' &&
      ctx.method === 'GET' &&
      Buffer.isBuffer(entry.body) &&
      entry.part === undefined &&
      entry.size > 0 &&
      entry.status !== 204
    )
      return replies.hit(ctx, result, entry as MemoryEntry, age);
    const headers = entryHeaders(entry.headers);
    const ageText = String(Math.floor(age));
    headers.age = ageText;
    // Preconditions and ranges are evaluated on the representation Vary selected: say so, as
    // the origin does.
    if (sel.kind === 'failed')
      return replies.error(
        ctx,
        new PreconditionFailed('If-Match/If-Unmodified-Since'),
        headers.vary === undefined ? {} : { vary: headers.vary },
      );
    if (sel.kind === 'not-modified') {
      const h: OutgoingHttpHeaders = { age: headers.age };
      for (const f of NOT_MODIFIED_FIELDS) if (headers[f] !== undefined) h[f] = headers[f];
      return replies.send(ctx, result, 304, h, { kind: 'none' });
    }
    // A part is served only for ranges inside it (#cached made sure): offsets are the
    // representation's, the body holds bytes from `base` on.
    const total = entry.part?.total ?? entry.size;
    const base = entry.part?.start ?? 0;
    if (sel.kind === 'unsatisfiable') {
      return replies.error(ctx, new RangeNotSatisfiable(total), {
        'content-range': `bytes */${total}`,
        ...(headers.vary === undefined ? {} : { vary: headers.vary }),
      });
    }
    let start = 0;
    let end = total - 1;
    let status = entry.status;
    if (sel.kind === 'partial') {
      ({ start, end } = sel.range);
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${total}`;
      ctx.range = { start, end };
    }
    const length = total === 0 ? 0 : end - start + 1;
    entryFields(headers, entry.status, ageText, length);
    if (ctx.method === 'HEAD' || length === 0)
      return replies.send(ctx, result, status, headers, { kind: 'none' });
    if (Buffer.isBuffer(entry.body)) {
      const data =
        start === base && end === base + entry.size - 1
          ? entry.body
          : entry.body.subarray(start - base, end - base + 1);
      return replies.send(ctx, result, status, headers, { kind: 'buffer', data });
    }
    let file: OpenFile;
    try {
      file = await this.#d.store.openBody(entry as CachedResponse & { body: { file: string } });
    } catch {
      // Evicted between lookup and open: treat as a miss.
      this.#d.store.delete(entry.key);
      return r ? this.#cached(ctx, r, true) : replies.originError(ctx, new Error('cached file vanished'));
    }
    return replies.send(ctx, result, status, headers, {
      kind: 'file',
      file,
      start: start - base,
      end: end - base,
    });
  }

  async #serveFill(
    ctx: EdgeContext,
    r: FillRequest,
    fill: Fill,
    result: ResultType,
    upstreamMs: number | undefined,
  ): Promise<void> {
    const conditional = ctx.headers.range !== undefined || hasPreconditions(ctx.headers);
    if (conditional && fill.status === 200) {
      // Ranges and validators are answered from the complete object.
      if (!fill.done)
        await new Promise<void>((resolve) =>
          fill.follow({ write() {}, end: resolve, abort: () => resolve() }),
        );
      if (fill.error) return this.#d.replies.originError(ctx, fill.error);
      // Outgrew the cacheable size: this viewer gets its own copy from the origin.
      if (fill.partial) return this.#d.passThrough.run(ctx, r.target);
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
      return this.#d.replies.send(ctx, result, fill.status, headers, { kind: 'none' }, upstreamMs);
    return this.#d.replies.send(ctx, result, fill.status, headers, { kind: 'fill', fill }, upstreamMs);
  }
}

const FULL: Selection = Object.freeze({ kind: 'full' });

/**
 * What a stored response answers to this request's preconditions and Range: the origin's rules
 * (src/http/conditional.ts), with the stored validators. Only a stored 200 is evaluated
 * (RFC 9110 §13.2.1); without Last-Modified, If-Modified-Since compares with Date (RFC 9111 §4.3.2).
 */
function selectFromEntry(ctx: EdgeContext, entry: CachedResponse): Selection {
  if (entry.status !== 200 || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return FULL;
  // Nothing to evaluate (most hits): selectRepresentation would answer 'full' too; skip parsing
  // the stored dates for it.
  if (ctx.headers.range === undefined && !hasPreconditions(ctx.headers)) return FULL;
  const v: Validators = {
    etag: headerString(entry.headers.etag),
    lastModified: httpDate(headerString(entry.headers['last-modified'])),
    modifiedFallback: httpDate(headerString(entry.headers.date)),
  };
  return selectRepresentation(ctx.method, ctx.headers, v, entry.part?.total ?? entry.size);
}

/**
 * Whether a stored part answers this request: a range inside it, or what depends only on the
 * validators and the complete length (304, 412, 416). The whole representation it cannot give.
 */
function partAnswers(ctx: EdgeContext, entry: CachedResponse & { part?: Part | undefined }): boolean {
  const sel = selectFromEntry(ctx, entry);
  if (sel.kind === 'full') return false;
  return (
    sel.kind !== 'partial' || (entry.part !== undefined && inside(entry.part, sel.range.start, sel.range.end))
  );
}

function staleOnError(entry: CachedResponse): boolean {
  return entry.policy.age() < entry.ttl + entry.sie;
}
