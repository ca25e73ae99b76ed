/**
 * Log directories for `ttl suggest` tests, written by the edge's own writers (real gzipped
 * CloudFront-format access logs and revalidation JSON lines), and an edgewise.yaml with
 * comments to edit.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLine, type LogRecord, type ResultType } from '../../src/access-log/format.js';
import { AccessLogWriter } from '../../src/edge/access-log/writer.js';
import type { RevalidationEvent } from '../../src/edge/metrics.js';
import { RevalidationLogWriter } from '../../src/ttl/revalidations.js';

export const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);

export function logRecord(at: number, path: string, resultType: ResultType, userAgent = 'test'): LogRecord {
  return {
    end: at,
    edgeLocation: 'LCL1-P1',
    scBytes: 100,
    clientIp: '127.0.0.1',
    method: 'GET',
    host: 'localhost',
    hostHeader: 'localhost',
    path,
    status: 200,
    referer: undefined,
    userAgent,
    query: '',
    cookie: undefined,
    resultType,
    requestId: 'r',
    protocol: 'http',
    csBytes: 50,
    timeTaken: 0.001,
    forwardedFor: undefined,
    sslProtocol: undefined,
    sslCipher: undefined,
    responseResultType: resultType,
    protocolVersion: 'HTTP/1.1',
    clientPort: 1234,
    timeToFirstByte: 0.001,
    detailedResultType: resultType,
    contentType: 'text/plain',
    contentLength: 10,
    rangeStart: undefined,
    rangeEnd: undefined,
  };
}

export function reval(
  at: number,
  path: string,
  cls: string,
  age: number,
  changed: boolean,
): RevalidationEvent {
  return {
    at,
    path,
    query: '',
    cls,
    outcome: changed ? 'changed' : 'unchanged',
    status: changed ? 200 : 304,
    age,
    ttl: 0,
    requestId: 'r',
  };
}

export async function writeLogs(
  dir: string,
  records: LogRecord[],
  revalidations: RevalidationEvent[],
): Promise<void> {
  const opts = { dir, prefix: 'edge/', distributionId: 'TEST', flushIntervalMs: 60_000, rotateSeconds: 3600 };
  const logs = new AccessLogWriter(opts);
  for (const r of records) logs.write(r.end, formatLine(r));
  await logs.close();
  if (revalidations.length === 0) return;
  const rv = new RevalidationLogWriter(opts);
  for (const e of revalidations) rv.write(e);
  await rv.close();
}

export const CONFIG = `# TTL tuning test config
classes:
  # News pages change often
  - name: news
    pathPatterns: ['/news/*']
    ttl:
      min: 0
      default: 600 # ten minutes, too long?
      max: 86400
    browserTtl: 0
  - name: assets
    pathPatterns: ['/assets/*']
    ttl: { min: 0, default: 1m, max: 86400 } # flow style, duration syntax
    browserTtl: 0
  - name: rare
    pathPatterns: ['/rare/*']
    ttl: { min: 0, default: 120, max: 3600 }
    browserTtl: 0
defaultClass: news
`;

/**
 * The standard scenario:
 * - news: 40 revalidations at 600 s, 20 changed → λ = ln 2 / 600, bound at 10 %:
 *   −ln(0.9) · 600 / ln 2 = 91.2 s → 91;
 * - assets: 30 revalidations, none changed, the longest 300 s → 300 (up from 60);
 * - rare: 3 revalidations → too little evidence.
 * Requests: every 30 s for 4 h on 3 objects per class.
 */
export async function scenario(): Promise<{ root: string; logs: string; config: string }> {
  const root = await mkdtemp(join(tmpdir(), 'edgewise-ttl-'));
  const logs = join(root, 'logs');
  const records: LogRecord[] = [];
  for (const cls of ['news', 'assets', 'rare'])
    for (let o = 0; o < 3; o++)
      for (let t = 0; t < 4 * 3600; t += 30)
        records.push(logRecord(T0 + t * 1000 + o, `/${cls}/o${o}.html`, t === 0 ? 'Miss' : 'Hit'));
  // The prefetch worker's own requests are not viewer traffic.
  records.push(logRecord(T0 + 5, '/news/o0.html', 'Hit', 'edgewise-prefetch/0.1'));
  records.sort((a, b) => a.end - b.end);
  const rv: RevalidationEvent[] = [];
  for (let i = 0; i < 40; i++)
    rv.push(reval(T0 + (i + 1) * 60_000, '/news/o1.html', 'news', 600, i % 2 === 0));
  for (let i = 0; i < 30; i++)
    rv.push(reval(T0 + (i + 1) * 60_000, '/assets/o1.html', 'assets', 60 + (i % 5) * 60, false));
  for (let i = 0; i < 3; i++) rv.push(reval(T0 + (i + 1) * 60_000, '/rare/o1.html', 'rare', 120, i === 0));
  rv.sort((a, b) => a.at - b.at);
  await writeLogs(logs, records, rv);
  const config = join(root, 'edgewise.yaml');
  await writeFile(config, CONFIG);
  return { root, logs, config };
}
