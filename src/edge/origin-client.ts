/**
 * Connections to the upstreams: one undici Pool per origin, keep-alive and timeouts from the
 * `origin` section (CloudFront's origin settings: connect timeout, response timeout, keep-alive
 * idle timeout). HTTP/2 is negotiated by ALPN on https origins when `origin.protocol` is http2;
 * cleartext origins speak HTTP/1.1 (undici does not do h2c).
 */
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import type { OriginConfig } from '../config/sections/origin.js';
import type { StoredHeaders } from './entry.js';

export interface OriginRequest {
  origin: string;
  method: string;
  /** Path and query, starting with `/`. */
  path: string;
  headers: Record<string, string | string[]>;
  body?: Readable | undefined;
  signal?: AbortSignal | undefined;
  /** Interim (1xx) responses from the origin, before the final one (RFC 9110 §15.2). */
  onInfo?: InterimListener | undefined;
}

export type InterimListener = (status: number, headers: StoredHeaders) => void;

export interface OriginResponse {
  status: number;
  headers: StoredHeaders;
  body: Readable;
}

export type OriginFailure = 'timeout' | 'unreachable';

/** Classifies an undici error: a timeout answers 504, anything else 502 (as CloudFront does). */
export function originFailure(err: unknown): OriginFailure {
  const code = (err as { code?: string }).code ?? '';
  return /TIMEOUT/.test(code) ? 'timeout' : 'unreachable';
}

export class OriginClient {
  readonly #pools = new Map<string, Pool>();
  readonly #config: OriginConfig;

  constructor(config: OriginConfig) {
    this.#config = config;
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      const c = this.#config;
      pool = new Pool(origin, {
        connect: { timeout: c.connectTimeoutMs },
        headersTimeout: c.responseTimeoutMs,
        bodyTimeout: c.responseTimeoutMs,
        keepAliveTimeout: c.keepAliveMs,
        keepAliveMaxTimeout: c.keepAliveMs,
        allowH2: c.protocol === 'http2',
        pipelining: 1,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  async request(req: OriginRequest): Promise<OriginResponse> {
    const res = await this.#pool(req.origin).request({
      method: req.method as 'GET',
      path: req.path,
      headers: req.headers,
      body: req.body ?? null,
      signal: req.signal,
      ...(req.onInfo
        ? { onInfo: ({ statusCode, headers }) => req.onInfo!(statusCode, headers as StoredHeaders) }
        : {}),
    });
    return { status: res.statusCode, headers: res.headers as StoredHeaders, body: res.body };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
    this.#pools.clear();
  }
}
