/**
 * Regression (issue 15): the API class dropped the query, so `/api/items?page=2` reached the
 * origin as `/api/items` and every page shared one cache entry. Now a class's query rule
 * (cacheKey.queryStringBehavior: allowlist | all) is one rule read by the local edge's cache key,
 * the built viewer-request function and the plan's cache policy; this test sends the requests
 * through the real edge (which runs the built function) and checks the origin got exactly the
 * parameters the plan's QueryStringsConfig would let CloudFront forward.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CachePolicyQueryStringsConfig as QueryStringsConfig } from '@aws-sdk/client-cloudfront';
import { describe, expect, it } from 'vitest';
import { buildFunctions, writeBuild } from '../../src/cloudfront/build.js';
import { buildPlan } from '../../src/cloudfront/plan.js';
import { buildConfig } from '../../src/config/index.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';
import { useCountingOriginAndEdge } from '../edge/helpers.js';

const { setup: start } = useCountingOriginAndEdge();
const shipped = {
  classes: DEFAULT_CLASSES,
  defaultClass: 'static_assets',
  cloudfront: { allowAllMethods: ['api_responses'] },
};
// The edge runs the viewer-request function built from the same config, as CloudFront would.
const functionsDir = mkdtempSync(join(tmpdir(), 'edgewise-api-query-fns-'));
writeBuild(buildFunctions(buildConfig(shipped, undefined).config), functionsDir);
const setup = (raw: Record<string, unknown>) => start(raw, { functions: { dir: functionsDir } });

/** The parameter names CloudFront forwards under a cache policy's QueryStringsConfig. */
function forwardedNames(cfg: QueryStringsConfig | undefined, names: string[]): string[] {
  if (cfg?.QueryStringBehavior === 'all') return names;
  if (cfg?.QueryStringBehavior === 'whitelist')
    return names.filter((n) => cfg.QueryStrings?.Items?.includes(n));
  return [];
}

const queryOf = (url: string) => (url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
const names = (query: string) => [...new URLSearchParams(query).keys()];

describe('API GETs are keyed on their query string', () => {
  it('each page is its own entry, order does not split the cache, and the plan forwards what the edge forwards', async () => {
    const { origin, edge } = await setup(shipped);
    origin.route('/api/items', (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' });
      res.end(JSON.stringify({ url: req.url }));
    });
    const get = async (q: string) => {
      const res = await fetch(`${edge.url}/api/items${q}`);
      return { body: (await res.json()) as { url: string }, cache: res.headers.get('x-cache') };
    };
    expect((await get('?page=2')).body.url).toBe('/api/items?page=2');
    expect((await get('?page=3')).body.url).toBe('/api/items?page=3');
    expect(origin.count('/api/items')).toBe(2);
    const again = await get('?page=2');
    expect(again.body.url).toBe('/api/items?page=2');
    expect(again.cache).toMatch(/^Hit/);
    expect(origin.count('/api/items')).toBe(2);
    // One order by name (the function sorts), every value of a repeated name kept in order.
    expect((await get('?sort=name&tag=b&page=4&tag=a')).body.url).toBe(
      '/api/items?page=4&sort=name&tag=b&tag=a',
    );
    expect((await get('?tag=b&page=4&sort=name&tag=a')).cache).toMatch(/^Hit/);
    expect(origin.count('/api/items')).toBe(3);

    // The plan's cache policy for the same class forwards the same names.
    const plan = buildPlan(edge.store.current);
    const api = plan.cachePolicies.find((p) => p.className === 'api_responses')!;
    const qs = api.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin?.QueryStringsConfig;
    expect(qs).toEqual({ QueryStringBehavior: 'all' });
    for (const r of origin.requests)
      expect(names(queryOf(r.url))).toEqual(forwardedNames(qs, names(queryOf(r.url))));
  });

  it('a POST reaches the origin with its query, as CloudFront forwards it under QueryStringBehavior all', async () => {
    const { origin, edge } = await setup(shipped);
    origin.route('/api/items', (req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url }));
    });
    const res = await fetch(`${edge.url}/api/items?dry_run=1`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(201);
    expect(origin.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/items?dry_run=1']);
  });

  it('an allowlist class keeps only its names at the edge and in the plan', async () => {
    const { origin, edge } = await setup(shipped);
    origin.route('/static/app.css', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/css', 'cache-control': 'public, max-age=60' });
      res.end(`/* ${req.url} */`);
    });
    await (await fetch(`${edge.url}/static/app.css?v=9&w=320&utm_source=x`)).text();
    const seen = origin.requests.map((r) => queryOf(r.url));
    expect(seen).toEqual(['w=320']);
    const plan = buildPlan(edge.store.current);
    const qs = plan.cachePolicies.find((p) => p.className === 'static_assets')!.CachePolicyConfig
      .ParametersInCacheKeyAndForwardedToOrigin?.QueryStringsConfig;
    expect(forwardedNames(qs, ['v', 'w', 'utm_source'])).toEqual(['w']);
  });

  it('an uncached method on an allowlist class forwards only the names its cache policy forwards', async () => {
    const { origin, edge } = await setup({ ...shipped, cloudfront: { allowAllMethods: ['static_assets'] } });
    origin.route('/static/form', (_req, res) => {
      res.writeHead(204);
      res.end();
    });
    const res = await fetch(`${edge.url}/static/form?w=320&utm_source=x`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(204);
    const head = await fetch(`${edge.url}/static/form?w=640&v=1`, { method: 'HEAD' });
    expect(head.status).toBe(204);
    expect(origin.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /static/form?w=320',
      'HEAD /static/form?w=640',
    ]);
  });
});

it('config: queryStringBehavior all with a queryStrings list is an error naming the path', () => {
  const classes = structuredClone(DEFAULT_CLASSES);
  classes[1]!.cacheKey.queryStrings = ['page'];
  expect(() => buildConfig({ classes }, undefined)).toThrow(
    /classes\[1\]\.cacheKey\.queryStrings.*must be empty with queryStringBehavior all/,
  );
});
