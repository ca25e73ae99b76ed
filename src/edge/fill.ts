/**
 * Origin fetches for cacheable requests: the fill on a miss (collapsed, streamed to every
 * waiter while it is stored), revalidation of a stale copy (RFC 9111 §4.3: a conditional
 * request with the origin's validators; a 304 refreshes the stored headers, §4.3.4), and the
 * background refresh behind stale-while-revalidate (RFC 5861 §3).
 */
import type { Readable } from 'node:stream';
import type { ContentClassConfig } from '../config/sections/classes.js';
import type { TieredStore } from './cache/tiered-store.js';
import { Fill } from './collapse.js';
import { compressedHeaders, compressionFor, compressor } from './compress.js';
import type { RequestHeaders } from './context.js';
import { type CachedResponse, HOP_BY_HOP, headerString, type StoredHeaders } from './entry.js';
import type { EdgeMetrics } from './metrics.js';
import type { OriginClient, OriginResponse } from './origin-client.js';
import type { CacheKey, NormalisedEncoding } from './pipeline/cache-key.js';
import { originHeaders } from './pipeline/origin-headers.js';
import { edgeTtl, type Freshness, policyFor } from './ttl.js';

export interface FillDeps {
  store: TieredStore;
  origin: OriginClient;
  metrics: EdgeMetrics;
  errorCachingMinTtl: number;
  maxObjectBytes: number;
}

export interface FillRequest {
  target: string;
  cls: ContentClassConfig;
  key: CacheKey;
  encoding: NormalisedEncoding;
  viewerHeaders: RequestHeaders;
  clientIp: string;
  stale: CachedResponse | undefined;
}

/** Stored headers: the origin's minus hop-by-hop fields. */
export function storedHeaders(headers: StoredHeaders): StoredHeaders {
  const out: StoredHeaders = {};
  for (const k in headers) if (!HOP_BY_HOP.has(k)) out[k] = headers[k]!;
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

/** Secondary key for a Vary'd response: the nominated request headers, whitespace-normalised (RFC 9111 §4.1). */
export function variantKey(primary: string, names: string[] | undefined, headers: RequestHeaders): string {
  if (!names || names.length === 0) return primary;
  let k = primary;
  for (const n of names) {
    const v = headers[n];
    k += `\u0002${v === undefined ? '\u0003' : (Array.isArray(v) ? v.join(',') : v).replace(/\s+/g, ' ').trim()}`;
  }
  return k;
}

export async function requestOrigin(deps: FillDeps, r: FillRequest): Promise<OriginResponse> {
  const headers = originHeaders(r.viewerHeaders, {
    key: r.key,
    encoding: r.encoding,
    clientIp: r.clientIp,
    fill: true,
  });
  if (r.stale) {
    // RFC 9111 §4.3.1: send the stored validators; the origin's own (not the weakened ETag of
    // an edge-compressed copy).
    if (r.stale.validators.etag) headers['if-none-match'] = r.stale.validators.etag;
    if (r.stale.validators.lastModified) headers['if-modified-since'] = r.stale.validators.lastModified;
  }
  const path = r.key.forwardQuery ? `${r.key.path}?${r.key.forwardQuery}` : r.key.path;
  deps.metrics.originRequests.inc({ kind: r.stale ? 'revalidate' : 'fill' });
  return deps.origin.request({ origin: r.target, method: 'GET', path, headers });
}

function unkeyedAuthorization(r: FillRequest): boolean {
  return (
    r.viewerHeaders.authorization !== undefined &&
    !r.cls.cacheKey.headers.some((h) => h.toLowerCase() === 'authorization')
  );
}

export function freshnessOf(deps: FillDeps, r: FillRequest, status: number, headers: StoredHeaders) {
  const policy = policyFor({ method: 'GET', url: r.key.path, headers: r.viewerHeaders }, status, headers);
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
export function applyNotModified(
  deps: FillDeps,
  r: FillRequest,
  stale: CachedResponse,
  res304: StoredHeaders,
): CachedResponse {
  const { policy } = stale.policy.revalidatedPolicy(
    { method: 'GET', url: r.key.path, headers: r.viewerHeaders as Record<string, string> },
    { status: 304, headers: storedHeaders(res304) as Record<string, string> },
  );
  let merged = storedHeaders(policy.toObject().resh as StoredHeaders);
  if (stale.coding) merged = compressedHeaders(merged, stale.coding);
  const { fresh } = freshnessOf(deps, r, stale.status, merged);
  const updated: CachedResponse = {
    ...stale,
    headers: merged,
    policy,
    ttl: fresh.ttl,
    swr: fresh.swr,
    sie: fresh.sie,
    validators: {
      etag: headerString(res304.etag) ?? stale.validators.etag,
      lastModified: headerString(res304['last-modified']) ?? stale.validators.lastModified,
    },
  };
  if (fresh.store) deps.store.update(updated);
  else deps.store.delete(stale.key);
  return updated;
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
): StartedFill {
  const origin = storedHeaders(res.headers);
  const coding = compressionFor(r.cls.compress, r.encoding, res.status, origin);
  const headers = coding ? compressedHeaders(origin, coding) : origin;
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
      // Past the object limit the copy is abandoned; viewers already following still get every byte.
      if (fill.bytes > deps.maxObjectBytes) tooBig = true;
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
      const entry: CachedResponse & { body: Buffer } = {
        key,
        path: r.key.path,
        status: res.status,
        headers,
        policy,
        ttl: fresh.ttl,
        swr: fresh.swr,
        sie: fresh.sie,
        body,
        size: body.length,
        coding,
        validators: { etag: headerString(origin.etag), lastModified: headerString(origin['last-modified']) },
      };
      deps.store.set(entry, r.key.key, names).then(
        () => resolve(),
        () => resolve(),
      );
    });
  });
  return { fill, stored };
}
