/**
 * Per-request state that flows through the pipeline: the viewer request as the edge sees it
 * (after the viewer-request function may have rewritten it), timings, and what the access
 * log and metrics record at the end.
 */

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { ContentClassConfig } from '../config/sections/classes.js';
import { absoluteFormTarget } from '../http/request-target.js';
import type { Traffic } from '../prefetch/own-traffic.js';
import type { H2ViewerRequest, H2ViewerResponse } from './h2-stream.js';
import type { ResultType } from './metrics.js';

/** HTTP/1.1, HTTP/2 through Node's compat objects, or HTTP/2 through the core stream adapters. */
export type ViewerRequest = IncomingMessage | Http2ServerRequest | H2ViewerRequest;
export type ViewerResponse = ServerResponse | Http2ServerResponse | H2ViewerResponse;
export type RequestHeaders = Record<string, string | string[] | undefined>;

export interface EdgeContext {
  req: ViewerRequest;
  res: ViewerResponse;
  start: number;
  startMs: number;
  requestId: string;
  method: string;
  /** Path as the viewer sent it (after a viewer-request function: as the function left it). */
  path: string;
  /** Query without `?`. */
  query: string;
  /** TLS protocol and cipher of an https viewer connection (for the access log). */
  tls: { protocol: string | undefined; cipher: string | undefined } | undefined;
  /** Path and query exactly as received (what a signed URL signed). */
  viewerUrl: string;
  headers: RequestHeaders;
  scheme: 'http' | 'https';
  host: string;
  clientIp: string;
  clientPort: number;
  cls: ContentClassConfig | undefined;
  /** False on the upload paths, whose CloudFront behaviors have no function associations. */
  functions: boolean;
  /** Set once headers are sent. */
  ttfb: number;
  resultType: ResultType;
  detailedResultType: string | undefined;
  bodyBytes: number;
  headerBytes: number;
  status: number;
  contentType: string | undefined;
  contentLength: number | undefined;
  range: { start: number; end: number } | undefined;
  /** A cache probe (only-if-cached): not logged or counted as a viewer request. */
  probe: boolean;
  /** The prefetch worker's own requests are labelled apart from viewers' (src/prefetch/own-traffic.ts). */
  traffic: Traffic;
  /** Aborts the origin fetch this request leads: set only on the edge's own follow fills. */
  signal: AbortSignal | undefined;
}

const ID_PREFIX = randomBytes(6).toString('base64url');
let idSeq = 0;

/** Unique per process and cheap: a random prefix and a counter (CloudFront ids are opaque too). */
export function requestId(): string {
  idSeq = (idSeq + 1) % Number.MAX_SAFE_INTEGER;
  return `${ID_PREFIX}${idSeq.toString(36)}`;
}

export function createContext(
  req: ViewerRequest,
  res: ViewerResponse,
  trustForwardedProto: boolean,
): EdgeContext | string {
  let raw = req.url ?? '/';
  const headers = req.headers as RequestHeaders;
  let authority: string | undefined;
  if (!raw.startsWith('/')) {
    // Absolute-form (RFC 9112 §3.2.2) becomes the origin-form it names, byte for byte, and its
    // authority replaces Host: the same rule as the origin's (src/http/request-target.ts), so
    // the canonical-path refusal judges the bytes that were sent (WHATWG URL parsing would
    // resolve `..` and decode escapes first).
    const t = absoluteFormTarget(raw);
    if (t.kind === 'invalid') return t.reason;
    raw = t.url;
    authority = t.authority;
  }
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const query = q === -1 ? '' : raw.slice(q + 1);
  const socket = req.socket as (TLSSocket & { encrypted?: boolean }) | null;
  let scheme: 'http' | 'https' = socket?.encrypted ? 'https' : 'http';
  if (trustForwardedProto) {
    const fp = headers['x-forwarded-proto'];
    const first = (Array.isArray(fp) ? fp[0] : fp)?.split(',')[0]?.trim().toLowerCase();
    if (first === 'https' || first === 'http') scheme = first;
  }
  const host =
    authority ?? (headers[':authority'] as string | undefined) ?? (headers.host as string | undefined) ?? '';
  return {
    req,
    res,
    start: performance.now(),
    startMs: Date.now(),
    requestId: requestId(),
    method: req.method ?? 'GET',
    path,
    query,
    tls: socket?.encrypted
      ? { protocol: socket.getProtocol?.() ?? undefined, cipher: socket.getCipher?.()?.name }
      : undefined,
    viewerUrl: query ? `${path}?${query}` : path,
    headers,
    scheme,
    host,
    clientIp: socket?.remoteAddress ?? '-',
    clientPort: socket?.remotePort ?? 0,
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
    traffic: 'viewer',
    signal: undefined,
  };
}
