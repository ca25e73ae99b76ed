/**
 * The edge records what each revalidation found (src/edge/cache-flow.ts → metrics → the
 * revalidation log): a 304 is "unchanged", a 200 with a new ETag "changed", a 200 with the same
 * ETag "unchanged". CloudFront's own log says RefreshHit for the first and Miss for the others.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DirSource, isRevalidationLogName } from '../../src/prefetch/sources.js';
import { type CountingOrigin, startCountingOrigin, startTestEdge, type TestEdge } from '../edge/helpers.js';

let origin: CountingOrigin;
let edge: TestEdge;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  // The test advances the clock 36 s; it starts 5 s into an hour so that the revalidation log
  // cannot roll over into a second hourly file (a fresh-clone CI run once ran it across 18:00).
  const start = new Date();
  start.setUTCMinutes(0, 5, 0);
  vi.setSystemTime(start);
  origin = await startCountingOrigin();
  edge = await startTestEdge(origin.url);
});
afterEach(async () => {
  vi.useRealTimers();
  await origin.close();
});

const advance = (s: number) => vi.setSystemTime(Date.now() + s * 1000);
const get = async (path: string) => {
  const res = await request(`${edge.url}${path}`);
  return { cache: String(res.headers['x-cache']), text: await res.body.text() };
};

describe('revalidation outcomes at the edge', () => {
  it('logs unchanged (304, same ETag) and changed (new ETag) with the stale copy’s age, and counts them', async () => {
    let version = 1;
    let ignoreConditional = false;
    origin.route('/t/obj', (req, res) => {
      const etag = `"v${version}"`;
      if (!ignoreConditional && req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag, 'cache-control': 'max-age=10' });
        res.end();
        return;
      }
      res.writeHead(200, { etag, 'cache-control': 'max-age=10', 'content-type': 'text/plain' });
      res.end(`version ${version}`);
    });
    expect((await get('/t/obj')).cache).toMatch(/^Miss/);
    advance(11);
    expect((await get('/t/obj')).cache).toMatch(/^RefreshHit/);
    advance(12);
    version = 2;
    const changed = await get('/t/obj');
    expect(changed.cache).toMatch(/^Miss/);
    expect(changed.text).toBe('version 2');
    advance(13);
    ignoreConditional = true; // the origin answers 200 with the same ETag
    expect((await get('/t/obj')).cache).toMatch(/^Miss/);

    const counter = await edge.edge.app.metrics.registry.getSingleMetricAsString(
      'edgewise_edge_revalidations_total',
    );
    expect(counter).toContain('edgewise_edge_revalidations_total{class="test_class",outcome="unchanged"} 2');
    expect(counter).toContain('edgewise_edge_revalidations_total{class="test_class",outcome="changed"} 1');

    await edge.edge.shutdown(1000);
    const logs = join(edge.dir, 'logs');
    const names = (await readdir(logs, { recursive: true })) as string[];
    const files = names.filter((n) => n.endsWith('.revalidations.jsonl'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(
      /^edge\/EDGEWISELOCAL\.\d{4}-\d{2}-\d{2}-\d{2}\.[0-9A-F]{12}\.revalidations\.jsonl$/,
    );
    const lines = (await readFile(join(logs, files[0]!), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.outcome, l.status, l.class, l.path])).toEqual([
      ['unchanged', 304, 'test_class', '/t/obj'],
      ['changed', 200, 'test_class', '/t/obj'],
      ['unchanged', 200, 'test_class', '/t/obj'],
    ]);
    expect(lines.map((l) => Math.round(l.age))).toEqual([11, 12, 13]);
    expect(lines[0].ttl).toBe(10);
    expect(typeof lines[0].requestId).toBe('string');

    // The access-log readers (prefetch, ttl suggest) do not take these files for access logs.
    const accessLogs: string[] = [];
    for await (const f of new DirSource(logs, 'edge/').list()) accessLogs.push(f.name);
    expect(accessLogs.length).toBeGreaterThan(0);
    expect(accessLogs.some((n) => n.includes('revalidations'))).toBe(false);
    const recs: string[] = [];
    for await (const f of new DirSource(logs, '', isRevalidationLogName).list()) recs.push(f.name);
    expect(recs).toEqual(files);
    await rm(edge.dir, { recursive: true, force: true });
  });
});
