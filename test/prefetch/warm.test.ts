/**
 * Warming against real servers: a counting origin (to prove caps and headers where the bytes
 * land) and a real edge in front of it (to prove the warmed variants are the ones viewers hit).
 */
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { PrefetchModel } from '../../src/prefetch/model.js';
import type { WarmTask } from '../../src/prefetch/plan.js';
import { makePlan } from '../../src/prefetch/plan.js';
import { type WarmOptions, warm } from '../../src/prefetch/warm.js';
import {
  type CountingOrigin,
  startCountingOrigin,
  startTestEdge,
  type TestEdge,
  testClass,
} from '../edge/helpers.js';

const UA = 'edgewise-prefetch/test';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function origin(): Promise<CountingOrigin> {
  const o = await startCountingOrigin();
  cleanups.push(() => o.close());
  return o;
}

async function edge(originUrl: string, raw: Record<string, unknown> = {}): Promise<TestEdge> {
  const e = await startTestEdge(originUrl, raw);
  cleanups.push(() => e.close());
  return e;
}

function task(url: string, headers: Record<string, string> = {}, estBytes = 100): WarmTask {
  return { url, key: url, headers, variant: 'test', estBytes, score: 1, reason: 'hot' };
}

function opts(targets: string[], over: Partial<WarmOptions> = {}): WarmOptions {
  return {
    targets: targets.map((url) => ({ url, pinnedIps: [] })),
    userAgent: UA,
    concurrency: 4,
    requestsPerSecond: 1000,
    budgetBytes: 1e9,
    freshCheck: false,
    timeoutMs: 5000,
    ...over,
  };
}

