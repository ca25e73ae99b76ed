/**
 * Origin fetches for cacheable requests: the fill on a miss (collapsed, streamed to every
 * waiter while it is stored), revalidation of a stale copy (RFC 9111 §4.3: a conditional
 * request with the origin's validators; a 304 refreshes the stored headers, §4.3.4), and the
 * background refresh behind stale-while-revalidate (RFC 5861 §3).
 */
import type { Readable } from 'node:stream';
import type { CacheKey, NormalisedEncoding } from '../cache-key.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import type { EdgeCache } from './cache/edge-cache.js';
import { Fill } from './collapse.js';
import { compressedHeaders, compressionFor, compressor } from './compress.js';
import type { RequestHeaders } from './context.js';
import { type CachedResponse, HOP_BY_HOP, headerString, type StoredHeaders } from './entry.js';
import type { EdgeMetrics } from './metrics.js';
import type { InterimListener, OriginClient, OriginResponse } from './origin-client.js';
import { originHeaders } from './pipeline/origin-headers.js';
import { edgeTtl, type Freshness, policyFor } from './ttl.js';

export interface FillDeps {
  store: EdgeCache;
  origin: OriginClient;
  metrics: EdgeMetrics;
  errorCachingMinTtl: number;
  /** Targeted cache-control fields obeyed, in order (RFC 9213; edge.cacheControlTargets). */
  cacheControlTargets: readonly string[];
  maxObjectBytes: number;
}

export interface FillRequest {
  target: string;
  cls: ContentClassConfig;
  key: CacheKey;
  encoding: NormalisedEncoding;
  viewerHeaders: RequestHeaders;
  clientIp: string;
  /** The viewer request's id, sent to the origin as X-Amz-Cf-Id (CloudFront does the same). */
  requestId: string;
  stale: CachedResponse | undefined;
  /** Forwards the origin's interim responses to the viewer this fill was started for. */
  onInfo?: InterimListener | undefined;
  /** The viewer's Range, forwarded on a miss (src/edge/partial.ts). */
  range?: string | undefined;
  /** Aborts the origin fetch (the edge's own follow fills, on shutdown: src/edge/follow-prefetch.ts). */
  signal?: AbortSignal | undefined;
}

/** Stored headers: the origin's minus hop-by-hop fields. */
export function storedHeaders(headers: StoredHeaders): StoredHeaders {
  const out: StoredHeaders = {};
  // Fields named in Connection are hop-by-hop too (RFC 9110 §7.6.1) and never stored.
  const listed = headerString(headers.connection)
    ?.toLowerCase()
    .split(',')
    .map((t) => t.trim());
  for (const k in headers) if (!HOP_BY_HOP.has(k) && !listed?.includes(k)) out[k] = headers[k]!;
  return out;
}

/** Vary header names a response depends on (Accept-Encoding is already in the key, normalised). */
export function varyNames(headers: StoredHeaders): string[] {
  const v = headerString(headers.vary);
  if (!v) return [];
  return [
    ...new Set(
      v
        .split(',')
        .map((n) => n.trim().toLowerCase())
        .filter((n) => n !== '' && n !== 'accept-encoding'),
    ),
  ].sort();
}

/**
 * Secondary key for a Vary'd response: the nominated request headers, normalised so equivalent
 * requests share a variant (RFC 9111 §4.1 allows normalising): list members trimmed, and for
 * Accept-Language also lowercased and ordered (language tags are case-insensitive, and with
 * explicit q-values the order carries no meaning).
 */
export function variantKey(primary: string, names: string[] | undefined, headers: RequestHeaders): string {
  if (!names || names.length === 0) return primary;
  let k = primary;
  for (const n of names) {
    const v = headers[n];
    if (v === undefined) {
      k += '\u0002\u0003';
      continue;
    }
    let members = (Array.isArray(v) ? v.join(',') : v)
      .split(',')
      .map((m) => m.replace(/\s+/g, ''))
      .filter((m) => m !== '');
    if (n === 'accept-language') members = members.map((m) => m.toLowerCase()).sort();
    k += `\u0002${members.join(',')}`;
  }
  return k;
}

