/**
 * What the edge records once a viewer's response is finished: the metrics count and one
 * CloudFront standard access-log record built from the request's context.
 * Cache probes (only-if-cached) are warmers asking a question, not viewer traffic: they are
 * counted apart and not logged.
 *
 * Credentials are redacted with the origin's rules (src/redact.ts): the values of signature
 * query parameters (upload `sig`, CloudFront `Signature`/`Policy`/`Key-Pair-Id`, `X-Amz-*`) in
 * cs-uri-query and cs(Referer). cs(Cookie) is `-` unless `edge.logs.includeCookies` (CloudFront's
 * IncludeCookies, off by default), and even then the cookies in `edge.logs.redactCookies` keep
 * only their names.
 */
import { formatLine, type LogRecord } from '../access-log/format.js';
import type { EdgeConfig } from '../config/sections/edge.js';
import { redactCookies, redactPath, redactQuery, redactUrl } from '../redact.js';
import type { AccessLogWriter } from './access-log/writer.js';
import type { EdgeContext } from './context.js';
import { headerString } from './entry.js';
import type { EdgeMetrics } from './metrics.js';

/**
 * cs(Host) is the distribution's domain name (d111111abcdef8.cloudfront.net) at CloudFront; the
 * local edge has none of its own: it writes `edge.logs.distributionDomain` when set, else the
 * viewer's Host without its port (x-host-header keeps the Host as sent).
 */
export function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/**
 * cs-bytes: "the total number of bytes of data that the viewer included in the request,
 * including headers". The head is counted as HTTP/1.1 frames it (request line, each header
 * as sent, the blank line) from the raw headers; an HTTP/2 request is counted the same way
 * (its HPACK-compressed size is not exposed). The body counts as its Content-Length once
 * fully received (Node checks the length); a chunked body's size is not known here and counts 0.
 */
export function requestBytes(ctx: EdgeContext): number {
  const req = ctx.req;
  const raw = req.rawHeaders;
  // `METHOD url HTTP/x.y\r\n` and the blank line, counted without building them.
  let head = ctx.method.length + 1 + (req.url ?? '/').length + 6 + req.httpVersion.length + 2 + 2;
  if (req.httpVersion.startsWith('1')) {
    // Node's HTTP/1 parser makes header strings one char per wire byte (latin1): the length is
    // the byte count, exactly.
    for (let i = 0; i + 1 < raw.length; i += 2) head += raw[i]!.length + 2 + raw[i + 1]!.length + 2;
  } else {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] ?? '';
      if (name.startsWith(':')) continue; // HTTP/2 pseudo-headers are in the request line
      head += Buffer.byteLength(name) + 2 + Buffer.byteLength(raw[i + 1] ?? '') + 2;
    }
  }
  const declared = Number(headerString(ctx.headers['content-length']) ?? 0);
  return head + (req.complete && Number.isSafeInteger(declared) && declared > 0 ? declared : 0);
}

/**
 * The response head's bytes: exactly what Node wrote for HTTP/1.x (the serialised header
 * block), the edge's estimate otherwise (HTTP/2 heads are HPACK-compressed).
 */
function responseHeadBytes(ctx: EdgeContext): number {
  const written = (ctx.res as { _header?: unknown })._header;
  // Node writes the head as latin1: one byte per char.
  return typeof written === 'string' ? written.length : ctx.headerBytes;
}

/** The settings of edge.logs a record depends on. */
export type RecordOptions = Pick<
  EdgeConfig['logs'],
  'edgeLocation' | 'distributionDomain' | 'includeCookies' | 'redactCookies'
>;

const VERSIONS: Record<string, string> = { '1.0': 'HTTP/1.0', '1.1': 'HTTP/1.1', '2.0': 'HTTP/2.0' };

/** The access-log record of a finished request, `end` being its wall-clock end in ms. */
export function accessRecord(ctx: EdgeContext, options: RecordOptions, end: number): LogRecord {
  const h = ctx.headers;
  const referer = headerString(h.referer);
  const cookie = options.includeCookies ? headerString(h.cookie) : undefined;
  const version = VERSIONS[ctx.req.httpVersion] ?? `HTTP/${ctx.req.httpVersion}`;
  return {
    end,
    edgeLocation: options.edgeLocation,
    scBytes: responseHeadBytes(ctx) + ctx.bodyBytes,
    clientIp: ctx.clientIp,
    method: ctx.method,
    host: options.distributionDomain || hostWithoutPort(ctx.host),
    hostHeader: ctx.host,
    path: redactPath(ctx.path),
    status: ctx.status || 0,
    referer: referer === undefined ? undefined : redactUrl(referer),
    userAgent: headerString(h['user-agent']),
    query: redactQuery(ctx.query),
    cookie: cookie === undefined ? undefined : redactCookies(cookie, options.redactCookies),
    resultType: ctx.resultType,
    requestId: ctx.requestId,
    protocol: ctx.scheme,
    csBytes: requestBytes(ctx),
    timeTaken: (performance.now() - ctx.start) / 1000,
    forwardedFor: headerString(h['x-forwarded-for']),
    sslProtocol: ctx.tls?.protocol,
    sslCipher: ctx.tls?.cipher,
    responseResultType: ctx.resultType,
    protocolVersion: version,
    clientPort: ctx.clientPort,
    timeToFirstByte: ctx.ttfb / 1000,
    detailedResultType: ctx.detailedResultType ?? ctx.resultType,
    contentType: ctx.contentType,
    contentLength: ctx.contentLength,
    rangeStart: ctx.range?.start,
    rangeEnd: ctx.range?.end,
  };
}

/** Counts the finished request and writes its access-log line. */
export function recordAccess(
  ctx: EdgeContext,
  metrics: EdgeMetrics,
  logs: AccessLogWriter | undefined,
  options: RecordOptions,
): void {
  if (ctx.probe) {
    metrics.probes.inc({ held: ctx.status === 504 ? 'no' : 'yes' });
    return;
  }
  metrics.count(ctx);
  if (!logs) return;
  const now = Date.now();
  logs.write(now, formatLine(accessRecord(ctx, options, now)));
}
