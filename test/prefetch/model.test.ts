import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';
import { Limiter } from '../../src/prefetch/limiter.js';
import { PrefetchModel } from '../../src/prefetch/model.js';
import { budgetBytes, inWindow, makePlan, modelKey } from '../../src/prefetch/plan.js';

const model = (over: Partial<ConstructorParameters<typeof PrefetchModel>[0]> = {}) =>
  new PrefetchModel({
    maxKeys: 1000,
    maxClients: 100,
    successorsPerKey: 4,
    windowMs: 10_000,
    windowRequests: 8,
    halfLifeMs: 60_000,
    ...over,
  });

describe('prefetch model', () => {
  it('learns what the same client requests next, with confidence', () => {
    const m = model();
    for (let c = 0; c < 10; c++) {
      m.observe('/page', `client${c}`, c * 100_000, 5000);
      m.observe(c < 8 ? '/a.css' : '/b.css', `client${c}`, c * 100_000 + 50, 300);
    }
    const p = m.predict('/page', 0, 1);
    expect(p[0]).toEqual({ key: '/a.css', count: 8, confidence: 0.8 });
    expect(p[1]).toEqual({ key: '/b.css', count: 2, confidence: 0.2 });
    expect(m.predict('/page', 0.5, 1).map((x) => x.key)).toEqual(['/a.css']);
    // Another client's requests, or ones outside the window, are not successors.
    const n = model();
    n.observe('/x', 'one', 0, 1);
    n.observe('/y', 'two', 1, 1);
    n.observe('/z', 'one', 20_000, 1);
    expect(n.predict('/x', 0, 1)).toEqual([]);
  });

  it('decays request rates by the half-life and ranks hot keys', () => {
    const m = model();
    for (let i = 0; i < 4; i++) m.observe('/old', 'c', 0, 10);
    m.observe('/new', 'c', 120_000, 10);
    m.observe('/new', 'c', 120_000, 10);
    // Two half-lives later /old's 4 requests count as 1, less than /new's 2.
    expect(m.rate('/old', 120_000)).toBeCloseTo(1, 5);
    expect(m.hot(120_000, 1)[0]!.key).toBe('/new');
    expect(m.hot(0, 1)[0]!.key).toBe('/old');
  });

  it('accepts records out of order without running decay backwards', () => {
    const m = model();
    m.observe('/k', 'c', 120_000, 10);
    m.observe('/k', 'c', 0, 10); // a late log file
    expect(m.rate('/k', 120_000)).toBeCloseTo(1.25, 5);
  });

  it('stays within its key, client and successor bounds on a long stream', () => {
    const m = model({ maxKeys: 500, maxClients: 50, successorsPerKey: 3 });
    let seed = 3;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    for (let i = 0; i < 50_000; i++)
      m.observe(`/k${Math.floor(rand() * 5000)}`, `c${Math.floor(rand() * 1000)}`, i, 100);
    expect(m.keyCount).toBeLessThanOrEqual(500);
    expect(m.forgotten).toBeGreaterThan(0);
    for (const h of m.hot(50_000, 500)) expect(m.predict(h.key, 0, 1).length).toBeLessThanOrEqual(3);
  });

  it('round-trips through a snapshot and ignores a malformed one', () => {
    const m = model();
    m.observe('/p', 'c', 0, 100, true);
    m.observe('/q', 'c', 10, 50);
    const copy = model();
    expect(copy.restore(JSON.parse(JSON.stringify(m.snapshot())))).toBe(2);
    expect(copy.predict('/p', 0, 1)).toEqual(m.predict('/p', 0, 1));
    expect(copy.hot(10, 5)).toEqual(m.hot(10, 5));
    expect(model().restore({ version: 1, keys: [['x', 'bad', 0, 0, 0, null, []]] } as never)).toBe(0);
    expect(model().restore(undefined)).toBe(0);
  });
});