describe('warming', () => {
  it('never has more than the concurrency cap in flight, counted at the origin, across targets', async () => {
    const o = await origin();
    let inFlight = 0;
    let peak = 0;
    for (let i = 0; i < 24; i++) {
      o.route(`/slow/${i}`, async (_req, res) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 15));
        inFlight--;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(100));
      });
    }
    const tasks = Array.from({ length: 24 }, (_, i) => task(`/slow/${i}`));
    // Two targets that are the same origin: the cap is global, not per target.
    const r = await warm(tasks, opts([o.url, `${o.url}/`], { concurrency: 3 }));
    expect(o.count()).toBe(48);
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThanOrEqual(2);
    expect(r.peakInFlight).toBeLessThanOrEqual(3);
    expect(r).toMatchObject({ planned: 48, warmed: 48, failed: 0, bytes: 4800 });
  });

  it('stops at the byte budget per target', async () => {
    const o = await origin();
    for (let i = 0; i < 10; i++)
      o.route(`/b/${i}`, (_q, res) => {
        res.end('y'.repeat(1000));
      });
    const tasks = Array.from({ length: 10 }, (_, i) => task(`/b/${i}`, {}, 1000));
    const r = await warm(tasks, opts([o.url], { budgetBytes: 4500, concurrency: 1 }));
    expect(o.count()).toBe(4);
    expect(r.warmed).toBe(4);
    expect(r.overBudget).toBe(6);
    expect(r.bytes).toBe(4000);
  });

  it('sends exactly the variant headers and its own User-Agent', async () => {
    const o = await origin();
    o.route('/h.js', (_q, res) => {
      res.end('js');
    });
    await warm(
      [task('/h.js', { 'accept-encoding': 'br, gzip' }), task('/h.js?w=640', { accept: 'image/webp,*/*' })],
      opts([o.url]),
    );
    const [a, b] = o.requests;
    expect(a!.headers['accept-encoding']).toBe('br, gzip');
    expect(a!.headers.accept).toBeUndefined();
    expect(b!.url).toBe('/h.js?w=640');
    expect(b!.headers.accept).toBe('image/webp,*/*');
    // undici adds no Accept-Encoding of its own: identity stays identity.
    expect(b!.headers['accept-encoding']).toBeUndefined();
    expect(a!.headers['user-agent']).toBe(UA);
  });

  it('connects to pinned IPs while keeping the target host name in Host', async () => {
    const o = await origin();
    o.route('/p', (_q, res) => {
      res.end('pinned');
    });
    const port = new URL(o.url).port;
    // .invalid never resolves (RFC 6761 §6.4): only the pinned lookup can reach the origin.
    const r = await warm([task('/p')], {
      ...opts([]),
      targets: [{ url: `http://pop.edge.invalid:${port}`, pinnedIps: ['127.0.0.1'] }],
    });
    expect(r.warmed).toBe(1);
    expect(o.requests[0]!.headers.host).toBe(`pop.edge.invalid:${port}`);
  });

  it('counts an unreachable target as failures without throwing', async () => {
    const o = await origin();
    const dead = o.url;
    await o.close();
    cleanups.pop();
    const r = await warm([task('/a'), task('/b')], opts([dead]));
    expect(r.failed).toBe(2);
    expect(r.failures[0]!.reason).toMatch(/ECONNREFUSED/);
  });

  it('warms each Accept-Encoding variant through a real edge so viewers hit, and skips what is fresh on the next pass', async () => {
    const o = await origin();
    o.route('/t/app.js', (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=600' });
      res.end('console.log("hello");'.repeat(50));
    });
    const e = await edge(o.url, { classes: [testClass({ compress: true })] });
    const config = e.store.current;
    const model = new PrefetchModel({
      maxKeys: 100,
      maxClients: 10,
      successorsPerKey: 4,
      windowMs: 1000,
      windowRequests: 4,
      halfLifeMs: 3_600_000,
    });
    model.observe('/t/app.js', 'c', 0, 1100);
    const plan = makePlan(model, config, 0, 1e9);
    expect(plan.tasks.map((t) => t.headers['accept-encoding'])).toEqual([
      'br, gzip',
      'gzip',
      'br',
      undefined,
    ]);

    const first = await warm(plan.tasks, opts([e.url], { freshCheck: true }));
    expect(first).toMatchObject({ warmed: 4, fresh: 0, failed: 0 });
    const fills = o.count('/t/app.js');
    expect(fills).toBeGreaterThanOrEqual(1);
    expect(first.originRequests).toBe(4);

    // Viewers with any spelling of those encodings now hit, and the origin sees nothing new.
    for (const ae of ['gzip, deflate, br, zstd', 'gzip', 'br;q=1', undefined]) {
      const res = await request(`${e.url}/t/app.js`, { headers: ae ? { 'accept-encoding': ae } : {} });
      await res.body.dump();
      expect(res.headers['x-cache']).toMatch(/^Hit/);
    }
    expect(o.count('/t/app.js')).toBe(fills);

    const second = await warm(plan.tasks, opts([e.url], { freshCheck: true }));
    expect(second).toMatchObject({ warmed: 0, fresh: 4, bytes: 0, originRequests: 0 });
    expect(o.count('/t/app.js')).toBe(fills);
  });

  it('warms image Accept variants through a real edge (the origin varies on Accept)', async () => {
    const o = await origin();
    o.route('/t/img/cat.jpg', (req, res) => {
      const accept = req.headers.accept ?? '';
      const type = accept.includes('image/avif')
        ? 'image/avif'
        : accept.includes('image/webp')
          ? 'image/webp'
          : 'image/jpeg';
      res.writeHead(200, { 'content-type': type, vary: 'Accept', 'cache-control': 'max-age=600' });
      res.end(Buffer.alloc(300, type.length));
    });
    const classes = [testClass({ compress: false })];
    const e = await edge(o.url, { classes, prefetch: { variants: { imagePatterns: ['/t/img/*'] } } });
    const config = e.store.current;
    const model = new PrefetchModel({
      maxKeys: 100,
      maxClients: 10,
      successorsPerKey: 4,
      windowMs: 1000,
      windowRequests: 4,
      halfLifeMs: 3_600_000,
    });
    model.observe('/t/img/cat.jpg', 'c', 0, 300);
    const plan = makePlan(model, config, 0, 1e9);
    expect(plan.tasks).toHaveLength(3);
    const r = await warm(plan.tasks, opts([e.url]));
    expect(r.warmed).toBe(3);
    const before = o.count('/t/img/cat.jpg');
    const chrome = config.prefetch.variants.imageAccepts[0]!;
    const res = await request(`${e.url}/t/img/cat.jpg`, { headers: { accept: chrome } });
    await res.body.dump();
    expect(res.headers['x-cache']).toMatch(/^Hit/);
    expect(res.headers['content-type']).toBe('image/avif');
    expect(o.count('/t/img/cat.jpg')).toBe(before);
  });
});
