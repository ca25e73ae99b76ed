/**
 * Streaming parser for CloudFront access logs:
 * - W3C (standard logs legacy and v2, and real-time log records under a `#Fields` line):
 *   `#Version: 1.0`, `#Fields: …` (any order, any subset holding the fields the worker needs;
 *   unknown names are ignored), tab-separated values, URL-encoded, `-` for empty; a record
 *   whose value count differs from the header is read as fields.ts says;
 * - v2 JSON: one JSON object per line with the same field names (plus `timestamp` and
 *   `timestamp(ms)`), values as strings or numbers.
 * Input may be gzip or plain (sniffed from the magic bytes, not the file name). A bad line is
 * counted and sampled, never thrown; a corrupt or truncated gzip stream ends the file with the
 * records read so far and a file-level error in the stats.
 */

import { PassThrough, pipeline, Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { alignValues, defaultLayout, type FieldLayout, readFieldsHeader } from './fields.js';
import { type AccessRecord, CLOUDFRONT_FIELDS } from './record.js';

/** Longest line read; longer ones are malformed (CloudFront caps URLs at 8 KB, headers at 20 KB). */
export const MAX_LINE_BYTES = 64 * 1024;
const MAX_SAMPLES = 5;

export interface ParseStats {
  lines: number;
  records: number;
  malformed: number;
  /** Up to five malformed lines (truncated) with the reason. */
  samples: Array<{ source: string; line: number; reason: string; text: string }>;
  /** Files that ended early (corrupt gzip, read error), with the reason. */
  fileErrors: Array<{ source: string; reason: string }>;
}

export function newParseStats(): ParseStats {
  return { lines: 0, records: 0, malformed: 0, samples: [], fileErrors: [] };
}

/** Decodes once; a malformed %-sequence is kept as it is rather than failing the line. */
export function decodeField(v: string): string {
  if (v === '-') return '';
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v.replace(/%([0-9A-Fa-f]{2})/g, (m, h: string) => {
      const c = Number.parseInt(h, 16);
      return c < 0x80 ? String.fromCharCode(c) : m;
    });
  }
}

/** Yields the bytes of `src`, gunzipped when they start with the gzip magic number. */
async function* autoGunzip(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const rest = (async function* () {
    yield first.value as Buffer;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value as Buffer;
    }
  })();
  const head = first.value as Buffer;
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const out = new PassThrough();
    pipeline(Readable.from(rest), createGunzip(), out, () => {});
    yield* out;
  } else {
    yield* rest;
  }
}

/** Splits bytes into lines, refusing to buffer more than MAX_LINE_BYTES of one line. */
async function* lines(src: AsyncIterable<Buffer>): AsyncGenerator<string | { tooLong: string }> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let skipping = false;
  for await (const chunk of src) {
    let text = carry + decoder.write(chunk);
    carry = '';
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      const line = text.slice(start, nl);
      start = nl + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      yield line.endsWith('\r') ? line.slice(0, -1) : line;
    }
    text = text.slice(start);
    if (text.length > MAX_LINE_BYTES) {
      if (!skipping) yield { tooLong: text.slice(0, 200) };
      skipping = true;
      text = '';
    }
    carry = text;
  }
  carry += decoder.end();
  if (carry.length > 0 && !skipping) yield carry.endsWith('\r') ? carry.slice(0, -1) : carry;
}

type Getter = (name: string) => string;

/** Seconds (or ms) since the epoch with an optional fraction, as real-time logs and v2 write them. */
const EPOCH = /^\d{1,16}(\.\d{1,9})?$/;

function recordTime(get: Getter): number | string {
  const ms = get('timestamp(ms)');
  if (ms !== '') return EPOCH.test(ms) ? Number(ms) : 'bad timestamp(ms)';
  const s = get('timestamp');
  if (s !== '') return EPOCH.test(s) ? Math.round(Number(s) * 1000) : 'bad timestamp';
  return Number.NaN;
}

