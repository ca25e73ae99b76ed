/**
 * Content-coding choice for a response, RFC 9110 §12.5.3. Accept-Encoding parsing and q-value
 * ranking are `@fastify/accept-negotiator`'s (the same negotiator @fastify/compress uses, so
 * the two can never disagree); this module adds the origin's preferences and the list of
 * media types worth compressing.
 */
import { Negotiator } from '@fastify/accept-negotiator';

export type Coding = 'br' | 'gzip';

/**
 * Server preference on ties: Brotli first (smaller at equal CPU), then gzip. `identity` is
 * listed so that a client preferring it explicitly (`identity;q=1, gzip;q=0.5`) gets it. zstd is
 * absent on purpose: no zstd variants are stored, and Node ≥ 22.15 would otherwise offer it.
 */
const SUPPORTED = ['br', 'gzip', 'identity'] as const;

/** Bounded memo for the negotiator: the header is client-controlled, so the cache must not grow without bound. */
class BoundedCache<V> {
  readonly #map = new Map<string, V>();
  constructor(readonly limit: number) {}
  has(k: string): boolean {
    return this.#map.has(k);
  }
  get(k: string): V | undefined {
    return this.#map.get(k);
  }
  set(k: string, v: V): this {
    if (this.#map.size >= this.limit) this.#map.clear();
    this.#map.set(k, v);
    return this;
  }
}

const negotiators = {
  all: new Negotiator({ supportedValues: [...SUPPORTED], cache: new BoundedCache<string>(512) }),
  br: new Negotiator({ supportedValues: ['br', 'identity'], cache: new BoundedCache<string>(512) }),
  gzip: new Negotiator({ supportedValues: ['gzip', 'identity'], cache: new BoundedCache<string>(512) }),
};

/**
 * Acceptable codings for `accept-encoding`, best first (q-value, then server preference).
 * Empty when the client sent none, or prefers identity over every coding we offer.
 */
export function acceptableCodings(acceptEncoding: string | undefined): Coding[] {
  if (!acceptEncoding) return [];
  // Codings are case-insensitive (§12.5.3); the negotiator compares exactly.
  const header = acceptEncoding.toLowerCase();
  const best = negotiators.all.negotiate(header);
  if (best !== 'br' && best !== 'gzip') return [];
  const other: Coding = best === 'br' ? 'gzip' : 'br';
  // The runner-up is acceptable when, offered alone against identity, the client still picks it.
  return negotiators[other].negotiate(header) === other ? [best, other] : [best];
}

/**
 * Media types that compress well. Never images (already compressed; SVG is XML text and is
 * the exception), video, audio, fonts in WOFF/WOFF2, archives or application/octet-stream.
 */
const COMPRESSIBLE =
  /^(?:text\/|image\/svg\+xml|application\/(?:json|javascript|ecmascript|xml|xhtml\+xml|ld\+json|manifest\+json|wasm|x-javascript|rss\+xml|atom\+xml|vnd\.api\+json|graphql-response\+json)|font\/(?:ttf|otf|collection)|[a-z]+\/[a-z0-9.+-]*\+(?:json|xml)(?:;|$))/i;

const compressibleCache = new Map<string, boolean>();

export function isCompressible(contentType: string): boolean {
  let v = compressibleCache.get(contentType);
  if (v === undefined) {
    v = COMPRESSIBLE.test(contentType) && !/^text\/event-stream/i.test(contentType);
    if (compressibleCache.size > 1024) compressibleCache.clear();
    compressibleCache.set(contentType, v);
  }
  return v;
}
