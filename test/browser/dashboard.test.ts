/**
 * The edge's dashboard in headless Chromium after real traffic through a real edge: every chart
 * holds data, each KPI badge has a verdict, and a screenshot lands in test-artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingOrigin, startCountingOrigin, startTestEdge, type TestEdge } from '../edge/helpers.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';

const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
if (!HAVE_CHROMIUM) console.warn(`test/browser/dashboard.test.ts skipped: ${SKIP_REASON}`);
const ARTIFACTS = resolve('test-artifacts');
const KEY = 'dashboard-browser-metrics-key-0123';

let origin: CountingOrigin;
let edge: TestEdge;
let browser: Browser | undefined;

beforeAll(async () => {
  origin = await startCountingOrigin();
  for (let i = 0; i < 40; i++)
    origin.route(`/t/o${i}`, async (_req, res) => {
      // Origin fetches of 5–40 ms, so the latency charts have something to draw.
      await new Promise((r) => setTimeout(r, 5 + (i % 8) * 5));
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end('x'.repeat(2048));
    });
  edge = await startTestEdge(
    origin.url,
    { kpi: { sampleSeconds: 1, refreshSeconds: 1 } },
    { metricsAccess: { apiKeys: [KEY] } },
  );
  if (HAVE_CHROMIUM) browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await edge?.close();
  await origin?.close();
});

async function traffic(round: number): Promise<void> {
  const get = async (path: string, ua?: string) =>
    (await request(`${edge.url}${path}`, { headers: ua ? { 'user-agent': ua } : {} })).body.text();
  // Each round: 8 new objects (misses), then hits on everything so far, and the prefetch worker.
  for (let i = round * 8; i < round * 8 + 8; i++) await get(`/t/o${i}`);
  for (let i = 0; i < round * 8 + 8; i++) await get(`/t/o${i}`);
  for (let i = 0; i < 3; i++) await get(`/t/o${i}`, 'edgewise-prefetch/0.1');
}

describe('edge dashboard in Chromium', () => {
  it('after real traffic every chart holds data and every KPI has a verdict', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const auth = { authorization: `Bearer ${KEY}` };
    // Three rounds of traffic, each in its own sampling interval (waited for, not slept).
    let intervals = 0;
    for (let round = 0; round < 3; round++) {
      await traffic(round);
      for (let i = 0; i < 300; i++) {
        const data = (await (
          await request(`${edge.url}/_edge/dashboard/data`, { headers: auth })
        ).body.json()) as {
          points: Array<{ viewerRequests: number }>;
        };
        const n = data.points.slice(0, -1).filter((p) => p.viewerRequests > 0).length;
        if (n > intervals) {
          intervals = n;
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(intervals).toBeGreaterThanOrEqual(2);

    const context = await browser!.newContext({
      extraHTTPHeaders: auth,
      viewport: { width: 1280, height: 1000 },
    });
    const page = await context.newPage();
    await page.goto(`${edge.url}/_edge/dashboard`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    const points = await page.$$eval('svg[data-chart]', (svgs) =>
      Object.fromEntries(
        svgs.map((s) => [s.getAttribute('data-chart'), Number(s.getAttribute('data-points'))]),
      ),
    );
    for (const chart of [
      'hit-ratio',
      'origin-latency',
      'viewer-p95',
      'heatmap',
      'requests',
      'prefetch',
      'saved',
    ])
      expect(points[chart], `${chart}: ${JSON.stringify(points)}`).toBeGreaterThan(0);
    for (const id of ['b-hit', 'b-origin', 'b-p95'])
      expect(await page.textContent(`#${id}`)).toMatch(/ · (ok|off target|alert)$/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/edge-dashboard.png`, fullPage: true });
    console.log(`dashboard screenshot: ${ARTIFACTS}/edge-dashboard.png (${JSON.stringify(points)})`);
    await context.close();
  }, 120_000);
});
