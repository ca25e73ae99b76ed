/**
 * The cache key, as a CloudFront cache policy builds it: the path, plus only the query
 * strings (or all of them, QueryStringBehavior all), headers and cookies the behavior allowlists, plus the normalised Accept-Encoding
 * when the behavior compresses. Everything else the viewer sends cannot split the cache.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/controlling-the-cache-key.html
 *
 * Layout: `<path>\n<query>\n<headers>\n<cookies>\n<encoding>`; the path comes first so an
 * invalidation can match keys by path without parsing the rest.
 */
import negotiate from '@fastify/accept-negotiator';
import type { ContentClassConfig } from './config/sections/classes.js';

export type NormalisedEncoding = 'br,gzip' | 'gzip' | 'br' | '';

/**
 * CloudFront's Accept-Encoding normalisation: only gzip and br matter, q=0 excludes a coding
 * (RFC 9110 §12.5.3, via @fastify/accept-negotiator), and the result is one of four values, so
 * `gzip, deflate, br` and `br;q=1.0, gzip;q=0.8` share one cache entry.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/ServingCompressedFiles.html
 */
export function normaliseAcceptEncoding(header: string | undefined): NormalisedEncoding {
  if (!header) return '';
  // Content-coding names are case-insensitive (RFC 9110 §8.4.1): `GZIP` is gzip.
  const h = header.toLowerCase();
  const br = negotiate(h, ['br']) === 'br';
  const gzip = negotiate(h, ['gzip']) === 'gzip';
  return br && gzip ? 'br,gzip' : gzip ? 'gzip' : br ? 'br' : '';
}

export interface KeyInput {
  path: string;
  /** Raw query string without the leading `?` ('' when none). */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  encoding: NormalisedEncoding;
}

export interface CacheKey {
  key: string;
  path: string;
  /** The query string forwarded to the origin: the allowlisted parameters only, in viewer order. */
  forwardQuery: string;
  /** Cookie header forwarded to the origin: the allowlisted cookies only. */
  forwardCookie: string | undefined;
}

/**
 * The query strings a cache policy forwards to the origin (`forward`) and keys on (`key`), for
 * every method: CloudFront forwards only what the policy names, cached or not.
 */
export function policyQuery(
  query: string,
  policy: ContentClassConfig['cacheKey'],
): { forward: string; key: string } {
  if (query !== '' && policy.queryStringBehavior === 'all') {
    // CloudFront QueryStringBehavior all: the origin gets the query as the request has it; the
    // key is every parameter decoded and re-encoded one way, ordered by name (a stable sort, so
    // repeated names keep their order), as for an allowlist below.
    return { forward: query, key: sortedQuery([...new URLSearchParams(query)]) };
  }
  if (query !== '' && policy.queryStrings.length > 0) {
    const kept: Array<[string, string]> = [];
    for (const [k, v] of new URLSearchParams(query)) if (policy.queryStrings.includes(k)) kept.push([k, v]);
    return { forward: new URLSearchParams(kept).toString(), key: sortedQuery(kept) };
  }
  return { forward: '', key: '' };
}

export function buildCacheKey(input: KeyInput, policy: ContentClassConfig['cacheKey']): CacheKey {
  const { forward: forwardQuery, key: keyQuery } = policyQuery(input.query, policy);
  let keyHeaders = '';
  for (const name of policy.headers) {
    const v = input.headers[name.toLowerCase()];
    if (v !== undefined) keyHeaders += `${name.toLowerCase()}:${Array.isArray(v) ? v.join(',') : v}\u0001`;
  }
  let keyCookies = '';
  let forwardCookie: string | undefined;
  if (policy.cookies.length > 0) {
    const jar = parseCookies(input.headers.cookie);
    const kept: string[] = [];
    for (const name of [...policy.cookies].sort()) {
      const v = jar.get(name);
      if (v !== undefined) kept.push(`${name}=${v}`);
    }
    keyCookies = kept.join('; ');
    if (kept.length > 0) forwardCookie = keyCookies;
  }
  return {
    key: `${input.path}\n${keyQuery}\n${keyHeaders}\n${keyCookies}\n${input.encoding}`,
    path: input.path,
    forwardQuery,
    forwardCookie,
  };
}

/** Sorted by name in the key so `?w=1&h=2` and `?h=2&w=1` are one entry. */
function sortedQuery(pairs: Array<[string, string]>): string {
  return new URLSearchParams([...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))).toString();
}

/** Path part of a cache key (everything before the first newline). */
export function keyPath(key: string): string {
  const nl = key.indexOf('\n');
  return nl === -1 ? key : key.slice(0, nl);
}

/** Cookie header (RFC 6265 §4.2.1 `name=value; name2=value2`) to a map; first occurrence wins. */
export function parseCookies(header: string | string[] | undefined): Map<string, string> {
  const jar = new Map<string, string>();
  if (header === undefined) return jar;
  for (const part of (Array.isArray(header) ? header.join('; ') : header).split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!jar.has(name)) jar.set(name, part.slice(eq + 1).trim());
  }
  return jar;
}
