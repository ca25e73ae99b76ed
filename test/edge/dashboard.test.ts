/**
 * The dashboard's arithmetic (src/edge/dashboard/series.ts) against hand-computed values, and
 * its data endpoint behind the metrics guard on a real edge after real traffic.
 */
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { histogramQuantile, parseExposition, pointBetween } from '../../src/edge/dashboard/series.js';
import { type CountingOrigin, startCountingOrigin, startTestEdge, type TestEdge } from './helpers.js';

describe('dashboard arithmetic', () => {
  it('histogramQuantile interpolates inside the bucket as PromQL does', () => {
    const b = [
      { le: 0.1, count: 50 },
      { le: 0.2, count: 90 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.1, 10);
    // rank 70: 20 of the 40 in (0.1, 0.2]
    expect(histogramQuantile(0.7, b)).toBeCloseTo(0.15, 10);
    // rank 95 is in +Inf: its lower edge
    expect(histogramQuantile(0.95, b)).toBe(0.2);
    expect(histogramQuantile(0.5, [{ le: 1, count: 0 }])).toBeUndefined();
  });

  it('a point is the interval between two samples: viewer hit ratio, rates, quantiles, heat', () => {
    const at = (t: number, hits: number, misses: number, prefetch: number, fast: number, slow: number) =>
      parseExposition(
        [
          '# TYPE edgewise_edge_requests_total counter',
          `edgewise_edge_requests_total{result="Hit",class="c",traffic="viewer"} ${hits}`,
          `edgewise_edge_requests_total{result="Miss",class="c",traffic="viewer"} ${misses}`,
          `edgewise_edge_requests_total{result="Miss",class="c",traffic="prefetch"} ${prefetch}`,
          `edgewise_edge_requests_total{result="Miss",class="-",traffic="operator"} ${t}`,
          `edgewise_edge_response_bytes_total{result="Hit",class="c",traffic="viewer"} ${hits * 100}`,
          `edgewise_edge_request_duration_seconds_bucket{le="0.05",class="c",result="Hit",status_class="2xx",traffic="viewer"} ${fast}`,
          `edgewise_edge_request_duration_seconds_bucket{le="0.5",class="c",result="Hit",status_class="2xx",traffic="viewer"} ${fast + slow}`,
          `edgewise_edge_request_duration_seconds_bucket{le="+Inf",class="c",result="Hit",status_class="2xx",traffic="viewer"} ${fast + slow}`,
          `edgewise_edge_origin_duration_seconds_bucket{le="0.05",kind="fill",class="c",outcome="response"} ${misses}`,
          `edgewise_edge_origin_duration_seconds_bucket{le="+Inf",kind="fill",class="c",outcome="response"} ${misses}`,
        ].join('\n'),
        t * 1000,
      );
    const p = pointBetween(at(10, 10, 10, 0, 10, 0), at(20, 40, 20, 30, 30, 10));
    expect(p.seconds).toBe(10);
    expect(p.viewerRequests).toBe(40);
    expect(p.hitRatio).toBe(0.75);
    expect(p.prefetchPerSecond).toBe(3);
    expect(p.byClassResult).toEqual({ 'c Hit': 3, 'c Miss': 1 });
    expect(p.savedBytesPerSecond).toBe(300);
    expect(p.heat).toEqual({ '0.05': 20, '0.5': 10, '+Inf': 0 });
    // 30 in the interval, rank 28.5: 8.5 of the 10 in (0.05, 0.5] → 0.05 + 0.45 × 0.85
    expect(p.viewerP95Ms).toBeCloseTo((0.05 + 0.45 * 0.85) * 1000, 6);
    expect(p.originP50Ms).toBeCloseTo(25, 6);
  });
});

const KEY = 'dashboard-test-metrics-key-0123';
let origin: CountingOrigin | undefined;
let edge: TestEdge | undefined;
afterEach(async () => {
  await edge?.close();
  await origin?.close();
});

describe('dashboard data endpoint', () => {
  it('is guarded like the metrics and reports the intervals it sampled', async () => {
    origin = await startCountingOrigin();
    origin.route('/t/a', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      res.end('a'.repeat(100));
    });
    edge = await startTestEdge(
      origin.url,
      { kpi: { sampleSeconds: 1 } },
      { metricsAccess: { apiKeys: [KEY] } },
    );
    const auth = { authorization: `Bearer ${KEY}` };
    for (const path of ['/_edge/dashboard', '/_edge/dashboard/data'])
      expect((await request(`${edge.url}${path}`)).statusCode).toBe(401);
    for (let i = 0; i < 4; i++) await (await request(`${edge.url}/t/a`)).body.text();
    // Wait (bounded) for a sample taken after the traffic: the point from it to now is empty.
    type Data = {
      kpi: { hitRatio: { target: number } };
      points: Array<{ viewerRequests: number; hitRatio?: number }>;
    };
    let data: Data | undefined;
    for (let i = 0; i < 300; i++) {
      const res = await request(`${edge.url}/_edge/dashboard/data`, { headers: auth });
      data = (await res.body.json()) as Data;
      if (data.points.reduce((n, p) => n + p.viewerRequests, 0) >= 4) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(data!.kpi.hitRatio.target).toBe(0.9);
    const viewer = data!.points.filter((p) => p.viewerRequests > 0);
    expect(viewer.reduce((n, p) => n + p.viewerRequests, 0)).toBe(4);
    // Scrapes of the data endpoint are operator traffic, not viewer misses.
    expect(viewer.every((p) => p.hitRatio !== undefined)).toBe(true);
    const page = await request(`${edge.url}/_edge/dashboard`, { headers: auth });
    expect(page.headers['content-type']).toContain('text/html');
    expect(await page.body.text()).toContain('data-chart="hit-ratio"');
  });
});
