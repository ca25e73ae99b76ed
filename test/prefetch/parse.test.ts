import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeField,
  MAX_LINE_BYTES,
  newParseStats,
  type ParseStats,
  parseLog,
} from '../../src/prefetch/parse.js';
import { type AccessRecord, CLOUDFRONT_FIELDS } from '../../src/prefetch/record.js';
import { HEADER, line33 } from './log-fixtures.js';

const SAMPLE = new URL('../fixtures/data/aws-sample-cloudfront-access-logs.gz', import.meta.url);

/** Feeds `buf` in chunks of `chunk` bytes, so line and gzip boundaries fall mid-chunk. */
async function* chunks(buf: Buffer, chunk = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
}

async function parse(buf: Buffer, chunk = 7): Promise<{ records: AccessRecord[]; stats: ParseStats }> {
  const stats = newParseStats();
  const records: AccessRecord[] = [];
  for await (const r of parseLog(chunks(buf, chunk), 'test', stats)) records.push(r);
  return { records, stats };
}

describe('CloudFront log parser', () => {
  it('reads the real sample log (gzip, 26 fields): 66 records, nothing malformed', async () => {
    const buf = await readFile(SAMPLE);
    const { records, stats } = await parse(buf, 512);
    expect(records).toHaveLength(66);
    expect(stats).toMatchObject({ records: 66, malformed: 0, fileErrors: [] });
    const first = records[0]!;
    expect(first).toMatchObject({
      time: Date.parse('2018-11-07T00:12:08Z'),
      clientIp: '3.120.138.129',
      method: 'GET',
      host: 'd345qc258n54ge.cloudfront.net',
      path: '/notavailable.json',
      query: '',
      status: 302,
      bytes: 376,
      resultType: 'LambdaGeneratedResponse',
      protocol: 'https',
    });
    // User-Agent is double-encoded by CloudFront; one decode leaves the inner encoding.
    expect(first.userAgent).toBe(
      'Mozilla/5.0%20(compatible;%20bingbot/2.0;%20+http://www.bing.com/bingbot.htm)',
    );
    // The same bytes uncompressed parse the same.
    const { gunzipSync } = await import('node:zlib');
    const plain = await parse(gunzipSync(buf), 300);
    expect(plain.records).toEqual(records);
  });

  it('reads 33 fields in any #Fields order, decoding values once and mapping - to empty', async () => {
    const order = [...CLOUDFRONT_FIELDS].reverse();
    const normal = line33({
      'cs-uri-stem': '/img/caf%C3%A9%20cup.jpg',
      'cs-uri-query': 'w=640&fmt=webp',
    }).split('\t');
    const byName = new Map(CLOUDFRONT_FIELDS.map((f, i) => [f, normal[i]!]));
    const reordered = `#Version: 1.0\n#Fields: ${order.join(' ')}\n${order.map((f) => byName.get(f)).join('\t')}\n`;
    const { records, stats } = await parse(Buffer.from(reordered));
    expect(stats.malformed).toBe(0);
    expect(records[0]).toMatchObject({
      path: '/img/café cup.jpg',
      query: 'w=640&fmt=webp',
      bytes: 1000, // sc-content-len wins over sc-bytes
      hostHeader: 'shop.example',
      userAgent: 'Mozilla/5.0 (X11)',
      contentType: 'text/javascript',
      resultType: 'Miss',
    });
  });

  it("accepts CloudFront's original 12-field header and refuses one without the fields the worker needs", async () => {
    const f12 = CLOUDFRONT_FIELDS.slice(0, 12);
    const v12 = line33().split('\t').slice(0, 12).join('\t');
    const ok = await parse(Buffer.from(`#Fields: ${f12.join(' ')}\n${v12}\n`));
    expect(ok.records).toHaveLength(1);
    expect(ok.records[0]!.bytes).toBe(1200); // no sc-content-len: sc-bytes
    const noStatus = CLOUDFRONT_FIELDS.filter((f) => f !== 'sc-status');
    const bad = await parse(Buffer.from(`#Fields: ${noStatus.join(' ')}\n${line33()}\n`));
    expect(bad.stats.samples.map((s) => s.reason)).toEqual([
      'unusable #Fields header: no sc-status',
      'record under an unusable #Fields header',
    ]);
    expect(bad.records).toHaveLength(0);
    const twice = await parse(Buffer.from(`#Fields: date time date cs-method cs-uri-stem sc-status\n`));
    expect(twice.stats.samples[0]!.reason).toBe('unusable #Fields header: a field is named twice');
  });

  it('reads a record whose value count differs from #Fields where unambiguous, and says why otherwise', async () => {
    const input = [
      HEADER.trimEnd(),
      `${line33({ 'cs-uri-stem': '/trailing-tab' })}\t`, // 34 values, the extra one empty
      `${line33({ 'cs-uri-stem': '/two-tabs' })}\t\t`,
      line33({ 'cs-uri-stem': '/older-layout' }).split('\t').slice(0, 24).join('\t'), // 24 of 33
      `${line33({ 'cs-uri-stem': '/extra' })}\tsurprise`,
      line33().split('\t').slice(0, 8).join('\t'), // ends before sc-status
      line33({ 'cs-uri-stem': '/short-last' }).split('\t').slice(0, 31).join('\t'), // no final newline
    ].join('\n');
    const { records, stats } = await parse(Buffer.from(input), 11);
    expect(records.map((r) => r.path)).toEqual([
      '/trailing-tab',
      '/two-tabs',
      '/older-layout',
      '/short-last',
    ]);
    // A short record reads its absent trailing fields as empty: sc-content-len gone, sc-bytes used.
    expect(records[2]).toMatchObject({ bytes: 1200, contentType: '', resultType: 'Miss' });
    expect(records[3]).toMatchObject({ bytes: 1000, contentType: 'text/javascript' });
    expect(stats.samples.map((s) => s.reason)).toEqual([
      '34 tab-separated values for 33 #Fields names, and the extra values are not empty',
      '8 tab-separated values for 33 #Fields names: the record ends before sc-status',
    ]);
  });

  it('reads v2 JSON lines (timestamp(ms), numbers, nulls)', async () => {
    const lines = [
      JSON.stringify({
        'timestamp(ms)': 1764302706123,
        'c-ip': '198.51.100.7',
        'cs-method': 'GET',
        'cs-uri-stem': '/a.css',
        'sc-status': 200,
        'sc-bytes': 500,
        'cs(User-Agent)': 'curl/8',
        'x-edge-result-type': 'Hit',
        'cs-uri-query': null,
      }),
      JSON.stringify({
        timestamp: '1764302707',
        'cs-method': 'GET',
        'cs-uri-stem': '/b.css',
        'sc-status': '304',
        'sc-content-len': '-',
        'sc-bytes': '90',
      }),
      JSON.stringify({
        date: '2026-11-28',
        time: '04:05:08',
        'cs-method': 'GET',
        'cs-uri-stem': '/c.css',
        'sc-status': 200,
      }),
    ];
    const { records, stats } = await parse(Buffer.from(`${lines.join('\n')}\n`));
    expect(stats.malformed).toBe(0);
    expect(records.map((r) => [r.path, r.time, r.bytes, r.status])).toEqual([
      ['/a.css', 1764302706123, 500, 200],
      ['/b.css', 1764302707000, 90, 304],
      ['/c.css', Date.parse('2026-11-28T04:05:08Z'), 0, 200],
    ]);
    expect(records[0]!.query).toBe('');
    expect(records[0]!.resultType).toBe('Hit');
  });

  it('counts and samples malformed lines without stopping, CRLF and blank lines included', async () => {
    const input = [
      HEADER.trimEnd(),
      line33(),
      'garbage without tabs',
      line33({ date: '2026-13-99x' }),
      line33({ 'sc-status': 'abc' }),
      line33({ 'cs-uri-stem': 'no-slash' }),
      line33({ 'cs-method': 'get me' }),
      line33({ 'sc-content-len': '-5' }),
      '{"not json',
      '[1,2]',
      '',
      `${line33({ 'cs-uri-stem': '/ok%ZZ%41' })}\r`,
      line33({ 'cs-uri-stem': '/last' }),
    ].join('\n');
    const { records, stats } = await parse(Buffer.from(input), 5);
    expect(records.map((r) => r.path)).toEqual(['/static/app.js', '/ok%ZZA', '/last']);
    expect(stats.malformed).toBe(8);
    expect(stats.samples).toHaveLength(5);
    expect(stats.samples.map((s) => s.reason)).toEqual([
      '1 tab-separated values for 33 #Fields names: the record ends before time',
      'bad date/time',
      'bad sc-status',
      'bad cs-uri-stem',
      'bad cs-method',
    ]);
    expect(stats.samples[0]!.line).toBe(4);
  });

  it('skips a line longer than the cap without buffering it, and goes on', async () => {
    const long = 'x'.repeat(MAX_LINE_BYTES * 3);
    const { records, stats } = await parse(Buffer.from(`${HEADER}${long}\n${line33()}\n`), 4096);
    expect(records).toHaveLength(1);
    expect(stats.malformed).toBe(1);
    expect(stats.samples[0]!.reason).toMatch(/longer than/);
  });

  it('keeps the records before a truncated gzip stream and reports the file', async () => {
    const body = `${HEADER}${Array.from({ length: 200 }, (_, i) => line33({ 'cs-uri-stem': `/p${i}` })).join('\n')}\n`;
    const gz = gzipSync(body);
    const { records, stats } = await parse(gz.subarray(0, Math.floor(gz.length * 0.6)), 64);
    expect(records.length).toBeGreaterThan(0);
    expect(records.length).toBeLessThan(200);
    expect(stats.fileErrors).toHaveLength(1);
    expect(stats.fileErrors[0]!.reason).toMatch(/unexpected end of file/);
  });

  it('never throws on random bytes, gzip-looking or not', async () => {
    let seed = 7;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let round = 0; round < 30; round++) {
      const buf = Buffer.from(Array.from({ length: 2000 }, () => rand()));
      if (round % 3 === 0) {
        buf[0] = 0x1f;
        buf[1] = 0x8b;
      }
      if (round % 3 === 1) buf.write(HEADER, 0);
      const { stats } = await parse(buf, 97);
      expect(stats.records + stats.malformed + stats.fileErrors.length).toBeGreaterThanOrEqual(0);
    }
    const empty = await parse(Buffer.alloc(0));
    expect(empty.records).toEqual([]);
  });

  it('decodes a field once and keeps a bad escape', () => {
    expect(decodeField('%EF%BB%BF')).toBe('\uFEFF');
    expect(decodeField('-')).toBe('');
    expect(decodeField('a%2520b')).toBe('a%20b');
    expect(decodeField('100%')).toBe('100%');
    expect(decodeField('%E2%82')).toBe('%E2%82');
  });
});
