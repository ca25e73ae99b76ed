/**
 * Every public CloudFront log sample in test/fixtures (see the README there for sources and
 * licences) is accounted for: what it parses to, or why it is rejected.
 */
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { newParseStats, type ParseStats, parseLog } from '../../src/prefetch/parse.js';
import type { AccessRecord } from '../../src/prefetch/record.js';

const DIR = new URL('../fixtures/cloudfront-logs/', import.meta.url);
const REAL = new URL('../fixtures/data/aws-sample-cloudfront-access-logs.gz', import.meta.url);

async function parseFile(url: URL): Promise<{ records: AccessRecord[]; stats: ParseStats }> {
  const buf = await readFile(url);
  const stats = newParseStats();
  const records: AccessRecord[] = [];
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < buf.length; i += 97) yield buf.subarray(i, i + 97);
  }
  for await (const r of parseLog(chunks(), url.pathname, stats)) records.push(r);
  return { records, stats };
}

/** What each sample must give: records read, and the reasons of the ones refused. */
const EXPECTED: Record<string, { records: number; reasons: string[] }> = {
  'aws-docs-example-2019-12.log': { records: 6, reasons: [] },
  'claygregory-web-1-0.txt': { records: 2, reasons: [] },
  'claygregory-web-1-0-2019-12.txt': { records: 3, reasons: [] },
  'claygregory-kinesis-1-0.txt': { records: 1, reasons: [] },
  'claygregory-rtmp-1-0.txt': {
    records: 0,
    reasons: [
      'unusable #Fields header: no cs-method, sc-status',
      ...Array(6).fill('record under an unusable #Fields header'),
    ],
  },
};

describe('public CloudFront log samples', () => {
  it('every sample file is listed here', async () => {
    const files = (await readdir(DIR)).filter((f) => !f.startsWith('LICENSE') && f !== 'README.md');
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, want] of Object.entries(EXPECTED)) {
    it(`${file}: ${want.records} records, ${want.reasons.length} refused`, async () => {
      const { records, stats } = await parseFile(new URL(file, DIR));
      expect(records).toHaveLength(want.records);
      expect(stats.malformed).toBe(want.reasons.length);
      expect(stats.samples.map((s) => s.reason)).toEqual(want.reasons.slice(0, 5));
      expect(stats.fileErrors).toEqual([]);
    });
  }

  it("AWS's documented example: the trailing-tab record reads like its neighbours", async () => {
    const { records } = await parseFile(new URL('aws-docs-example-2019-12.log', DIR));
    expect(records[2]).toEqual({ ...records[0], time: records[2]!.time });
    expect(records[2]).toMatchObject({ path: '/index.html', status: 200, bytes: 78, resultType: 'Hit' });
    expect(records[3]).toMatchObject({
      time: Date.parse('2019-12-13T22:36:27Z'),
      host: 'd111111abcdef8.cloudfront.net',
      hostHeader: 'www.example.com',
      path: '/favicon.ico',
      status: 502,
      bytes: 507,
      resultType: 'Error',
      protocol: 'http',
      userAgent:
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36',
    });
  });

  it('the 2014 24-field example and the real-time record read by their own headers', async () => {
    const web = await parseFile(new URL('claygregory-web-1-0.txt', DIR));
    expect(web.records[1]).toMatchObject({
      time: Date.parse('2014-05-23T01:13:12Z'),
      path: '/soundtrack/happy.mp3',
      query: 'a=b&c=d',
      status: 304,
      bytes: 2390282, // no sc-content-len in a 24-field log: sc-bytes
      resultType: 'Hit',
    });
    const rt = await parseFile(new URL('claygregory-kinesis-1-0.txt', DIR));
    expect(rt.records[0]).toMatchObject({
      time: 1607374321541,
      host: 'test.cloudfront.net',
      path: '/i',
      status: 200,
      bytes: 35,
      contentType: 'image/gif',
      userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:83.0) Gecko/20100101 Firefox/83.0',
    });
    expect(rt.records[0]!.query.startsWith('stm=1607374321563&e=pp&url=http%3A%2F%2Flocalhost')).toBe(true);
  });

  it('the real aws-samples log (26 fields, gzip): 66 records, none refused', async () => {
    const { records, stats } = await parseFile(REAL);
    expect(records).toHaveLength(66);
    expect(stats).toMatchObject({ malformed: 0, fileErrors: [] });
  });
});
