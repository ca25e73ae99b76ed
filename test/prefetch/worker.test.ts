/**
 * The worker end to end over real files and real storage drivers: incremental reading with a
 * state file, late and out-of-order files, its own requests ignored, and warming a real edge.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import type { EdgewiseConfig } from '../../src/config/schema.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';
import { DirSource, StorageSource } from '../../src/prefetch/sources.js';
import { PrefetchWorker } from '../../src/prefetch/worker.js';
import { FsDriver } from '../../src/storage/fs.js';
import { S3Driver } from '../../src/storage/s3.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { startCountingOrigin, startTestEdge, testClass } from '../edge/helpers.js';
import { startS3rver, TEST_CREDENTIALS } from '../helpers/s3rver.js';
import { gzLog, line33, when } from './log-fixtures.js';

const NOW = Date.parse('2026-11-28T12:30:00Z');
const HOUR = 3_600_000;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'edgewise-prefetch-'));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

function fileName(hourMs: number, unique: string): string {
  const iso = new Date(hourMs).toISOString();
  return `edge/EDGEWISELOCAL.${iso.slice(0, 10)}-${iso.slice(11, 13)}.${unique}.gz`;
}

/** Lines for `views` page views at `at`: page, then its two assets, by distinct clients. */
function visits(at: number, views: number, page = '/static/index.html', ua = 'Mozilla/5.0'): string[] {
  const out: string[] = [];
  for (let v = 0; v < views; v++) {
    const t = at + v * 1000;
    const c = { 'c-ip': `198.51.100.${v + 1}`, 'cs(User-Agent)': ua };
    out.push(line33({ ...when(t), ...c, 'cs-uri-stem': page, 'sc-content-len': '2000' }));
    out.push(line33({ ...when(t + 100), ...c, 'cs-uri-stem': '/static/app.js', 'sc-content-len': '5000' }));
    out.push(line33({ ...when(t + 200), ...c, 'cs-uri-stem': '/static/app.css', 'sc-content-len': '3000' }));
  }
  return out;
}

const config: EdgewiseConfig = buildConfig({}, undefined).config;