export async function requestOrigin(deps: FillDeps, r: FillRequest): Promise<OriginResponse> {
  const headers = originHeaders(r.viewerHeaders, {
    key: r.key,
    encoding: r.encoding,
    clientIp: r.clientIp,
    requestId: r.requestId,
    fill: true,
  });
  if (r.stale) {
    // RFC 9111 §4.3.1: send the stored validators; the origin's own (not the weakened ETag of
    // an edge-compressed copy).
    if (r.stale.validators.etag) headers['if-none-match'] = r.stale.validators.etag;
    if (r.stale.validators.lastModified) headers['if-modified-since'] = r.stale.validators.lastModified;
  }
  if (r.range !== undefined) headers.range = r.range;
  const path = r.key.forwardQuery ? `${r.key.path}?${r.key.forwardQuery}` : r.key.path;
  const kind = r.stale ? 'revalidate' : 'fill';
  deps.metrics.originRequests.inc({ kind });
  return deps.metrics.timeOrigin(
    kind,
    r.cls.name,
    deps.origin.request({
      origin: r.target,
      method: 'GET',
      path,
      headers,
      onInfo: r.onInfo,
      signal: r.signal,
    }),
  );
}

function unkeyedAuthorization(r: FillRequest): boolean {
  return (
    r.viewerHeaders.authorization !== undefined &&
    !r.cls.cacheKey.headers.some((h) => h.toLowerCase() === 'authorization')
  );
}

export function freshnessOf(deps: FillDeps, r: FillRequest, status: number, headers: StoredHeaders) {
  const policy = policyFor(
    { method: 'GET', url: r.key.path, headers: r.viewerHeaders },
    status,
    headers,
    deps.cacheControlTargets,
  );
  const fresh = edgeTtl(
    {
      status,
      headers,
      cls: r.cls,
      errorCachingMinTtl: deps.errorCachingMinTtl,
      unkeyedAuthorization: unkeyedAuthorization(r),
    },
    policy,
  );
  return { policy, fresh };
}

/** Applies a 304 to a stale entry: merged headers (RFC 9111 §4.3.4) and a new TTL. */
/**
 * Fields a 304 never changes in the stored response: they describe the stored body, which the
 * 304 does not carry (RFC 9111 §3.2: Content-Length; RFC 9110 §8.8 validators; Content-MD5 and
 * encodings are properties of the bytes). Surrogate-Control is consumed by the edge.
 */
const KEPT_ON_304 = new Set([
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'content-range',
  'content-md5',
  'etag',
  'surrogate-control',
]);

/**
 * Applies a 304 to a stale entry (RFC 9111 §4.3.4): its fields replace the stored ones, except
 * those describing the body; the entry gets a new TTL. A 304 whose strong ETag names another
 * representation selects nothing, so nothing is updated (it is served as it was).
 */
export function applyNotModified(
  deps: FillDeps,
  r: FillRequest,
  stale: CachedResponse,
  res304: StoredHeaders,
): CachedResponse {
  const incoming = storedHeaders(res304);
  const tag = headerString(incoming.etag);
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  if (tag !== undefined && stale.validators.etag !== undefined && strip(tag) !== strip(stale.validators.etag))
    return stale;
  const merged: StoredHeaders = { ...stale.headers };
  for (const k in incoming) if (!KEPT_ON_304.has(k)) merged[k] = incoming[k]!;
  const { policy, fresh } = freshnessOf(deps, r, stale.status, { ...merged, ...surrogateOf(res304, stale) });
  const updated: CachedResponse = {
    ...stale,
    headers: merged,
    policy,
    ttl: fresh.ttl,
    swr: fresh.swr,
    sie: fresh.sie,
    validators: {
      etag: stale.validators.etag,
      lastModified: headerString(incoming['last-modified']) ?? stale.validators.lastModified,
    },
  };
  if (fresh.store) deps.store.update(updated);
  else deps.store.delete(stale.key);
  return updated;
}

