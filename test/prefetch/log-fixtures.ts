/** CloudFront standard log lines for tests, built field by field in CloudFront's order. */
import { gzipSync } from 'node:zlib';
import { CLOUDFRONT_FIELDS } from '../../src/prefetch/record.js';

/** A 33-field line in CloudFront's order from a few overrides. */
export function line33(over: Partial<Record<(typeof CLOUDFRONT_FIELDS)[number], string>> = {}): string {
  const base: Record<string, string> = {
    date: '2026-11-28',
    time: '04:05:06',
    'x-edge-location': 'LCL1-P1',
    'sc-bytes': '1200',
    'c-ip': '192.0.2.10',
    'cs-method': 'GET',
    'cs(Host)': 'd111111abcdef8.cloudfront.net',
    'cs-uri-stem': '/static/app.js',
    'sc-status': '200',
    'cs(Referer)': '-',
    'cs(User-Agent)': 'Mozilla/5.0%20(X11)',
    'cs-uri-query': '-',
    'cs(Cookie)': '-',
    'x-edge-result-type': 'Miss',
    'x-edge-request-id': 'abc==',
    'x-host-header': 'shop.example',
    'cs-protocol': 'https',
    'cs-bytes': '300',
    'time-taken': '0.010',
    'x-forwarded-for': '-',
    'ssl-protocol': 'TLSv1.3',
    'ssl-cipher': 'TLS_AES_128_GCM_SHA256',
    'x-edge-response-result-type': 'Miss',
    'cs-protocol-version': 'HTTP/2.0',
    'fle-status': '-',
    'fle-encrypted-fields': '-',
    'c-port': '51234',
    'time-to-first-byte': '0.008',
    'x-edge-detailed-result-type': 'Miss',
    'sc-content-type': 'text/javascript',
    'sc-content-len': '1000',
    'sc-range-start': '-',
    'sc-range-end': '-',
    ...over,
  };
  return CLOUDFRONT_FIELDS.map((f) => base[f]).join('\t');
}

export const HEADER = `#Version: 1.0\n#Fields: ${CLOUDFRONT_FIELDS.join(' ')}\n`;

/** A gzipped log file as the local edge (and CloudFront) writes it. */
export function gzLog(lines: string[]): Buffer {
  return gzipSync(`${HEADER}${lines.join('\n')}\n`);
}

/** `YYYY-MM-DD` and `HH:MM:SS` of a time in ms. */
export function when(ms: number): { date: string; time: string } {
  const iso = new Date(ms).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 19) };
}