describe('prefetch worker', () => {
  it('reads each file once, accepts late files, skips files past the lookback and its own requests', async () => {
    const root = await tmp();
    await mkdir(join(root, 'edge'), { recursive: true });
    const put = (name: string, lines: string[]) => writeFile(join(root, name), gzLog(lines));
    await put(fileName(NOW - HOUR, 'aaa'), visits(NOW - HOUR, 3));
    await put(fileName(NOW, 'bbb'), visits(NOW, 2));
    await put(fileName(NOW - 100 * HOUR, 'old'), visits(NOW - 100 * HOUR, 5));
    await writeFile(join(root, `${fileName(NOW, 'ccc')}.partial`), 'half a file');
    const stateFile = join(root, 'state.json');
    const make = () =>
      new PrefetchWorker({
        config: () => config,
        source: new DirSource(root, 'edge/'),
        stateFile,
        now: () => NOW,
      });

    const w = make();
    const first = await w.pass({ dryRun: true });
    expect(first.files).toEqual({ read: 2, alreadyRead: 0, tooOld: 1 });
    expect(first.records.learned).toBe(15);
    expect(first.plan.tasks.map((t) => t.url)).toContain('/static/app.js');

    const again = await w.pass({ dryRun: true });
    expect(again.files).toEqual({ read: 0, alreadyRead: 2, tooOld: 1 });

    // CloudFront delivers an earlier hour late; the worker's own warming shows up in logs too.
    await put(fileName(NOW - 2 * HOUR, 'late'), [
      ...visits(NOW - 2 * HOUR, 1),
      ...visits(NOW - 2 * HOUR, 4, '/static/index.html', 'edgewise-prefetch/0.1'),
    ]);
    const late = await w.pass({ dryRun: true });
    expect(late.files.read).toBe(1);
    expect(late.records).toMatchObject({ learned: 3, ownRequests: 12 });

    // A new worker (next cron run) starts from the state file: nothing re-read, model kept.
    const next = make();
    const resumed = await next.pass({ dryRun: true });
    expect(resumed.files.read).toBe(0);
    expect(resumed.modelKeys).toBe(3);
    expect(resumed.plan.tasks.length).toBe(first.plan.tasks.length);
  });

  it('sends nothing outside the configured UTC window', async () => {
    const origin = await startCountingOrigin();
    cleanups.push(() => origin.close());
    const root = await tmp();
    await mkdir(join(root, 'edge'), { recursive: true });
    await writeFile(join(root, fileName(NOW, 'w')), gzLog(visits(NOW, 2)));
    // NOW is 12:30 UTC; the window is the night.
    const night = buildConfig(
      { prefetch: { budget: { window: { start: '22:00', end: '06:00' } } } },
      undefined,
    ).config;
    const w = new PrefetchWorker({
      config: () => night,
      source: new DirSource(root, 'edge/'),
      stateFile: join(root, 's.json'),
      targets: [{ url: origin.url, pinnedIps: [] }],
      now: () => NOW,
    });
    const r = await w.pass();
    expect(r.outsideWindow).toBe(true);
    expect(r.plan.tasks.length).toBeGreaterThan(0);
    expect(r.warm).toBeUndefined();
    expect(origin.count()).toBe(0);
  });

  it('starts fresh, with a warning, from a corrupt state file', async () => {
    const root = await tmp();
    const stateFile = join(root, 'state.json');
    await writeFile(stateFile, '{"version":1,"files":');
    const w = new PrefetchWorker({
      config: () => config,
      source: new DirSource(root, 'edge/'),
      stateFile,
      now: () => NOW,
    });
    const r = await w.pass({ dryRun: true });
    expect(r.stateProblem).toMatch(/unusable/);
    expect(r.files.read).toBe(0);
  });

  it('counts malformed lines and a truncated file without stopping', async () => {
    const root = await tmp();
    await mkdir(join(root, 'edge'), { recursive: true });
    const good = gzLog(visits(NOW, 2));
    await writeFile(join(root, fileName(NOW, 'cut')), good.subarray(0, good.length - 20));
    await writeFile(join(root, fileName(NOW, 'junk')), gzLog(['not a log line', ...visits(NOW, 1)]));
    const w = new PrefetchWorker({
      config: () => config,
      source: new DirSource(root, 'edge/'),
      stateFile: join(root, 's.json'),
      now: () => NOW,
    });
    const r = await w.pass({ dryRun: true });
    expect(r.files.read).toBe(2);
    expect(r.parse.malformed).toBe(1);
    expect(r.parse.samples[0]!.text).toBe('not a log line');
    expect(r.parse.fileErrors).toHaveLength(1);
    expect(r.records.learned).toBeGreaterThanOrEqual(3);
  });

  it('wakes watch for refresh-ahead when a hot object the edge filled is about to go stale', async () => {
    const root = await tmp();
    await mkdir(join(root, 'edge'), { recursive: true });
    const short = buildConfig(
      {
        classes: DEFAULT_CLASSES.map((c) =>
          c.name === 'static_assets' ? { ...c, ttl: { ...c.ttl, default: 120 } } : c,
        ),
      },
      undefined,
    ).config;
    const filled = NOW - 100_000; // expires 20 s after NOW
    await writeFile(
      join(root, fileName(NOW, 'fill')),
      gzLog([
        line33({ ...when(filled), 'cs-uri-stem': '/static/hot.js', 'x-edge-result-type': 'Miss' }),
        line33({ ...when(filled + 5000), 'cs-uri-stem': '/static/hot.js', 'x-edge-result-type': 'Hit' }),
      ]),
    );
    const w = new PrefetchWorker({
      config: () => short,
      source: new DirSource(root, 'edge/'),
      stateFile: join(root, 's.json'),
      now: () => NOW,
    });
    await w.pass({ dryRun: true });
    expect(w.nextExpiry(NOW)).toBe(filled + 120_000);
    expect(w.nextWait(NOW)).toBe(21_000);
    // With the default one-day TTL the regular interval wins.
    const long = new PrefetchWorker({
      config: () => config,
      source: new DirSource(root, 'edge/'),
      stateFile: join(root, 's2.json'),
      now: () => NOW,
    });
    await long.pass({ dryRun: true });
    expect(long.nextWait(NOW)).toBe(config.prefetch.watchIntervalSeconds * 1000);
  });

  for (const kind of ['fs', 's3'] as const) {
    it(`reads logs through the ${kind} storage driver`, async () => {
      let driver: StorageDriver;
      if (kind === 'fs') {
        driver = new FsDriver({ dataDir: await tmp() });
      } else {
        const s3 = await startS3rver();
        driver = new S3Driver({
          bucket: s3.bucket,
          region: 'us-east-1',
          endpoint: s3.endpoint,
          forcePathStyle: true,
          checksumMode: 'WHEN_REQUIRED',
          credentials: TEST_CREDENTIALS,
        });
        cleanups.push(() => s3.close());
      }
      cleanups.push(() => driver.close());
      const name = fileName(NOW, 'stored');
      await driver.put(name, Readable.from([gzLog(visits(NOW, 2))]), { contentType: 'application/gzip' });
      await driver.put('other/not-a-log.gz', Readable.from([Buffer.from('x')]), {
        contentType: 'application/gzip',
      });
      const root = await tmp();
      const w = new PrefetchWorker({
        config: () => config,
        source: new StorageSource(driver, 'edge/'),
        stateFile: join(root, 's.json'),
        now: () => NOW,
      });
      const r = await w.pass({ dryRun: true });
      expect(r.files).toEqual({ read: 1, alreadyRead: 0, tooOld: 0 });
      expect(r.records.learned).toBe(6);
      expect((await w.pass({ dryRun: true })).files.alreadyRead).toBe(1);
    });
  }

  it('warms a real edge from logs of visits it never served: the next viewer is a hit', async () => {
    const origin = await startCountingOrigin();
    cleanups.push(() => origin.close());
    for (const p of ['/t/index.html', '/t/app.js', '/t/app.css']) {
      origin.route(p, (_q, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' });
        res.end(`${p} `.repeat(100));
      });
    }
    const classes = [testClass({ compress: false })];
    const e = await startTestEdge(origin.url, { classes });
    cleanups.push(() => e.close());
    const root = await tmp();
    const rows = visits(NOW, 3, '/t/index.html').map((l) => l.replaceAll('/static/', '/t/'));
    await mkdir(join(root, 'edge'), { recursive: true });
    await writeFile(join(root, fileName(NOW, 'seen')), gzLog(rows));
    const w = new PrefetchWorker({
      config: () => e.store.current,
      source: new DirSource(root, 'edge/'),
      stateFile: join(root, 's.json'),
      targets: [{ url: e.url, pinnedIps: [] }],
      now: () => NOW,
    });
    const r = await w.pass();
    expect(r.warm).toMatchObject({ planned: 3, warmed: 3, failed: 0, originRequests: 3 });
    expect(origin.count()).toBe(3);
    const res = await fetch(`${e.url}/t/app.css`);
    await res.arrayBuffer();
    expect(res.headers.get('x-cache')).toMatch(/^Hit/);
    expect(origin.count()).toBe(3);
  });
});
