/**
 * Edge compression as CloudFront does it: when the behavior compresses, the viewer accepts
 * gzip or Brotli (Brotli preferred), the origin did not compress, the type is in CloudFront's
 * compressible list and Content-Length is 1,000–10,000,000 bytes. The compressed response is
 * what gets cached (under the normalised Accept-Encoding key). A strong ETag becomes weak:
 * the bytes changed, so byte-for-byte equality no longer holds (RFC 9110 §8.8.1).
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/ServingCompressedFiles.html
 */

import type { Transform } from 'node:stream';
import { constants, createBrotliCompress, createGzip } from 'node:zlib';
import type { NormalisedEncoding } from '../cache-key.js';
import { headerString, type StoredHeaders } from './entry.js';

export const MIN_COMPRESS_BYTES = 1000;
export const MAX_COMPRESS_BYTES = 10_000_000;

/** CloudFront's list of file types it compresses. */
const COMPRESSIBLE = new Set([
  'application/dash+xml',
  'application/eot',
  'application/font',
  'application/font-sfnt',
  'application/javascript',
  'application/json',
  'application/opentype',
  'application/otf',
  'application/pdf',
  'application/pkcs7-mime',
  'application/protobuf',
  'application/rss+xml',
  'application/truetype',
  'application/ttf',
  'application/vnd.apple.mpegurl',
  'application/vnd.mapbox-vector-tile',
  'application/vnd.ms-fontobject',
  'application/wasm',
  'application/xhtml+xml',
  'application/xml',
  'application/x-font-opentype',
  'application/x-font-truetype',
  'application/x-font-ttf',
  'application/x-httpd-cgi',
  'application/x-javascript',
  'application/x-mpegurl',
  'application/x-opentype',
  'application/x-otf',
  'application/x-perl',
  'application/x-ttf',
  'font/eot',
  'font/opentype',
  'font/otf',
  'font/ttf',
  'image/svg+xml',
  'text/css',
  'text/csv',
  'text/html',
  'text/javascript',
  'text/js',
  'text/plain',
  'text/richtext',
  'text/tab-separated-values',
  'text/xml',
  'text/x-component',
  'text/x-java-source',
  'text/x-script',
  'vnd.apple.mpegurl',
]);

export type EdgeCoding = 'br' | 'gzip';

export function compressionFor(
  enabled: boolean,
  encoding: NormalisedEncoding,
  status: number,
  headers: StoredHeaders,
): EdgeCoding | undefined {
  if (!enabled || encoding === '' || status !== 200) return undefined;
  if (headers['content-encoding'] !== undefined) return undefined;
  const type = headerString(headers['content-type'])?.split(';')[0]?.trim().toLowerCase();
  if (type === undefined || !COMPRESSIBLE.has(type)) return undefined;
  const length = Number(headerString(headers['content-length']));
  // CloudFront compresses only when the origin states a length inside its window.
  if (!Number.isInteger(length) || length < MIN_COMPRESS_BYTES || length > MAX_COMPRESS_BYTES)
    return undefined;
  // `no-transform` forbids intermediaries from changing the representation (RFC 9111 §5.2.2.6).
  if (/\bno-transform\b/i.test(headerString(headers['cache-control']) ?? '')) return undefined;
  return encoding.startsWith('br') ? 'br' : 'gzip';
}

/** Headers of the compressed representation. */
export function compressedHeaders(headers: StoredHeaders, coding: EdgeCoding): StoredHeaders {
  const out: StoredHeaders = { ...headers, 'content-encoding': coding };
  delete out['content-length'];
  const etag = headerString(out.etag);
  if (etag !== undefined && !etag.startsWith('W/')) out.etag = `W/${etag}`;
  const vary = headerString(out.vary);
  if (vary === undefined) out.vary = 'Accept-Encoding';
  else if (!/\baccept-encoding\b/i.test(vary)) out.vary = `${vary}, Accept-Encoding`;
  return out;
}

export function compressor(coding: EdgeCoding, size: number): Transform {
  // Quality 5 / level 6: most of the ratio at a fraction of the CPU of the maximum settings.
  return coding === 'br'
    ? createBrotliCompress({
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 5,
          [constants.BROTLI_PARAM_SIZE_HINT]: size,
        },
      })
    : createGzip({ level: 6 });
}
