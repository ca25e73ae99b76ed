/**
 * The worker backs off a class whose warms no viewer used, keeps the back-off across a restart,
 * probes when the suspension ends and warms in full again once the probe's warms are used; the
 * wasted-bytes budget caps the bytes of unproven warms over its window. Real log files, a real
 * edge and a counting origin.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirSource } from '../../src/prefetch/sources.js';
import { PrefetchWorker } from '../../src/prefetch/worker.js';
import { startCountingOrigin, startTestEdge, testClass } from '../edge/helpers.js';
import { gzLog, line33, when } from './log-fixtures.js';

const T0 = Date.parse('2026-11-28T12:00:00Z');
const MIN = 60_000;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(prefetch: Record<string, unknown>, objectBytes = 1000) {
  const origin = await startCountingOrigin();
  cleanups.push(() => origin.close());
  const bodies = new Map<string, number>();
  const route = (p: string) => {
    if (bodies.has(p)) return;
    bodies.set(p, objectBytes);
    origin.route(p, (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' });
      res.end('x'.repeat(objectBytes));
    });
  };
  const e = await startTestEdge(origin.url, { classes: [testClass({ compress: false })], prefetch });
  cleanups.push(() => e.close());
  const root = await mkdtemp(join(tmpdir(), 'edgewise-backoff-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'edge'), { recursive: true });
  let files = 0;
  /** A delivered log file: viewer requests for `paths` at `at`, each `times` times, as Miss or Hit. */
  const log = async (at: number, paths: string[], result: 'Miss' | 'Hit', times = 1) => {
    const lines: string[] = [];
    for (const p of paths) {
      route(p);
      for (let k = 0; k < times; k++)
        lines.push(
          line33({
            ...when(at + k * 1000),
            'c-ip': `198.51.100.${(lines.length % 200) + 1}`,
            'cs-uri-stem': p,
            'sc-content-len': String(objectBytes),
            'x-edge-result-type': result,
          }),
        );
    }
    const iso = new Date(at).toISOString();
    files++;
    await writeFile(
      join(root, `edge/EDGEWISELOCAL.${iso.slice(0, 10)}-${iso.slice(11, 13)}.f${files}.gz`),
      gzLog(lines),
    );
  };
  const stateFile = join(root, 'state.json');
  let now = T0;
  const worker = () =>
    new PrefetchWorker({
      config: () => e.store.current,
      source: new DirSource(root, 'edge/'),
      stateFile,
      targets: [{ url: e.url, pinnedIps: [] }],
      now: () => now,
    });
  return {
    origin,
    log,
    worker,
    stateFile,
    at: (t: number) => {
      now = t;
    },
  };
}

const keys = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `/t/${prefix}${i}.js`);
const distinct = (r: { plan: { tasks: Array<{ key: string }> } }) =>
  new Set(r.plan.tasks.map((t) => t.key)).size;

