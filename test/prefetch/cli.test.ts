/** `edgewise prefetch run` as a real process over a real log directory. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { gzLog, line33, when } from './log-fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgewise-prefetch-cli-'));
  await mkdir(join(dir, 'data/logs/edge'), { recursive: true });
  const at = when(Date.now() - 60_000);
  const name = `EDGEWISELOCAL.${at.date}-${at.time.slice(0, 2)}.abc.gz`;
  await writeFile(
    join(dir, 'data/logs/edge', name),
    gzLog([
      line33({ ...at, 'cs-uri-stem': '/static/app.js' }),
      'broken line',
      line33({ ...at, 'cs-uri-stem': '/static/app.css' }),
    ]),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A CLI start takes seconds, more on a machine shared with other test runs. */
const SLOW = 100_000;

describe('edgewise prefetch run', { timeout: 3 * SLOW }, () => {
  it('plans from the log directory and prints JSON with --json --dry-run', async () => {
    const r = await runCli(
      ['prefetch', 'run', '--json', '--dry-run', '--state', join(dir, 'dry-state.json')],
      { cwd: dir, timeoutMs: SLOW },
    );
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      files: { read: number };
      parse: { malformed: number };
      plan: { tasks: unknown[] };
      warm: unknown;
    };
    expect(j.files.read).toBe(1);
    expect(j.parse.malformed).toBe(1);
    expect(j.plan.tasks).toHaveLength(8); // 2 objects × 4 encodings
    expect(j.warm).toBeUndefined();
  });

  it('prints the summary table and exits 1 when every warming request failed', async () => {
    const r = await runCli(
      ['prefetch', 'run', '--target', 'http://127.0.0.1:1', '--state', join(dir, 'state.json')],
      { cwd: dir, timeoutMs: SLOW },
    );
    expect(r.code).toBe(1);
    for (const row of ['planned', 'warmed', 'already fresh', 'failed', 'bytes', 'origin requests'])
      expect(r.stdout).toContain(row);
    expect(r.stdout).toMatch(/malformed .*broken line/);
    expect(r.stdout).toMatch(/failed http:\/\/127\.0\.0\.1:1\/static\/app\.(js|css)/);
  });

  it('exits 2 on a bad --target', async () => {
    const r = await runCli(['prefetch', 'run', '--target', 'ftp://example.test'], {
      cwd: dir,
      timeoutMs: SLOW,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must be http or https/);
  });
});
