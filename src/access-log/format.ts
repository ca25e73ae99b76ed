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
  /** cs(Host): the distribution's domain name at CloudFront. */
  host: string;
  /** x-host-header: the Host header as the viewer sent it. */
  hostHeader: string;
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
 * CloudFront's log encoding: "URL-encoded equivalents are used for ASCII character codes 0
 * through 32, inclusive, ASCII character codes 127 and higher, and < > " # % { } | \ ^ ~ [ ] ` '"
 * (the table of standard-logs-reference, RFC 1738's unsafe set). Encoding `%` itself means a
 * viewer's `%20` is logged `%2520`, so one decode gives back exactly what the viewer sent.
 */
const ENCODED_ASCII = '<>"#%{}|\\^~[]`\'';
const KEEP = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) KEEP[c] = ENCODED_ASCII.includes(String.fromCharCode(c)) ? 0 : 1;
/** A value made only of kept characters is written as is (the common case: no work). */
const SAFE_FIELD = /^[!$&(-;=?-Z_a-z]+$/;

export function encodeField(value: string | number | undefined): string {
  if (value === undefined || value === '') return '-';
  const s = String(value);
  if (SAFE_FIELD.test(s)) return s;
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    out +=
      byte < 0x80 && KEEP[byte] === 1
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The date and time fields of the last second a line was made in (they change once a second). */
let stampSecond = Number.NaN;
let stamp = '';

/** `date\ttime` of a completion time (UTC, as CloudFront writes them). */
function dateTime(end: number): string {
  const second = Math.floor(end / 1000);
  if (second !== stampSecond) {
    const iso = new Date(second * 1000).toISOString();
    stamp = `${iso.slice(0, 10)}\t${iso.slice(11, 19)}`;
    stampSecond = second;
  }
  return stamp;
}

/**
 * One log line, built by concatenation in field order (no field array, no per-field closure):
 * numbers are written as they are, since every character of a number's text is one the
 * encoding keeps.
 */
export function formatLine(r: LogRecord): string {
  const t = '\t';
  return (
    dateTime(r.end) +
    t +
    encodeField(r.edgeLocation) +
    t +
    r.scBytes +
    t +
    encodeField(r.clientIp) +
    t +
    encodeField(r.method) +
    t +
    encodeField(r.host) +
    t +
    encodeField(r.path) +
    t +
    // CloudFront writes 000 when the viewer closed the connection before any response.
    (r.status === 0 ? '000' : r.status) +
    t +
    encodeField(r.referer) +
    t +
    encodeField(r.userAgent) +
    t +
    encodeField(r.query) +
    t +
    encodeField(r.cookie) +
    t +
    r.resultType +
    t +
    encodeField(r.requestId) +
    t +
    encodeField(r.hostHeader) +
    t +
    r.protocol +
    t +
    r.csBytes +
    t +
    r.timeTaken.toFixed(3) +
    t +
    encodeField(r.forwardedFor) +
    t +
    encodeField(r.sslProtocol) +
    t +
    encodeField(r.sslCipher) +
    t +
    r.responseResultType +
    t +
    encodeField(r.protocolVersion) +
    '\t-\t-\t' +
    r.clientPort +
    t +
    r.timeToFirstByte.toFixed(3) +
    t +
    encodeField(r.detailedResultType) +
    t +
    encodeField(r.contentType) +
    t +
    encodeField(r.contentLength) +
    t +
    encodeField(r.rangeStart) +
    t +
    encodeField(r.rangeEnd)
  );
}
