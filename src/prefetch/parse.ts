/**
 * Streaming parser for CloudFront standard access logs:
 * - legacy W3C: `#Version: 1.0`, `#Fields: …` (any order, 19–33 known fields; unknown names
 *   are ignored), tab-separated values, URL-encoded, `-` for empty;
 * - v2 JSON: one JSON object per line with the same field names (plus `timestamp` and
 *   `timestamp(ms)`), values as strings or numbers.
 * Input may be gzip or plain (sniffed from the magic bytes, not the file name). A bad line is
 * counted and sampled, never thrown; a corrupt or truncated gzip stream ends the file with the
 * records read so far and a file-level error in the stats.
 */

import { PassThrough, pipeline, Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { type AccessRecord, CLOUDFRONT_FIELDS, MIN_FIELDS } from './record.js';

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

function buildRecord(get: Getter, timeMs: number | undefined): AccessRecord | string {
  let time = timeMs;
  if (time === undefined) {
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
  const path = decodeField(get('cs-uri-stem'));
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
    query: decodeField(get('cs-uri-query')),
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
  let time: number | undefined;
  const ms = get('timestamp(ms)');
  const s = get('timestamp');
  if (ms !== '') time = Number(ms);
  else if (s !== '') time = Number(s) * 1000;
  // v2 JSON values are plain (not URL-encoded) unless the field itself carries encoding;
  // decodeField on an unencoded value is a no-op.
  return buildRecord(get, time);
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
  let fields: string[] = [...CLOUDFRONT_FIELDS];
  let index = new Map(fields.map((f, i) => [f, i]));
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
      const line = item;
      if (line.trim() === '') continue;
      if (line.startsWith('#')) {
        if (line.startsWith('#Fields:')) {
          const names = line.slice(8).trim().split(/\s+/);
          const known = names.filter((n) => (CLOUDFRONT_FIELDS as readonly string[]).includes(n));
          if (
            names.length < MIN_FIELDS ||
            !known.includes('cs-uri-stem') ||
            new Set(names).size !== names.length
          ) {
            bad('unusable #Fields header', line);
          } else {
            fields = names;
            index = new Map(fields.map((f, i) => [f, i]));
          }
        }
        continue;
      }
      let rec: AccessRecord | string;
      if (line.startsWith('{')) {
        rec = jsonRecord(line);
      } else {
        const cols = line.split('\t');
        if (cols.length !== fields.length) {
          bad(`expected ${fields.length} tab-separated fields, got ${cols.length}`, line);
          continue;
        }
        rec = buildRecord((name) => {
          const i = index.get(name);
          const v = i === undefined ? '' : (cols[i] ?? '');
          return v === '-' ? '' : v;
        }, undefined);
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
