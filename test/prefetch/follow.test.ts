/**
 * The follower (src/prefetch/follow.ts): the decision the edge makes on a viewer request, which
 * the simulator runs too. Driven here the way the edge drives it: request → tasks → settled.
 */
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import type { EdgewiseConfig } from '../../src/config/schema.js';
import { Follower } from '../../src/prefetch/follow.js';

const configWith = (follow: Record<string, unknown> = {}, backoff: Record<string, unknown> = {}) =>
  buildConfig({ prefetch: { follow: { enabled: true, ...follow }, backoff } }, undefined).config;

const nothingCached = () => false;

/** `views` page views by distinct clients, each followed 50 ms later by the page's assets; all fills land. */
function browse(f: Follower, page: string, assets: string[], views: number, t0 = 0): number {
  let t = t0;
  for (let v = 0; v < views; v++) {
    const client = `10.0.0.${v} ua`;
    for (const task of f.request(page, client, t, 5000, false, nothingCached))
      f.settled(task.key, t + 10, task.estBytes);
    t += 50;
    for (const a of assets) f.request(a, client, t, 1000, false, nothingCached);
    t += 1000;
  }
  return t;
}

describe('Follower', () => {
  it('learns what follows a page online and fills those successors on the next view, strongest first, at most maxPerRequest', () => {
    const f = new Follower(() => configWith({ minCount: 2, maxPerRequest: 3 }));
    const assets = ['/a.css', '/b.js', '/c.js', '/d.png'];
    browse(f, '/p.html', assets, 1);
    // Seen once: minCount 2 not reached.
    expect(f.request('/p.html', 'x', 5000, 5000, true, nothingCached)).toEqual([]);
    browse(f, '/p.html', assets, 1, 6000);
    const tasks = f.request('/p.html', 'y', 9000, 5000, true, nothingCached);
    expect(tasks.map((t) => t.key)).toHaveLength(3);
    for (const t of tasks) {
      expect(assets).toContain(t.key);
      expect(t.estBytes).toBe(1000);
      expect(t.atMs).toBe(9000);
      expect(t.confidence).toBeGreaterThanOrEqual(0.3);
    }
    expect(f.inFlight).toBe(3);
    // In flight: asked again, none of them is handed out twice.
    const again = f.request('/p.html', 'z', 9001, 5000, true, nothingCached);
    expect(again.map((t) => t.key)).toEqual([]);
    expect(f.stats.skipped.held).toBe(3);
    for (const t of tasks) f.settled(t.key, 9100, t.estBytes);
    expect(f.inFlight).toBe(0);
    expect(f.stats.fetched).toBe(3);
    expect(f.stats.fetchedBytes).toBe(3000);
  });

  it('fills nothing the cache holds, nothing of a signed class, nothing over maxObjectBytes, and no more than maxInFlight at once', () => {
    const f = new Follower(() => configWith({ minCount: 1, maxInFlight: 2, maxObjectBytes: 2048 }));
    // /u/* is user_content: signed URLs.
    const client = 'c';
    f.request('/p.html', client, 0, 5000, false, nothingCached);
    f.request('/u/secret.jpg', client, 10, 1000, false, nothingCached);
    f.request('/big.bin', client, 20, 4096, false, nothingCached);
    f.request('/a.js', client, 30, 1000, false, nothingCached);
    f.request('/b.js', client, 40, 1000, false, nothingCached);
    f.request('/c.js', client, 50, 1000, false, nothingCached);
    // The model keeps 4 successors per key: the last one learned took the weakest slot.
    const cachedA = (k: string) => k === '/a.js';
    const tasks = f.request('/p.html', 'other', 10_000, 5000, true, cachedA);
    const keys = tasks.map((t) => t.key);
    expect(keys).not.toContain('/u/secret.jpg');
    expect(keys).not.toContain('/big.bin');
    expect(keys).not.toContain('/a.js');
    expect(keys.length).toBeLessThanOrEqual(2);
    const s = f.stats.skipped;
    expect(s.signed + s.tooLarge + s.held + s.full).toBeGreaterThan(0);

    const g = new Follower(() => configWith({ minCount: 1, maxInFlight: 2 }));
    for (const [i, k] of ['/p.html', '/1.js', '/2.js', '/3.js'].entries())
      g.request(k, client, i * 10, 1000, false, nothingCached);
    expect(g.request('/p.html', 'other', 10_000, 5000, true, nothingCached)).toHaveLength(2);
    expect(g.stats.skipped.full).toBe(1);
    expect(g.inFlight).toBe(2);
  });

  it('counts a viewer that joins a fill in flight, and the fill as used', () => {
    const f = new Follower(() => configWith({ minCount: 1 }));
    f.request('/p.html', 'a', 0, 5000, false, nothingCached);
    f.request('/x.js', 'a', 50, 1000, false, nothingCached);
    const [task] = f.request('/p.html', 'b', 10_000, 5000, true, nothingCached);
    expect(task?.key).toBe('/x.js');
    // The browser asks before the fill landed: a miss that joins it.
    f.request('/x.js', 'b', 10_050, 1000, false, () => true);
    f.settled('/x.js', 10_100, 1000);
    expect(f.stats.joined).toBe(1);
    expect(f.payoff.totals).toMatchObject({ warms: 1, used: 1, wasted: 0 });
  });

  it('fills nothing while wasted fill bytes exceed maxWastedShare of viewer miss bytes, and again once under it', () => {
    // Every fill is evicted before its viewer asks (a tiny cache): each is wasted. The back-off is
    // off (minUsefulShare 0), so only the byte share limits the fills.
    const run = (maxWastedShare: number) => {
      const f = new Follower(() => configWith({ minCount: 1, maxWastedShare }, { minUsefulShare: 0 }));
      f.request('/p.html', 'learner', 0, 5000, false, nothingCached);
      f.request('/a.js', 'learner', 50, 1000, false, nothingCached);
      const filled: boolean[] = [];
      for (let v = 0, t = 10_000; v < 20; v++, t += 1000) {
        const tasks = f.request('/p.html', `c${v}`, t, 5000, false, nothingCached);
        for (const task of tasks) f.settled(task.key, t + 10, task.estBytes);
        filled.push(tasks.length > 0);
        f.request('/a.js', `c${v}`, t + 50, 1000, false, nothingCached);
        // Over the share at most by the one fill that crossed it.
        expect(f.payoff.totals.wastedBytes).toBeLessThanOrEqual(maxWastedShare * f.stats.missBytes + 1000);
      }
      return { f, filled };
    };
    const all = run(1);
    expect(all.f.stats.fetched).toBe(20);
    expect(all.f.payoff.totals.wastedBytes).toBe(20_000);

    // Each view adds 6 kB of miss bytes (page and asset) and a fill 1 kB of waste: 1/6 > 0.1, so
    // about 3 views in 5 are filled: fills stop, and start again as miss bytes grow.
    const { f, filled } = run(0.1);
    expect(f.stats.fetched).toBeGreaterThan(5);
    expect(f.stats.fetched).toBeLessThan(20);
    expect(f.stats.skipped.wastedShare).toBe(20 - f.stats.fetched);
    const firstSkip = filled.indexOf(false);
    expect(firstSkip).toBeGreaterThan(0);
    expect(filled.slice(firstSkip)).toContain(true);
  });

  it('backs off on traffic where nothing predicts what follows, then probes with at most probeWarms fills', () => {
    const run = (minUsefulShare: number) => {
      const config = configWith(
        { minCount: 1, useWindowSeconds: 5, maxWastedShare: 1 },
        { minSamples: 20, minUsefulShare, initialSeconds: 600, probeWarms: 3 },
      );
      const f = new Follower(() => config);
      // Each client requests two random keys 100 ms apart, never again: every pair is learned,
      // and the next request for the first key (by another client) fills the second, which
      // nobody asks for within the use window.
      let s = 1;
      const rand = () => {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        return s / 4294967296;
      };
      let t = 0;
      let filled = 0;
      let filledLate = 0;
      for (let i = 0; i < 20_000; i++) {
        const key = `/o${Math.floor(rand() * 3000)}`;
        for (const task of f.request(key, `c${i >> 1}`, t, 1000, false, nothingCached)) {
          f.settled(task.key, t + 100, task.estBytes);
          filled++;
          if (t > 400_000) filledLate++;
        }
        t += 100;
      }
      return { f, filled, filledLate, cls: f.report(t)[0] };
    };
    // The control: a follower that never backs off keeps filling.
    const never = run(0);
    expect(never.filled).toBeGreaterThan(3000);
    expect(never.f.stats.skipped.backedOff).toBe(0);

    const { f, filled, filledLate, cls } = run(0.2);
    expect(cls?.level).toBeGreaterThan(1);
    expect(f.stats.skipped.backedOff).toBeGreaterThan(3000);
    // minSamples outcomes before the first judgement, then probeWarms per suspension (600 s, doubling).
    expect(filled).toBeGreaterThanOrEqual(20);
    expect(filled).toBeLessThan(60);
    expect(filledLate).toBeGreaterThan(0);
    expect(filledLate).toBeLessThanOrEqual(3 * 3);
    expect(f.payoff.totals.used).toBe(0);
  });

  it('does nothing, not even learn, when prefetch.follow.enabled is false', () => {
    let config: Readonly<EdgewiseConfig> = configWith({ enabled: false, minCount: 1 });
    const f = new Follower(() => config);
    f.request('/p.html', 'a', 0, 5000, false, nothingCached);
    f.request('/x.js', 'a', 50, 1000, false, nothingCached);
    expect(f.request('/p.html', 'b', 1000, 5000, false, nothingCached)).toEqual([]);
    expect(f.model.observed).toBe(0);
    config = configWith({ minCount: 1 });
    f.request('/p.html', 'a', 2000, 5000, false, nothingCached);
    f.request('/x.js', 'a', 2050, 1000, false, nothingCached);
    expect(f.request('/p.html', 'b', 3000, 5000, false, nothingCached).map((x) => x.key)).toEqual(['/x.js']);
  });
});
