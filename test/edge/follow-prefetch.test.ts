/**
 * Follow-on-request prefetch in the running local edge (src/edge/follow-prefetch.ts, deciding
 * with src/prefetch/follow.ts): a real edge in front of a counting origin on 127.0.0.1. The edge
 * learns what follows a page from the viewers it serves; when the page is requested again and its
 * assets are not held, it fills them in the background, so the next viewer's asset requests are
 * hits with no origin request at that moment. It stops by itself when its fills are not used,
 * never fills signed content, aborts its fills cleanly on shutdown, follows reloads, and does
 * nothing when off (it is on by default).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureDevSigningKeys } from '../../src/cloudfront/keys.js';
import { signViewerUrl } from '../../src/cloudfront/signer.js';
import { LiveConfig } from '../../src/config/live.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';
import { type RunningEdge, startEdge } from '../../src/edge/server.js';
import { createLogger } from '../../src/logger.js';
import { startCli } from '../helpers/cli.js';
import { type CountingOrigin, startCountingOrigin, testClass } from './helpers.js';

const UA = 'edgewise-prefetch/0.1';
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Site {
  origin: CountingOrigin;
  edge: RunningEdge;
  config: LiveConfig;
  dir: string;
  /** Rewrites the config file with these follow settings and reloads it. */
  reload(follow: Record<string, unknown>): void;
}

/** The edge's config as a file (JSON is YAML), so a test can reload it. */
function configFor(
  originUrl: string,
  dir: string,
  follow: Record<string, unknown>,
  extra: Record<string, unknown>,
) {
  const classes = (extra.classes as Array<{ name: string }> | undefined) ?? [testClass()];
  return {
    defaultClass: 'test_class',
    ...extra,
    classes: [...classes, ...DEFAULT_CLASSES.filter((d) => !classes.some((c) => c.name === d.name))],
    origin: { url: originUrl, protocol: 'http1.1', ...((extra.origin as object) ?? {}) },
    edge: {
      port: 0,
      cache: {
        diskDir: join(dir, 'cache'),
        ...((extra.edge as { cache?: object } | undefined)?.cache ?? {}),
      },
      logs: { dir: join(dir, 'logs'), flushIntervalMs: 50 },
      functions: { dir: join(dir, 'functions') },
      shutdownDeadlineMs: 10_000,
    },
    prefetch: { ...((extra.prefetch as object) ?? {}), follow: { minCount: 2, ...follow } },
  };
}