describe('planner', () => {
  const config = buildConfig({}, undefined).config;

  it('keys by path plus the allowlisted query, sorted as the edge keys it', () => {
    const cls = DEFAULT_CLASSES[0]!; // static_assets: w, h, fit, q, fmt
    expect(modelKey('/img/a.jpg', 'w=640&utm=x&fmt=webp', cls)).toBe('/img/a.jpg?fmt=webp&w=640');
    expect(modelKey('/static/a.js', 'v=1', cls)).toBe('/static/a.js');
  });

  it('expands variants, leaves out signed and personalised classes, and cuts at the budget', () => {
    const m = model();
    m.observe('/static/app.js', 'c', 0, 1000);
    m.observe('/static/app.js', 'c', 1, 1000);
    m.observe('/u/private.pdf', 'c', 2, 1000); // user_content: signed
    m.observe('/api/cart', 'c', 3, 1000); // api_responses: Authorization in the key
    m.observe('/img/cat.jpg', 'c', 4, 2000);
    const all = makePlan(m, config, 5, 1e9);
    expect(all.skipped).toMatchObject({ signed: 1, personalised: 1 });
    // app.js: 4 encodings; cat.jpg: 4 encodings × 3 image Accepts.
    expect(all.tasks).toHaveLength(4 + 12);
    expect(all.tasks.slice(0, 4).every((t) => t.url === '/static/app.js')).toBe(true);
    const cut = makePlan(m, config, 5, 4500);
    expect(cut.tasks).toHaveLength(4);
    expect(cut.plannedBytes).toBe(4000);
    expect(cut.skipped.overBudget).toBe(12);
  });

  it('raises a successor by its predecessors even when its own rate has decayed', () => {
    const build = (latePageViews: number) => {
      const m = model(); // half-life 60 s
      for (let c = 0; c < 4; c++) {
        m.observe('/static/page.html', `early${c}`, c, 100);
        m.observe('/static/next.js', `early${c}`, c + 1, 100);
      }
      for (let c = 0; c < latePageViews; c++) m.observe('/static/page.html', `late${c}`, 600_000 + c, 100);
      return makePlan(m, config, 600_100, 1e9).tasks.find(
        (t) => t.url === '/static/next.js' && t.variant === 'identity',
      )!;
    };
    // next.js followed 4 of 10 page views (0.4 ≥ minConfidence 0.3): it inherits the page's rate.
    const lifted = build(6);
    expect(lifted.reason).toBe('follows');
    expect(lifted.score).toBeGreaterThan(1);
    // 4 of 24 (0.17): only its own, decayed rate.
    const notLifted = build(20);
    expect(notLifted.reason).toBe('hot');
    expect(notLifted.score).toBeLessThan(0.01);
  });

  it('derives the byte budget and the UTC window from config', () => {
    expect(budgetBytes(config)).toBe(
      Math.floor(0.1 * (config.edge.cache.memoryBytes + config.edge.cache.diskBytes)),
    );
    expect(budgetBytes(buildConfig({ prefetch: { budget: { bytes: 1234 } } }, undefined).config)).toBe(1234);
    const night = buildConfig(
      { prefetch: { budget: { window: { start: '23:00', end: '05:00' } } } },
      undefined,
    ).config;
    expect(inWindow(night, new Date('2026-11-28T23:30:00Z'))).toBe(true);
    expect(inWindow(night, new Date('2026-11-28T04:59:00Z'))).toBe(true);
    expect(inWindow(night, new Date('2026-11-28T12:00:00Z'))).toBe(false);
    expect(inWindow(config, new Date())).toBe(true);
    expect(() =>
      buildConfig({ prefetch: { budget: { window: { start: '03:00', end: '03:00' } } } }, undefined),
    ).toThrow(/prefetch\.budget\.window\.end/);
  });
});

describe('limiter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('spaces starts by 1/rps and caps concurrency (fake timers)', async () => {
    vi.useFakeTimers({ now: 0 });
    const lim = new Limiter(2, 10);
    const starts: number[] = [];
    const releases: Array<() => void> = [];
    const jobs = Array.from({ length: 5 }, () =>
      lim.run(() => {
        starts.push(Date.now());
        return new Promise<void>((r) => releases.push(r));
      }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    // Two slots: only two started, 100 ms apart, however long we wait.
    expect(starts).toEqual([0, 100]);
    expect(lim.active).toBe(2);
    releases.shift()!();
    await vi.advanceTimersByTimeAsync(0);
    releases.shift()!();
    await vi.advanceTimersByTimeAsync(500);
    expect(starts.length).toBe(4);
    for (const r of releases.splice(0)) r();
    await vi.advanceTimersByTimeAsync(500);
    for (const r of releases.splice(0)) r();
    await Promise.all(jobs);
    expect(starts).toHaveLength(5);
    expect(lim.peak).toBe(2);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(100);
  });
});