function buildRecord(get: Getter): AccessRecord | string {
  let time = recordTime(get);
  if (typeof time === 'string') return time;
  if (Number.isNaN(time)) {
    const date = get('date');
    const clock = get('time');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !/^\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(clock))
      return 'bad date/time';
    time = Date.parse(`${date}T${clock}Z`);
  }
  if (!Number.isFinite(time)) return 'bad date/time';
  const statusText = get('sc-status');
  const status = statusText === '' ? 0 : Number(statusText);
  if (!Number.isInteger(status) || status < 0 || status > 999) return 'bad sc-status';
  // The stem never holds the query in a standard log; a real-time log record has been seen
  // with it (`/i?stm=…`). A raw `?` cannot be part of a logged path (CloudFront encodes a
  // viewer's `%3F` as `%253F`), so it splits the two.
  let stem = get('cs-uri-stem');
  let rawQuery = get('cs-uri-query');
  const q = stem.indexOf('?');
  if (q !== -1) {
    if (rawQuery === '') rawQuery = stem.slice(q + 1);
    stem = stem.slice(0, q);
  }
  const path = decodeField(stem);
  const query = decodeField(rawQuery);
  if (!path.startsWith('/')) return 'bad cs-uri-stem';
  const method = get('cs-method');
  if (!/^[A-Z]{1,16}$/.test(method)) return 'bad cs-method';
  const len = get('sc-content-len');
  const scBytes = get('sc-bytes');
  const bytes =
    len !== '' && len !== '-' ? Number(len) : scBytes !== '' && scBytes !== '-' ? Number(scBytes) : 0;
  if (!Number.isFinite(bytes) || bytes < 0) return 'bad byte count';
  return {
    time,
    clientIp: decodeField(get('c-ip')),
    userAgent: decodeField(get('cs(User-Agent)')),
    method,
    host: decodeField(get('cs(Host)')),
    hostHeader: decodeField(get('x-host-header')),
    path,
    query,
    status,
    bytes,
    contentType: decodeField(get('sc-content-type')),
    resultType: decodeField(get('x-edge-result-type')),
    protocol: decodeField(get('cs-protocol')),
  };
}

function jsonRecord(line: string): AccessRecord | string {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return 'invalid JSON';
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return 'JSON line is not an object';
  const o = obj as Record<string, unknown>;
  const get: Getter = (name) => {
    const v = o[name];
    if (v === null || v === undefined) return '';
    if (typeof v === 'string') return v === '-' ? '' : v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return '';
  };
  // v2 JSON values are plain (not URL-encoded) unless the field itself carries encoding;
  // decodeField on an unencoded value is a no-op.
  return buildRecord(get);
}

/**
 * Parses one log file's bytes. `source` names it in stats samples. Never throws for content:
 * malformed lines and a corrupt compressed stream are recorded in `stats`.
 */
export async function* parseLog(
  src: AsyncIterable<Buffer>,
  source: string,
  stats: ParseStats,
): AsyncGenerator<AccessRecord> {
  let fields: FieldLayout = defaultLayout(CLOUDFRONT_FIELDS);
  // After a #Fields line the parser cannot use, records are not read by an older layout.
  let unusable = false;
  let lineNo = 0;
  const bad = (reason: string, text: string) => {
    stats.malformed++;
    if (stats.samples.length < MAX_SAMPLES)
      stats.samples.push({ source, line: lineNo, reason, text: text.slice(0, 200) });
  };
  try {
    for await (const item of lines(autoGunzip(src))) {
      lineNo++;
      stats.lines++;
      if (typeof item !== 'string') {
        bad(`line longer than ${MAX_LINE_BYTES} bytes`, item.tooLong);
        continue;
      }
      // A byte-order mark before the first header is not part of it.
      const line = lineNo === 1 && item.startsWith('\uFEFF') ? item.slice(1) : item;
      if (line.trim() === '') continue;
      if (line.startsWith('#')) {
        if (line.startsWith('#Fields:')) {
          const read = readFieldsHeader(line);
          if (typeof read === 'string') {
            bad(read, line);
            unusable = true;
          } else {
            fields = read;
            unusable = false;
          }
        }
        continue;
      }
      let rec: AccessRecord | string;
      if (line.startsWith('{')) {
        rec = jsonRecord(line);
      } else {
        if (unusable) {
          bad('record under an unusable #Fields header', line);
          continue;
        }
        const cols = alignValues(line.split('\t'), fields);
        if (typeof cols === 'string') {
          bad(cols, line);
          continue;
        }
        const index = fields.index;
        rec = buildRecord((name) => {
          const i = index.get(name);
          const v = i === undefined ? '' : (cols[i] ?? '');
          return v === '-' ? '' : v;
        });
      }
      if (typeof rec === 'string') {
        bad(rec, line);
        continue;
      }
      stats.records++;
      yield rec;
    }
  } catch (err) {
    stats.fileErrors.push({ source, reason: (err as Error).message });
  }
}
