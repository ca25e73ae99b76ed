/**
 * Headers the edge sends to the origin. End-to-end viewer headers are forwarded (so an
 * origin that varies on them, and says so with Vary, is cached correctly), except:
 * hop-by-hop fields (RFC 9110 §7.6.1); Host (the origin's own); cookies outside the cache
 * key's allowlist (CloudFront forwards only those, so a session cookie cannot change a
 * shared response); Accept-Encoding, replaced by its normalised form; and, on fills, the
 * viewer's conditional and range fields, because the edge fetches the whole object and
 * answers those itself (a range miss adds the viewer's Range back, src/edge/partial.ts).
 */

import type { CacheKey, NormalisedEncoding } from '../../cache-key.js';
import type { RequestHeaders } from '../context.js';
import { HOP_BY_HOP } from '../entry.js';
import { SURROGATE_TOKEN } from '../ttl.js';

const VIEWER_VALIDATORS = new Set([
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
]);

export function originHeaders(
  viewer: RequestHeaders,
  opts: {
    key: CacheKey | undefined;
    encoding: NormalisedEncoding | undefined;
    clientIp: string;
    /** Sent as X-Amz-Cf-Id, as CloudFront identifies each request to the origin; both sides log it. */
    requestId: string;
    /** A fill or revalidation (the edge answers conditionals from its copy). */
    fill: boolean;
  },
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connectionTokens = new Set(
    String(viewer.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((t) => t.trim()),
  );
  for (const name in viewer) {
    const value = viewer[name];
    if (value === undefined || name.startsWith(':')) continue;
    // Expect: 100-continue is answered by the edge's own server to the viewer; undici refuses
    // to send it upstream, which turned every large curl upload into a 502.
    if (HOP_BY_HOP.has(name) || connectionTokens.has(name) || name === 'host' || name === 'expect') continue;
    if (name === 'cookie' || name === 'accept-encoding') continue;
    if (opts.fill && VIEWER_VALIDATORS.has(name)) continue;
    out[name] = value;
  }
  if (opts.key === undefined) {
    // Pass-through (unsafe methods): the request is not cached, every cookie goes through.
    if (viewer.cookie !== undefined) out.cookie = viewer.cookie;
    if (viewer['accept-encoding'] !== undefined) out['accept-encoding'] = viewer['accept-encoding'];
  } else {
    if (opts.key.forwardCookie !== undefined) out.cookie = opts.key.forwardCookie;
    if (opts.encoding) out['accept-encoding'] = opts.encoding === 'br,gzip' ? 'br, gzip' : opts.encoding;
  }
  const xff = viewer['x-forwarded-for'];
  out['x-forwarded-for'] = xff
    ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${opts.clientIp}`
    : opts.clientIp;
  // Edge Architecture 1.0: tell the origin a surrogate that understands Surrogate-Control is here.
  const capability = `${SURROGATE_TOKEN}="Surrogate/1.0"`;
  const sc = viewer['surrogate-capability'];
  out['surrogate-capability'] = sc ? `${Array.isArray(sc) ? sc.join(', ') : sc}, ${capability}` : capability;
  out.via = viewer.via ? `${viewer.via}, 1.1 edgewise` : '1.1 edgewise';
  out['x-amz-cf-id'] = opts.requestId;
  return out;
}
