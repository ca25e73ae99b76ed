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
import { redactCookies, redactQuery, redactUrl } from '../redact.js';
import type { AccessLogWriter } from './access-log/writer.js';
import type { EdgeContext } from './context.js';
import { headerString } from './entry.js';
import type { EdgeMetrics } from './metrics.js';

/** The settings of edge.logs a record depends on. */
export type RecordOptions = Pick<EdgeConfig['logs'], 'edgeLocation' | 'includeCookies' | 'redactCookies'>;

/** The access-log record of a finished request, `end` being its wall-clock end in ms. */
export function accessRecord(ctx: EdgeContext, options: RecordOptions, end: number): LogRecord {
  const h = ctx.headers;
  const referer = headerString(h.referer);
  const cookie = options.includeCookies ? headerString(h.cookie) : undefined;
  const version = ctx.req.httpVersion === '2.0' ? 'HTTP/2.0' : `HTTP/${ctx.req.httpVersion}`;
  return {
    end,
    edgeLocation: options.edgeLocation,
    scBytes: ctx.bodyBytes + ctx.headerBytes,
    clientIp: ctx.clientIp,
    method: ctx.method,
    host: ctx.host,
    path: ctx.path,
    status: ctx.status || 0,
    referer: referer === undefined ? undefined : redactUrl(referer),
    userAgent: headerString(h['user-agent']),
    query: redactQuery(ctx.query),
    cookie: cookie === undefined ? undefined : redactCookies(cookie, options.redactCookies),
    resultType: ctx.resultType,
    requestId: ctx.requestId,
    protocol: ctx.scheme,
    csBytes: Number(headerString(h['content-length']) ?? 0) || 0,
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
  metrics.count(ctx.resultType, ctx.bodyBytes);
  if (!logs) return;
  const now = Date.now();
  logs.write(now, formatLine(accessRecord(ctx, options, now)));
}