async function site(follow: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Site> {
  const origin = await startCountingOrigin();
  cleanup.push(() => origin.close());
  const dir = mkdtempSync(join(tmpdir(), 'edgewise-follow-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'edgewise.yaml');
  writeFileSync(file, JSON.stringify(configFor(origin.url, dir, follow, extra)));
  const config = LiveConfig.load({ file, cwd: dir, env: {} });
  const logger = createLogger({ level: process.env.EDGEWISE_TEST_LOG ? 'debug' : 'silent', pretty: false });
  const edge = await startEdge(config, logger, { cwd: dir, host: '127.0.0.1', port: 0 });
  cleanup.push(() => edge.shutdown(10_000));
  return {
    origin,
    edge,
    config,
    dir,
    reload(f) {
      writeFileSync(file, JSON.stringify(configFor(origin.url, dir, f, extra)));
      config.reload();
    },
  };
}

/** An object of `bytes` bytes the origin serves, cacheable for 10 minutes. */
function serve(origin: CountingOrigin, path: string, bytes: number, type = 'text/plain') {
  origin.route(path, (_req, res) => {
    res.writeHead(200, { 'content-type': type, 'cache-control': 'max-age=600' });
    res.end(Buffer.alloc(bytes, 97));
  });
}

/** One viewer: a User-Agent of its own (the edge tells clients by IP + User-Agent), one connection. */
function viewer(s: Site, name: string) {
  const agent = new Agent({ connections: 1 });
  cleanup.push(() => agent.close());
  return async (path: string, headers: Record<string, string> = {}) => {
    const r = await request(`${s.edge.url}${path}`, {
      dispatcher: agent,
      headers: { 'user-agent': `browser ${name}`, 'accept-encoding': 'gzip, br', ...headers },
    });
    const body = await r.body.text();
    return { status: r.statusCode, xCache: String(r.headers['x-cache']), body };
  };
}

/** Waits for a condition, driving nothing but the event loop (bounded, never asserts time). */
async function until(what: string, cond: () => boolean | Promise<boolean>, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A series' value in a scrape of the edge's registry (labels in any order), 0 when absent. */
async function metric(s: Site, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await s.edge.app.metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want));
  return v?.value ?? 0;
}

const follow = (s: Site) => s.edge.app.edge.follow;

/** Waits until the edge has stored `n` follow fills (the fetched outcome of its fills counter). */
function fetchedFills(s: Site, n: number, what = `${n} fetched fills`): Promise<void> {
  return until(
    what,
    async () => (await metric(s, 'edgewise_edge_follow_fills_total', { outcome: 'fetched' })) === n,
  );
}

/** Two viewers each load the page and then its assets: the second is served from cache (sizes known). */
async function learn(s: Site, page: string, assets: string[], names = ['learner-1', 'learner-2']) {
  for (const n of names) {
    const get = viewer(s, n);
    await get(page);
    for (const a of assets) await get(a);
  }
}

describe('follow-on-request prefetch at the edge', () => {
  it('learns page → assets; the next viewer’s asset requests are hits with no origin request at that time', async () => {
    // A class the edge compresses: Accept-Encoding selects the variant, and the fill asks for this viewer's.
    const s = await site({ enabled: true }, { classes: [testClass({ compress: true })] });
    serve(s.origin, '/t/page.html', 3000, 'text/html');
    serve(s.origin, '/t/a.css', 4000, 'text/css');
    serve(s.origin, '/t/b.js', 5000, 'text/javascript');
    await learn(s, '/t/page.html', ['/t/a.css', '/t/b.js']);
    expect(s.origin.count('/t/a.css')).toBe(1);
    // The assets leave the cache (evicted, expired or invalidated); the page stays.
    s.edge.app.store.invalidate('/t/a.css');
    s.edge.app.store.invalidate('/t/b.js');

    const next = viewer(s, 'next');
    const page = await next('/t/page.html', { 'accept-encoding': 'br' });
    expect(page.xCache).toBe('Miss from edgewise');
    // A browser that accepts only br: the page's br variant is not held either, and its own miss
    // and the fills of its assets run side by side. Wait until both fills are stored.
    await fetchedFills(s, 2, 'both follow fills');
    await until('fills settled', () => follow(s).inFlight === 0);
    const before = { a: s.origin.count('/t/a.css'), b: s.origin.count('/t/b.js') };
    expect(before).toEqual({ a: 2, b: 2 });
    // Each fill was the edge's own request, with this viewer's Accept-Encoding and the prefetch User-Agent.
    const fills = s.origin.requests.slice(-2);
    expect(fills.map((r) => r.url).sort()).toEqual(['/t/a.css', '/t/b.js']);
    for (const r of fills) {
      expect(r.headers['user-agent']).toBe(`${UA} (edge follow)`);
      expect(r.headers['accept-encoding']).toBe('br');
      expect(r.headers.cookie).toBeUndefined();
    }

    const a = await next('/t/a.css', { 'accept-encoding': 'br' });
    const b = await next('/t/b.js', { 'accept-encoding': 'br' });
    expect([a.xCache, b.xCache]).toEqual(['Hit from edgewise', 'Hit from edgewise']);
    expect(a.body.length).toBe(4000);
    expect({ a: s.origin.count('/t/a.css'), b: s.origin.count('/t/b.js') }).toEqual(before);

    // Judged used (the viewer hit them), counted as prefetch traffic, logged as the edge's own.
    const scrape = await s.edge.app.metrics.registry.metrics();
    expect(scrape).toMatch(/edgewise_edge_follow_judged_total\{outcome="used"\} 2/);
    expect(await metric(s, 'edgewise_edge_requests_total', { traffic: 'prefetch', result: 'Miss' })).toBe(2);
    await s.edge.app.logs!.close();
    const logDir = join(s.dir, 'logs');
    const lines = readdirSync(logDir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.gz'))
      .flatMap((f) =>
        gunzipSync(readFileSync(join(logDir, f)))
          .toString()
          .split('\n'),
      )
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split('\t'));
    // CloudFront's field order: cs-uri-stem is the 8th, cs(User-Agent) the 11th.
    const own = lines.filter((f) => decodeURIComponent(f[10] ?? '').startsWith(UA));
    expect(own.map((f) => f[7]).sort()).toEqual(['/t/a.css', '/t/b.js']);
    expect(lines.filter((f) => f[7] === '/t/a.css')).toHaveLength(4);
  });

  it('stores a fetched fill as one access: S3-FIFO keeps it past its small queue until the viewer asks', async () => {
    // 1 MiB of memory, no disk: about 24 entries of 40 kB, a small queue of about 2. A fill stored
    // as a plain miss would leave the small queue for the ghost once the cache fills.
    const s = await site(
      { enabled: true },
      { edge: { cache: { policy: 's3fifo', memoryBytes: 1 << 20, diskBytes: 0 } } },
    );
    serve(s.origin, '/t/page.html', 3000, 'text/html');
    serve(s.origin, '/t/a.css', 40_000, 'text/css');
    for (let k = 0; k < 40; k++) serve(s.origin, `/t/f${k}.txt`, 40_000);
    await learn(s, '/t/page.html', ['/t/a.css']);
    s.edge.app.store.invalidate('/t/a.css');
    const next = viewer(s, 'next');
    await next('/t/page.html');
    await fetchedFills(s, 1, 'the fill');
    await until('fill settled', () => follow(s).inFlight === 0);
    expect(s.origin.count('/t/a.css')).toBe(2);
    // Other traffic fills the cache: each filler is a miss and leaves through the small queue.
    const other = viewer(s, 'other');
    for (let k = 0; k < 40; k++) expect((await other(`/t/f${k}.txt`)).xCache).toBe('Miss from edgewise');
    expect(s.origin.count('/t/f0.txt')).toBe(1);
    expect((await other('/t/f0.txt')).xCache).toBe('Miss from edgewise');
    // The filled asset is still held when the browser asks for it.
    expect((await next('/t/a.css')).xCache).toBe('Hit from edgewise');
    expect(s.origin.count('/t/a.css')).toBe(2);
  });

  it('follows a successor that was a miss every time it was asked for (its size is learned when the miss completes)', async () => {
    const s = await site({ enabled: true });
    serve(s.origin, '/t/page.html', 3000, 'text/html');
    serve(s.origin, '/t/a.css', 4000, 'text/css');
    for (const n of ['learner-1', 'learner-2']) {
      const get = viewer(s, n);
      await get('/t/page.html');
      expect((await get('/t/a.css')).xCache).toBe('Miss from edgewise');
      s.edge.app.store.invalidate('/t/a.css');
    }
    const next = viewer(s, 'next');
    await next('/t/page.html');
    await fetchedFills(s, 1, 'the fill');
    expect(s.origin.requests.at(-1)!.headers['user-agent']).toBe(`${UA} (edge follow)`);
    expect((await next('/t/a.css')).xCache).toBe('Hit from edgewise');
    expect(s.origin.count('/t/a.css')).toBe(3);
  });

  it('on traffic where what followed no longer does, it backs off and its origin fetches stop', async () => {
    const s = await site(
      // The back-off alone: the wasted-bytes share (follow.maxWastedShare) would stop these fills first.
      { enabled: true, useWindowSeconds: 1, maxWastedShare: 1 },
      { prefetch: { backoff: { minSamples: 4, minUsefulShare: 0.5, initialSeconds: 600 } } },
    );
    const n = 12;
    for (let i = 0; i < n; i++) {
      serve(s.origin, `/t/p${i}.html`, 2000, 'text/html');
      serve(s.origin, `/t/s${i}.js`, 3000);
      serve(s.origin, `/t/r${i}.js`, 1000);
      await learn(s, `/t/p${i}.html`, [`/t/s${i}.js`], [`learn-${i}-1`, `learn-${i}-2`]);
    }
    s.edge.app.store.invalidate('/t/s*');
    // Viewers load each page and then something else: the learned successor is never asked for.
    for (let i = 0; i < 6; i++) {
      const get = viewer(s, `v-${i}`);
      await get(`/t/p${i}.html`);
      await get(`/t/r${i}.js`);
    }
    await until('six fills', () => (follow(s).follower?.stats.fetched ?? 0) === 6);
    for (let i = 0; i < 6; i++) expect(s.origin.count(`/t/s${i}.js`)).toBe(2);
    // Unused within useWindowSeconds, they are wasted; the class is suspended. Outcomes are
    // judged as viewer requests arrive, so keep some coming while waiting.
    const other = viewer(s, 'other');
    await until(
      'the class to back off',
      async () => {
        await other('/t/r0.js');
        return (await metric(s, 'edgewise_edge_follow_class_state', { class: 'test_class' })) === 2;
      },
      1000,
    );
    // The class is suspended once minSamples (4) are judged; the other two are judged as they
    // expire (later on a loaded machine: CI saw 4 here once).
    await until(
      'all six fills judged wasted',
      async () => {
        await other('/t/r0.js');
        return (await metric(s, 'edgewise_edge_follow_judged_total', { outcome: 'wasted' })) === 6;
      },
      1000,
    );
    const started = follow(s).follower!.stats.started;
    for (let i = 6; i < n; i++) {
      const get = viewer(s, `v-${i}`);
      await get(`/t/p${i}.html`);
      await get(`/t/r${i}.js`);
    }
    await until('fills settled', () => follow(s).inFlight === 0);
    expect(follow(s).follower!.stats.started).toBe(started);
    for (let i = 6; i < n; i++) expect(s.origin.count(`/t/s${i}.js`)).toBe(1);
    expect(await metric(s, 'edgewise_edge_follow_skipped_total', { reason: 'backedOff' })).toBe(n - 6);
  });

  it('never fills signed content, though it follows the page as often as the assets do', async () => {
    const keysDir = mkdtempSync(join(tmpdir(), 'edgewise-follow-keys-'));
    cleanup.push(() => rm(keysDir, { recursive: true, force: true }));
    const keys = ensureDevSigningKeys(keysDir);
    const s = await site(
      { enabled: true },
      {
        classes: [
          testClass({ signed: true, name: 'private_files', pathPatterns: ['/private/*'] }),
          testClass(),
        ],
        cloudfront: { signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile } },
      },
    );
    serve(s.origin, '/t/page.html', 3000, 'text/html');
    serve(s.origin, '/t/a.css', 4000, 'text/css');
    serve(s.origin, '/private/doc.txt', 4000);
    const signed = new URL(signViewerUrl(s.config.current, '/private/doc.txt'));
    const doc = `${signed.pathname}${signed.search}`;
    await learn(s, '/t/page.html', [doc, '/t/a.css']);
    expect(s.origin.count('/private/doc.txt')).toBe(1);
    s.edge.app.store.invalidate('/private/*');
    s.edge.app.store.invalidate('/t/a.css');

    await viewer(s, 'next')('/t/page.html');
    await fetchedFills(s, 1, 'the asset fill');
    await until('fills settled', () => follow(s).inFlight === 0);
    expect(s.origin.count('/t/a.css')).toBe(2);
    expect(s.origin.count('/private/doc.txt')).toBe(1);
    expect(await metric(s, 'edgewise_edge_follow_skipped_total', { reason: 'signed' })).toBe(1);
  });

  it('shutdown with a fill in flight is clean: the fill is aborted, nothing partial is stored', async () => {
    // Without the abort, closing the origin pool would wait for this body until the response
    // timeout (the longest allowed, 60 s: past this test's timeout).
    const s = await site({ enabled: true }, { origin: { responseTimeoutMs: 60_000 } });
    serve(s.origin, '/t/page.html', 3000, 'text/html');
    let originSawAbort = false;
    s.origin.route('/t/slow.js', (req: IncomingMessage, res, n) => {
      res.writeHead(200, {
        'content-type': 'text/javascript',
        'cache-control': 'max-age=600',
        'content-length': '8000',
      });
      if (n === 1) return void res.end(Buffer.alloc(8000, 98));
      // The follow fill: half the body, then nothing.
      res.write(Buffer.alloc(4000, 98));
      req.socket.once('close', () => {
        originSawAbort = true;
      });
    });
    await learn(s, '/t/page.html', ['/t/slow.js']);
    s.edge.app.store.invalidate('/t/slow.js');
    await viewer(s, 'next')('/t/page.html');
    await until('the fill to stream', () => s.origin.count('/t/slow.js') === 2 && follow(s).inFlight === 1);
    expect(await s.edge.shutdown(10_000)).toBe('clean');
    await until('the origin to see the fetch end', () => originSawAbort);
    expect(follow(s).inFlight).toBe(0);
    expect(await metric(s, 'edgewise_edge_follow_fills_total', { outcome: 'cancelled' })).toBe(1);
    expect([...s.edge.app.store.memory.keys()].filter((k) => k.startsWith('/t/slow.js'))).toEqual([]);
  }, 20_000);

  it('is on by default; turned off, the same traffic causes no background fill', async () => {
    const on = await site({});
    serve(on.origin, '/t/page.html', 3000, 'text/html');
    serve(on.origin, '/t/a.css', 4000, 'text/css');
    await learn(on, '/t/page.html', ['/t/a.css']);
    on.edge.app.store.invalidate('/t/a.css');
    await viewer(on, 'next')('/t/page.html');
    await fetchedFills(on, 1, 'the default fill');

    const s = await site({ enabled: false });
    serve(s.origin, '/t/page.html', 3000, 'text/html');
    serve(s.origin, '/t/a.css', 4000, 'text/css');
    await learn(s, '/t/page.html', ['/t/a.css']);
    s.edge.app.store.invalidate('/t/a.css');
    const next = viewer(s, 'next');
    await next('/t/page.html');
    const a = await next('/t/a.css');
    // The viewer's own miss: the origin's request carries the viewer's User-Agent.
    expect(a.xCache).toBe('Miss from edgewise');
    expect(s.origin.count('/t/a.css')).toBe(2);
    expect(s.origin.requests.at(-1)!.headers['user-agent']).toBe('browser next');
    expect(follow(s).follower).toBeUndefined();
    expect(await metric(s, 'edgewise_edge_follow_fills_total')).toBe(0);
  });

  it('a reload turns it on (learning starts) and off (the model is dropped, no more fills)', async () => {
    const s = await site({ enabled: false });
    serve(s.origin, '/t/page.html', 3000, 'text/html');
    serve(s.origin, '/t/a.css', 4000, 'text/css');
    s.reload({ enabled: true });
    await learn(s, '/t/page.html', ['/t/a.css']);
    s.edge.app.store.invalidate('/t/a.css');
    await viewer(s, 'next')('/t/page.html');
    await until('the fill', () => s.origin.count('/t/a.css') === 2);
    await until('fills settled', () => follow(s).inFlight === 0);
    expect((await viewer(s, 'next')('/t/a.css')).xCache).toBe('Hit from edgewise');

    s.reload({ enabled: false });
    expect(follow(s).follower).toBeUndefined();
    s.edge.app.store.invalidate('/t/a.css');
    const late = viewer(s, 'late');
    await late('/t/page.html');
    expect((await late('/t/a.css')).xCache).toBe('Miss from edgewise');
    expect(s.origin.requests.at(-1)!.headers['user-agent']).toBe('browser late');
  });
});

describe('follow-on-request prefetch with edge workers', () => {
  it('each worker follows its own viewers; a fill is one origin fetch for the edge and a hit in every worker', async () => {
    const origin = await startCountingOrigin();
    cleanup.push(() => origin.close());
    const dir = mkdtempSync(join(tmpdir(), 'edgewise-follow-cluster-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    serve(origin, '/static/page.html', 3000, 'text/html');
    serve(origin, '/static/a.css', 4000, 'text/css');
    serve(origin, '/static/b.js', 5000, 'text/javascript');
    const KEY = 'f'.repeat(32);
    const cli = startCli(['edge'], {
      cwd: dir,
      env: {
        EDGEWISE__EDGE__PORT: '0',
        EDGEWISE__EDGE__WORKERS: '2',
        EDGEWISE__EDGE__INVALIDATION__APIKEYS: `[${KEY}]`,
        EDGEWISE__EDGE__METRICSACCESS__APIKEYS: `[${KEY}]`,
        EDGEWISE__ORIGIN__URL: origin.url,
        EDGEWISE__ORIGIN__PROTOCOL: 'http1.1',
        EDGEWISE__PREFETCH__FOLLOW__ENABLED: 'true',
      },
    });
    cleanup.push(() => cli.stop('SIGKILL'));
    const { url } = JSON.parse(await cli.waitFor((l) => l.includes('edge listening'))) as { url: string };
    // One connection per viewer; the primary hands connections to the workers in turn, so two
    // learners reach each worker: each learns the page's assets from its own viewers.
    const fake = { edge: { url } } as unknown as Site;
    await learn(fake, '/static/page.html', ['/static/a.css', '/static/b.js'], ['l1', 'l2', 'l3', 'l4']);
    expect(origin.count('/static/a.css')).toBe(1);
    const admin = async (path: string, init: Parameters<typeof request>[1] = {}) => {
      const r = await request(`${url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      });
      return r.body.text();
    };
    await admin('/_edge/invalidations', {
      method: 'POST',
      body: JSON.stringify({ paths: ['/static/a.css', '/static/b.js'] }),
    });

    const next = viewer(fake, 'next');
    await next('/static/page.html');
    await until('the fills', () => origin.count('/static/a.css') === 2 && origin.count('/static/b.js') === 2);
    const total = (text: string, series: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(series))
          ?.slice(series.length) ?? 0,
      );
    await until('both stored', async () => {
      const m = await admin('/_edge/metrics');
      return (
        total(m, 'edgewise_edge_follow_fills_total{outcome="fetched"} ') === 2 &&
        total(m, 'edgewise_edge_follow_in_flight ') === 0
      );
    });
    for (const r of origin.requests.slice(-2)) expect(r.headers['user-agent']).toBe(`${UA} (edge follow)`);
    // This viewer's worker, and the other one (the next connection), answer from cache.
    const other = viewer(fake, 'other');
    for (const get of [next, other])
      for (const a of ['/static/a.css', '/static/b.js'])
        expect((await get(a)).xCache).toBe('Hit from edgewise');
    expect([origin.count('/static/a.css'), origin.count('/static/b.js')]).toEqual([2, 2]);
    expect(await cli.stop('SIGTERM')).toBe(0);
  }, 60_000);
});