describe('prefetch back-off', () => {
  it('backs off a class whose warms go unused, keeps it across a restart, probes, and recovers when used', async () => {
    const s = await setup({
      backoff: {
        minSamples: 4,
        minUsefulShare: 0.5,
        useWindowSeconds: 60,
        initialSeconds: 600,
        probeWarms: 2,
      },
    });
    // Pass 1: six hot keys, all warmed.
    await s.log(T0 - 10 * MIN, keys('a', 6), 'Miss');
    s.at(T0);
    let w = s.worker();
    const first = await w.pass();
    expect(first.warm).toMatchObject({ warmed: 6, failed: 0 });
    expect(first.payoff).toEqual([]);

    // Pass 2: the logs show other keys only, past the warms' 60 s use window: six wasted.
    // The class is suspended: nothing is warmed although new hot keys are there.
    await s.log(T0 + 2 * MIN, keys('b', 6), 'Miss');
    s.at(T0 + 5 * MIN);
    const second = await w.pass();
    expect(second.plan.tasks).toHaveLength(0);
    expect(second.plan.skipped.backedOff).toBeGreaterThanOrEqual(6);
    expect(second.warm?.warmed).toBe(0);
    expect(second.payoff).toEqual([
      expect.objectContaining({ cls: 'test_class', state: 'suspended', level: 1 }),
    ]);
    expect(w.payoff.totals).toMatchObject({ warms: 6, wasted: 6, used: 0 });

    // A restart inside the suspension: still backed off (the state file kept it).
    const saved = JSON.parse(await readFile(s.stateFile, 'utf8'));
    expect(saved.payoff.classes[0][1].level).toBe(1);
    w = s.worker();
    await s.log(T0 + 6 * MIN, keys('c', 4), 'Miss', 3);
    s.at(T0 + 7 * MIN);
    const restarted = await w.pass();
    expect(restarted.plan.tasks).toHaveLength(0);
    expect(restarted.warm?.warmed).toBe(0);

    // Suspension over (T0 + 10 min): a probe of two keys.
    s.at(T0 + 11 * MIN);
    const probe = await w.pass();
    expect(distinct(probe)).toBe(2);
    expect(probe.warm?.warmed).toBe(2);
    const probed = probe.plan.tasks.map((t) => t.key);
    // While the probe is out, nothing more.
    s.at(T0 + 12 * MIN);
    expect((await w.pass()).plan.tasks).toHaveLength(0);

    // Viewers hit both probed keys: the class is warmed in full again.
    await s.log(T0 + 12 * MIN, probed, 'Hit');
    await s.log(T0 + 12 * MIN + 30_000, keys('d', 6), 'Miss', 2);
    s.at(T0 + 14 * MIN);
    const recovered = await w.pass();
    expect(recovered.payoff).toEqual([
      expect.objectContaining({ cls: 'test_class', state: 'full', level: 0 }),
    ]);
    expect(recovered.plan.skipped.backedOff).toBe(0);
    expect(recovered.warm?.warmed).toBeGreaterThanOrEqual(6);
  });

  it('a failed probe doubles the suspension', async () => {
    const s = await setup({
      backoff: {
        minSamples: 2,
        minUsefulShare: 0.5,
        useWindowSeconds: 60,
        initialSeconds: 600,
        probeWarms: 1,
      },
    });
    await s.log(T0 - 10 * MIN, keys('a', 3), 'Miss');
    s.at(T0);
    const w = s.worker();
    expect((await w.pass()).warm?.warmed).toBe(3);
    await s.log(T0 + 2 * MIN, keys('b', 3), 'Miss');
    s.at(T0 + 3 * MIN);
    expect((await w.pass()).payoff[0]).toMatchObject({ level: 1, until: T0 + 10 * MIN });
    s.at(T0 + 11 * MIN);
    expect(distinct(await w.pass())).toBe(1);
    // Nobody asks for the probed key; a later record moves the clock past its window.
    await s.log(T0 + 13 * MIN, keys('c', 2), 'Miss');
    s.at(T0 + 14 * MIN);
    const after = await w.pass();
    expect(after.plan.tasks).toHaveLength(0);
    // Suspended again, twice as long, from when the failure showed (the newest record read).
    expect(after.payoff[0]).toMatchObject({ state: 'suspended', level: 2, until: T0 + 13 * MIN + 20 * MIN });
  });

  it('budget.wastedBytes caps the bytes of unproven warms over its window', async () => {
    const s = await setup({ budget: { wastedBytes: 12_000, wastedWindowSeconds: 3600 } }, 5000);
    await s.log(T0 - 10 * MIN, keys('a', 6), 'Miss');
    s.at(T0);
    const w = s.worker();
    const first = await w.pass();
    // 12 000 bytes: two 5000-byte objects, not six.
    expect(first.budgetBytes).toBe(12_000);
    expect(first.warm).toMatchObject({ warmed: 2, bytes: 10_000 });
    // Unused, new hot keys: the window holds 10 000 unproven bytes, so 2000 are left.
    await s.log(T0 + 2 * MIN, keys('b', 6), 'Miss');
    s.at(T0 + 5 * MIN);
    const second = await w.pass();
    expect(second.budgetBytes).toBe(2000);
    expect(second.warm?.warmed ?? 0).toBe(0);
    // An hour after the first warms, they leave the window.
    await s.log(T0 + 58 * MIN, keys('c', 6), 'Miss');
    s.at(T0 + 61 * MIN);
    const third = await w.pass();
    expect(third.budgetBytes).toBe(12_000);
    expect(third.warm).toMatchObject({ warmed: 2, bytes: 10_000 });
    // The origin saw the viewer-free warms only: 4 objects over 61 minutes, never more than 12 000 bytes an hour.
    const warmGets = s.origin.requests.filter((r) => r.method === 'GET');
    expect(warmGets).toHaveLength(4);
  });
});
