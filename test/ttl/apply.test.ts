/**
 * `ttl suggest --apply`: the file keeps every byte but the changed values, and a running
 * `edgewise serve` reloads it on the SIGHUP `--pid` sends (its next response carries the new
 * s-maxage).
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildConfig } from '../../src/config/load.js';
import { FsDriver } from '../../src/storage/fs.js';
import { ApplyError, applyChanges, formatSeconds } from '../../src/ttl/apply.js';
import { type LongRunning, runCli, startCli } from '../helpers/cli.js';
import { CONFIG, scenario } from './fixtures.js';

let server: LongRunning | undefined;
const roots: string[] = [];
afterEach(async () => {
  await server?.stop('SIGKILL');
  server = undefined;
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

describe('ttl suggest --apply', () => {
  it('writes only the proposed values and a running serve reloads on --pid', async () => {
    const s = await scenario();
    roots.push(s.root);
    const dataDir = join(s.root, 'data');
    await new FsDriver({ dataDir }).put('news/today.html', Readable.from([Buffer.from('<p>news</p>')]), {
      contentType: 'text/html',
    });
    const head = `# served by the test\nserver:\n  port: 0\nstorage:\n  fs:\n    dataDir: ${JSON.stringify(dataDir)}\n`;
    await writeFile(s.config, head + CONFIG);
    server = startCli(['serve', '--config', s.config]);
    const listening = await server.waitFor((l) => l.includes('origin listening'));
    const url = (JSON.parse(listening) as { url: string }).url;
    expect((await fetch(`${url}/news/today.html`)).headers.get('cache-control')).toContain('s-maxage=600');

    const r = await runCli([
      'ttl',
      'suggest',
      '--config',
      s.config,
      '--logs',
      s.logs,
      '--apply',
      '--pid',
      String(server.child.pid),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${s.config}`);
    expect(r.stdout).toContain(`sent SIGHUP to ${server.child.pid}`);
    const expected =
      head +
      CONFIG.replace('default: 600 # ten minutes', 'default: 91 # ten minutes').replace(
        'default: 1m, max: 86400 } # flow style',
        'default: 5m, max: 86400 } # flow style',
      );
    expect(await readFile(s.config, 'utf8')).toBe(expected);

    await server.waitFor((l) => l.includes('config reloaded'));
    expect((await fetch(`${url}/news/today.html`)).headers.get('cache-control')).toContain('s-maxage=91');

    // Applied again: nothing left to change.
    const again = await runCli(['ttl', 'suggest', '--config', s.config, '--logs', s.logs, '--apply']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('--apply: nothing to write');
  });

  it('without --pid it says how each process reloads; --pid of a missing process is refused first', async () => {
    const s = await scenario();
    roots.push(s.root);
    const gone = await runCli([
      'ttl',
      'suggest',
      '--config',
      s.config,
      '--logs',
      s.logs,
      '--apply',
      '--pid',
      '4000000',
    ]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/--pid 4000000: no such process/);
    expect(await readFile(s.config, 'utf8')).toBe(CONFIG);
    const r = await runCli(['ttl', 'suggest', '--config', s.config, '--logs', s.logs, '--apply']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/`edgewise dev` reloads on save .* kill -HUP <pid>/);
  });

  it('edgewise dev reloads the applied file on its own; a --pid naming dev is refused', async () => {
    const s = await scenario();
    roots.push(s.root);
    await writeFile(s.config, `${CONFIG}prefetch:\n  inDev: false\n`);
    server = startCli(['dev'], {
      cwd: s.root,
      env: { EDGEWISE__SERVER__PORT: '0', EDGEWISE__EDGE__PORT: '0', EDGEWISE__LOGGING__LEVEL: 'info' },
    });
    await server.waitFor((l) => /^\s+edge\s+http/.test(l), 90_000);
    const pid = String(server.child.pid);
    const refused = await runCli(['ttl', 'suggest', '--logs', s.logs, '--apply', '--pid', pid], {
      cwd: s.root,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /is `edgewise dev`: it reloads when the file is saved, and SIGHUP would stop it/,
    );
    expect(server.child.exitCode).toBeNull();
    const r = await runCli(['ttl', 'suggest', '--logs', s.logs, '--apply'], { cwd: s.root });
    expect(r.code, r.stderr).toBe(0);
    const line = await server.waitFor((l) => l.includes('config reloaded'), 20_000);
    expect(JSON.parse(line)).toMatchObject({ trigger: 'file saved', applied: ['classes'] });
    expect(await server.stop('SIGINT')).toBe(0);
    server = undefined;
  }, 150_000);

  it('a file on the embedded classes gets the running list appended, changed; unknown classes are refused', () => {
    const text = '# only a comment\nserver:\n  port: 0\n';
    const config = buildConfig(parse(text), 'x.yaml').config;
    const out = applyChanges(text, 'x.yaml', config, [{ cls: 'api_responses', ttl: 42 }]);
    expect(out.startsWith(text)).toBe(true);
    const after = buildConfig(parse(out), 'x.yaml').config;
    expect(after.classes.find((c) => c.name === 'api_responses')?.ttl.default).toBe(42);
    expect(after.classes.map((c) => c.name)).toEqual(config.classes.map((c) => c.name));
    expect(() => applyChanges(text, 'x.yaml', config, [{ cls: 'nope', ttl: 1 }])).toThrow(ApplyError);
  });

  it('refuses an edit the loader would reject (a default above ttl.max)', () => {
    const config = buildConfig(parse(CONFIG), 'c.yaml').config;
    expect(() => applyChanges(CONFIG, 'c.yaml', config, [{ cls: 'rare', ttl: 7200 }])).toThrow(
      /the edited config would not load/,
    );
  });

  it('formats seconds in the duration syntax', () => {
    expect([0, 45, 60, 5400, 86400 + 61].map(formatSeconds)).toEqual(['0s', '45s', '1m', '1h30m', '1d1m1s']);
  });
});
