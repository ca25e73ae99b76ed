/**
 * CloudFront standard (legacy) access log lines: 33 tab-separated fields in CloudFront's
 * order, `-` for an empty field, and values URL-encoded so a tab, space or newline in a
 * header can never break the line.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html
 */

/** CloudFront's x-edge-result-type values (the edge's metrics count by the same names). */
export type ResultType = 'Hit' | 'RefreshHit' | 'Miss' | 'Error' | 'Redirect' | 'FunctionGeneratedResponse';

export const LOG_FIELDS = [
  'date',
  'time',
  'x-edge-location',
  'sc-bytes',
  'c-ip',
  'cs-method',
  'cs(Host)',
  'cs-uri-stem',
  'sc-status',
  'cs(Referer)',
  'cs(User-Agent)',
  'cs-uri-query',
  'cs(Cookie)',
  'x-edge-result-type',
  'x-edge-request-id',
  'x-host-header',
  'cs-protocol',
  'cs-bytes',
  'time-taken',
  'x-forwarded-for',
  'ssl-protocol',
  'ssl-cipher',
  'x-edge-response-result-type',
  'cs-protocol-version',
  'fle-status',
  'fle-encrypted-fields',
  'c-port',
  'time-to-first-byte',
  'x-edge-detailed-result-type',
  'sc-content-type',
  'sc-content-len',
  'sc-range-start',
  'sc-range-end',
] as const;

export const LOG_HEADER = `#Version: 1.0\n#Fields: ${LOG_FIELDS.join(' ')}\n`;

export interface LogRecord {
  /** Completion time, ms since the epoch. */
  end: number;
  edgeLocation: string;
  scBytes: number;
  clientIp: string;
  method: string;
  host: string;
  path: string;
  status: number;
  referer: string | undefined;
  userAgent: string | undefined;
  query: string;
  cookie: string | undefined;
  resultType: ResultType;
  requestId: string;
  protocol: 'http' | 'https';
  csBytes: number;
  /** Seconds, millisecond precision. */
  timeTaken: number;
  forwardedFor: string | undefined;
  sslProtocol: string | undefined;
  sslCipher: string | undefined;
  responseResultType: ResultType;
  protocolVersion: string;
  clientPort: number;
  timeToFirstByte: number;
  detailedResultType: string;
  contentType: string | undefined;
  contentLength: number | undefined;
  rangeStart: number | undefined;
  rangeEnd: number | undefined;
}

/**
 * Percent-encodes bytes outside visible ASCII, `"`, `\` and `%` itself. Encoding `%` is what
 * CloudFront does (a viewer's `%20` is logged as `%2520`), so one decode gives back exactly
 * what the viewer sent.
 */
/** Visible ASCII except `"` (0x22), `%` (0x25) and `\` (0x5c): such a value is written as is. */
const SAFE_FIELD = /^[\x21\x23\x24\x26-\x5b\x5d-\x7e]+$/;

export function encodeField(value: string | number | undefined): string {
  if (value === undefined || value === '') return '-';
  const s = String(value);
  // Fast path: most values need nothing.
  if (SAFE_FIELD.test(s)) return s;
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    out +=
      byte > 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x25 && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function formatLine(r: LogRecord): string {
  const iso = new Date(r.end).toISOString();
  const fields = [
    iso.slice(0, 10),
    iso.slice(11, 19),
    r.edgeLocation,
    r.scBytes,
    r.clientIp,
    r.method,
    r.host,
    r.path,
    r.status,
    r.referer,
    r.userAgent,
    r.query,
    r.cookie,
    r.resultType,
    r.requestId,
    r.host,
    r.protocol,
    r.csBytes,
    r.timeTaken.toFixed(3),
    r.forwardedFor,
    r.sslProtocol,
    r.sslCipher,
    r.responseResultType,
    r.protocolVersion,
    undefined,
    undefined,
    r.clientPort,
    r.timeToFirstByte.toFixed(3),
    r.detailedResultType,
    r.contentType,
    r.contentLength,
    r.rangeStart,
    r.rangeEnd,
  ];
  return fields.map(encodeField).join('\t');
}
