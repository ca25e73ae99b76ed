/**
 * `edgewise ttl suggest` on generated log directories (real files, the built CLI): proposals,
 * the diff, the evidence rules, and bad input.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { CONFIG, logRecord, scenario, T0, writeLogs } from './fixtures.js';

const roots: string[] = [];
afterEach(async () => {
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

async function setup() {
  const s = await scenario();
  roots.push(s.root);
  return s;
}

interface JsonProposal {
  class: string;
  requests: number;
  prefix: string;
  revalidations: number;
  changed: number;
  current: number;
  proposed: number | null;
  rate: number;
  estimate: string;
  hitRatio: { current: number; proposed: number | null };
  staleServed: { current: number; proposed: number | null };
  note: string;
}

describe('ttl suggest', () => {
  it('proposes per class from the edge’s revalidation log and leaves thin evidence alone', async () => {
    const s = await setup();
    const r = await runCli(['ttl', 'suggest', '--config', s.config, '--logs', s.logs, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { mode: string; proposals: JsonProposal[]; logFiles: number };
    expect(out.mode).toBe('edge');
    expect(out.logFiles).toBeGreaterThan(0);
    const by = Object.fromEntries(out.proposals.map((p) => [p.class, p]));
    expect(by.news).toMatchObject({
      revalidations: 40,
      changed: 20,
      current: 600,
      proposed: 91,
      estimate: 'mle',
    });
    expect(by.news!.rate).toBeCloseTo(Math.LN2 / 600, 9);
    // Shorter TTL: fewer hits, far fewer stale responses.
    expect(by.news!.hitRatio.proposed!).toBeLessThan(by.news!.hitRatio.current);
    expect(by.news!.staleServed.proposed!).toBeLessThan(by.news!.staleServed.current / 3);
    expect(by.assets).toMatchObject({
      revalidations: 30,
      changed: 0,
      current: 60,
      proposed: 300,
      estimate: 'no-change',
    });
    expect(by.assets!.hitRatio.proposed!).toBeGreaterThan(by.assets!.hitRatio.current);
    expect(by.rare).toMatchObject({ revalidations: 3, proposed: null });
    expect(by.rare!.note).toMatch(/too little evidence: 3 revalidations \(needs 20\); left alone/);
  });

  it('prints a diff of edgewise.yaml and a table, without touching the file', async () => {
    const s = await setup();
    const r = await runCli(['ttl', 'suggest', '--config', s.config, '--logs', s.logs]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`--- ${s.config}`);
    expect(r.stdout).toContain('-      default: 600 # ten minutes, too long?');
    expect(r.stdout).toContain('+      default: 91 # ten minutes, too long?');
    expect(r.stdout).toContain('-    ttl: { min: 0, default: 1m, max: 86400 } # flow style, duration syntax');
    expect(r.stdout).toContain('+    ttl: { min: 0, default: 5m, max: 86400 } # flow style, duration syntax');
    expect(r.stdout).toMatch(/news\s+\d+\s+40 reval, 20 changed\s+mean 866 s\s+600 → 91/);
    expect(r.stdout).toMatch(/rare .*too little evidence/);
    expect(r.stdout).toContain('infinite cache, no eviction');
    expect(await readFile(s.config, 'utf8')).toBe(CONFIG);
  });

  it('--by prefix: per path prefix within each class, as advice', async () => {
    const s = await setup();
    const r = await runCli([
      'ttl',
      'suggest',
      '--config',
      s.config,
      '--logs',
      s.logs,
      '--by',
      'prefix:1',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { proposals: JsonProposal[] };
    expect(out.proposals.find((p) => p.class === 'news')).toMatchObject({ prefix: '/news/', proposed: 91 });
    const applied = await runCli([
      'ttl',
      'suggest',
      '--config',
      s.config,
      '--logs',
      s.logs,
      '--by',
      'prefix',
      '--apply',
    ]);
    expect(applied.code).toBe(2);
    expect(applied.stderr).toMatch(/per-prefix proposals are advice/);
  });

  it('CloudFront logs alone: RefreshHits are "unchanged" evidence only, so TTLs only lengthen', async () => {
    const s = await setup();
    const dir = join(s.root, 'cf-only');
    const recs = [];
    // One object: a Miss, then a RefreshHit every 120 s (25 of them), Hits between.
    for (let i = 0; i <= 25; i++)
      recs.push(logRecord(T0 + i * 120_000, '/news/a.html', i === 0 ? 'Miss' : 'RefreshHit'));
    for (let i = 0; i < 25; i++) recs.push(logRecord(T0 + i * 120_000 + 30_000, '/news/a.html', 'Hit'));
    recs.sort((a, b) => a.end - b.end);
    await writeLogs(dir, recs, []);
    const r = await runCli(['ttl', 'suggest', '--config', s.config, '--logs', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { mode: string; proposals: JsonProposal[] };
    expect(out.mode).toBe('logs');
    // 25 intervals of 120 s unchanged: the bound is 120 s, below the current 600, so it stays.
    expect(out.proposals.find((p) => p.class === 'news')).toMatchObject({
      revalidations: 25,
      changed: 0,
      proposed: null,
    });
    const text = await runCli(['ttl', 'suggest', '--config', s.config, '--logs', dir]);
    expect(text.stdout).toMatch(/RefreshHits in the access logs give "unchanged" evidence only/);
  });

  it('a warming request’s refresh starts the next interval, though it is not replayed', async () => {
    const s = await setup();
    const dir = join(s.root, 'with-prefetch');
    await writeLogs(
      dir,
      [
        logRecord(T0, '/assets/a.css', 'Miss'),
        logRecord(T0 + 200_000, '/assets/a.css', 'RefreshHit', 'edgewise-prefetch/0.1'),
        logRecord(T0 + 350_000, '/assets/a.css', 'RefreshHit'),
      ],
      [],
    );
    const r = await runCli([
      'ttl',
      'suggest',
      '--config',
      s.config,
      '--logs',
      dir,
      '--json',
      '--min-evidence',
      '1',
    ]);
    expect(r.code).toBe(0);
    const assets = (JSON.parse(r.stdout) as { proposals: JsonProposal[] }).proposals.find(
      (p) => p.class === 'assets',
    );
    // Unchanged over 200 s (to the warming refresh) and 150 s (to the viewer's): longest 200 s,
    // not the 350 s since the viewer's Miss. Two viewer requests replayed, not three.
    expect(assets).toMatchObject({ revalidations: 2, changed: 0, current: 60, proposed: 200, requests: 2 });
  });

  it('--max-records bounds what is held: reading stops before the next file, with a warning', async () => {
    const s = await setup();
    const r = await runCli([
      'ttl',
      'suggest',
      '--config',
      s.config,
      '--logs',
      s.logs,
      '--json',
      '--max-records',
      '1000',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /stopped reading at 1000 viewer requests \(--max-records\): later log files were not read/,
    );
    const out = JSON.parse(r.stdout) as { truncated: boolean; logFiles: number; records: number };
    // The scenario's four hourly files hold 1,080 viewer records each (the first also the
    // prefetch worker's one line): the first is read whole, no other.
    expect(out).toMatchObject({ truncated: true, logFiles: 1, records: 1081 });
  });

  it('bad input: no logs, malformed config, unknown class', async () => {
    const s = await setup();
    const empty = join(s.root, 'nothing-here');
    const none = await runCli(['ttl', 'suggest', '--config', s.config, '--logs', empty]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no access log files in directory .*nothing-here: nothing to suggest from/);

    const bad = join(s.root, 'bad.yaml');
    await writeFile(
      bad,
      'classes:\n  - name: news\n    pathPatterns: ["/news/*"]\n    ttl: { default: 10 }\n',
    );
    const invalid = await runCli(['ttl', 'suggest', '--config', bad, '--logs', s.logs]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/invalid config .*bad\.yaml/);
    expect(invalid.stderr).toMatch(/classes\[0\]\.ttl/);

    const unknown = await runCli([
      'ttl',
      'suggest',
      '--config',
      s.config,
      '--logs',
      s.logs,
      '--class',
      'videos',
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--class videos: no such class; the config has news, assets, rare/);
  });

  it.each([
    [['--by', 'folder'], /--by must be class, prefix or prefix:<depth>/],
    [['--max-stale', '0.9'], /--max-stale must be a number from 0.001 to 0.63/],
    [['--since', 'yesterday'], /--since must be a duration/],
    [['--pid', '1'], /--pid goes with --apply/],
    [['--source', 'cloudfront'], /--source must be edge or prefetch/],
  ] as const)('bad option %j: exit 2 with the reason', async (args, msg) => {
    const s = await setup();
    const res = await runCli(['ttl', 'suggest', '--config', s.config, '--logs', s.logs, ...args]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(msg);
  });
});