/** The Surrogate-Control that applies after a 304: the new one, else the stored one. */
function surrogateOf(res304: StoredHeaders, stale: CachedResponse): StoredHeaders {
  const sc = res304['surrogate-control'] ?? stale.surrogateControl;
  return sc === undefined ? {} : { 'surrogate-control': sc };
}

/**
 * The entry for a response received from the origin: the TTLs computed for it, and the origin's
 * own validators (`origin`: its headers before the edge compressed or trimmed them).
 */
export function storedEntry(
  r: FillRequest,
  e: {
    key: string;
    status: number;
    headers: StoredHeaders;
    policy: ReturnType<typeof policyFor>;
    fresh: Freshness;
    body: Buffer;
    origin: StoredHeaders;
    coding: CachedResponse['coding'];
    part?: CachedResponse['part'];
  },
): CachedResponse & { body: Buffer } {
  return {
    key: e.key,
    path: r.key.path,
    status: e.status,
    headers: e.headers,
    policy: e.policy,
    ttl: e.fresh.ttl,
    swr: e.fresh.swr,
    sie: e.fresh.sie,
    body: e.body,
    size: e.body.length,
    part: e.part,
    coding: e.coding,
    surrogateControl: e.origin['surrogate-control'],
    validators: { etag: headerString(e.origin.etag), lastModified: headerString(e.origin['last-modified']) },
  };
}

export interface StartedFill {
  fill: Fill;
  /** Resolves once the body is complete and stored (or abandoned). */
  stored: Promise<void>;
}

/**
 * Streams a cacheable origin response into a Fill (compressing it when the edge should) and
 * stores it when complete. The caller serves viewers from the fill meanwhile.
 */
export function startFill(
  deps: FillDeps,
  r: FillRequest,
  res: OriginResponse,
  fresh: Freshness,
  policy: ReturnType<typeof policyFor>,
  onTooBig?: () => void,
): StartedFill {
  const origin = storedHeaders(res.headers);
  const coding = compressionFor(r.cls.compress, r.encoding, res.status, origin);
  const forViewers: StoredHeaders = { ...origin };
  delete forViewers['surrogate-control'];
  const headers = coding ? compressedHeaders(forViewers, coding) : forViewers;
  const fill = new Fill(res.status, headers);
  let source: Readable = res.body;
  res.body.on('data', (c: Buffer) => deps.metrics.originBytes.inc(c.length));
  if (coding) {
    const z = compressor(coding, Number(headerString(origin['content-length'])) || 0);
    res.body.on('error', (err) => z.destroy(err));
    source = res.body.pipe(z);
  }
  let tooBig = false;
  const names = varyNames(origin);
  const stored = new Promise<void>((resolve) => {
    source.on('data', (c: Buffer) => {
      fill.push(c);
      // Past the object limit the copy is abandoned; viewers already following still get every
      // byte, new viewers fetch on their own (onTooBig releases the collapse slot).
      if (!tooBig && fill.bytes > deps.maxObjectBytes) {
        tooBig = true;
        fill.drop();
        onTooBig?.();
      }
    });
    source.once('error', (err) => {
      fill.fail(err);
      resolve();
    });
    source.once('end', () => {
      fill.end();
      if (tooBig) return resolve();
      const key = variantKey(r.key.key, names, r.viewerHeaders);
      const body = fill.body();
      const entry = storedEntry(r, { key, status: res.status, headers, policy, fresh, body, origin, coding });
      deps.store.set(entry, r.key.key, names).then(
        () => resolve(),
        () => resolve(),
      );
    });
  });
  return { fill, stored };
}
