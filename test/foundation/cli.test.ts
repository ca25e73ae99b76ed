import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allCommands } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';

const commands = await allCommands();

describe('edgewise CLI', () => {
  it('prints top-level help and fails on an unknown command with exit 2', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of commands) expect(help.stdout).toContain(cmd.path.join(' '));
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it.each(commands.map((c) => [c.path.join(' '), c] as const))(
    '`%s --help` describes the command',
    async (_name, cmd) => {
      const res = await runCli([...cmd.path, '--help']);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`Usage: edgewise ${cmd.path.join(' ')}`);
      for (const opt of Object.keys(cmd.options)) expect(res.stdout).toContain(`--${opt}`);
    },
  );

  it('--version and -V print the package version', async () => {
    const { version } = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const res = await runCli([flag]);
      expect(res.code, flag).toBe(0);
      expect(res.stdout).toBe(`${version}\n`);
    }
  });

  // Every path prefix that has subcommands and is no command itself (`config`, `prefetch trace`),
  // from the command table itself.
  const names = new Set(commands.map((c) => c.path.join(' ')));
  const groups = [
    ...new Set(commands.flatMap((c) => c.path.slice(0, -1).map((_, i) => c.path.slice(0, i + 1).join(' ')))),
  ].filter((g) => !names.has(g));
  const under = (group: string) => commands.filter((c) => `${c.path.join(' ')} `.startsWith(`${group} `));
  it('has command groups to test, nested ones too', () => {
    expect(groups.length).toBeGreaterThan(3);
    expect(groups).toContain('prefetch trace');
  });

  it.each(groups)('`%s --help` prints the group help and exits 0', async (group) => {
    for (const flag of ['--help', '-h']) {
      const res = await runCli([...group.split(' '), flag]);
      expect(res.code, flag).toBe(0);
      expect(res.stdout).toContain(`Usage: edgewise ${group} <subcommand>`);
      for (const c of under(group)) expect(res.stdout).toContain(c.path.join(' '));
    }
  });

  it.each(groups)(
    '`%s` alone prints the group help and exits 2 with the missing subcommand',
    async (group) => {
      const res = await runCli(group.split(' '));
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain(`Usage: edgewise ${group} <subcommand>`);
      expect(res.stderr).toMatch(new RegExp(`edgewise ${group}: missing subcommand: one of `));
      const wrong = await runCli([...group.split(' '), 'frobnicate']);
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toContain(`edgewise ${group}: unknown subcommand "frobnicate"`);
    },
  );

  it('rejects an unknown option with exit 2 and the usage', async () => {
    const res = await runCli(['config', 'check', '--bogus']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/Unknown option '--bogus'/);
    expect(res.stderr).toContain('Usage: edgewise config check');
  });
});

describe('edgewise config check', () => {
  it('lists three different mistakes with their key paths and exits 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-cli-'));
    await writeFile(
      join(dir, 'edgewise.yaml'),
      [
        'server:',
        '  port: 123456',
        'storage:',
        '  driver: ftp',
        'classes:',
        '  - name: static_assets',
        '    pathPatterns: ["/static/*"]',
        '    ttl: { min: 0, default: 90000, max: 86400 }',
        '    browserTtl: 60',
        '',
      ].join('\n'),
    );
    const res = await runCli(['config', 'check'], { cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(join(dir, 'edgewise.yaml'));
    expect(res.stderr).toMatch(/server\.port: must be <= 65535 \(got 123456\)/);
    expect(res.stderr).toMatch(/storage\.driver: must be one of "fs", "s3" \(got "ftp"\)/);
    expect(res.stderr).toMatch(/classes\[0\]\.ttl\.default: must be ≤ ttl\.max \(86400\) \(got 90000\)/);
  });

  it('reports cross-field mistakes together', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-cli-'));
    await writeFile(
      join(dir, 'x.yaml'),
      [
        'defaultClass: nope',
        'server: { keepAliveTimeoutMs: 70000, headersTimeoutMs: 60000 }',
        'classes:',
        '  - name: static_assets',
        '    pathPatterns: ["/static/*"]',
        '    ttl: { min: 0, default: 90000, max: 86400 }',
        '    browserTtl: 60',
        '',
      ].join('\n'),
    );
    const res = await runCli(['config', 'check', '-c', 'x.yaml'], { cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/classes\[0\]\.ttl\.default: must be ≤ ttl\.max \(86400\) \(got 90000\)/);
    expect(res.stderr).toMatch(/defaultClass: unknown class; defined: static_assets \(got "nope"\)/);
    expect(res.stderr).toMatch(/server\.headersTimeoutMs: must be > server\.keepAliveTimeoutMs/);
  });

  it('exits 0 on a good file and on embedded defaults', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-cli-'));
    expect((await runCli(['config', 'check'], { cwd: dir })).code).toBe(0);
    await writeFile(join(dir, 'edgewise.yaml'), 'server:\n  port: 9000\n');
    const res = await runCli(['config', 'check'], { cwd: dir });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/ok/);
  });

  it('config print marks each value default, file or env', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-cli-'));
    await writeFile(join(dir, 'edgewise.yaml'), 'server:\n  port: 9000\n');
    const res = await runCli(['config', 'print'], { cwd: dir, env: { EDGEWISE__SERVER__HOST: '0.0.0.0' } });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/port: 9000 # file/);
    expect(res.stdout).toMatch(/host: 0\.0\.0\.0 # env:EDGEWISE__SERVER__HOST/);
    expect(res.stdout).toMatch(/keepAliveTimeoutMs: 65000 # default/);
    const json = await runCli(['config', 'print', '--json'], { cwd: dir });
    const parsed = JSON.parse(json.stdout) as {
      config: { server: { port: number } };
      sources: Record<string, string>;
    };
    expect(parsed.config.server.port).toBe(9000);
    expect(parsed.sources['server.port']).toBe('file');
  });
});

describe('edgewise config print secrets', () => {
  it('never prints credentials, whether from the file or the environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-cli-'));
    await writeFile(
      join(dir, 'edgewise.yaml'),
      'uploads:\n  apiKeys: ["file-api-key-123456789012345"]\n  signing:\n    secrets: [{ id: k1, secret: "file-secret-0123456789abcdef0123456789" }]\n',
    );
    const res = await runCli(['config', 'print'], {
      cwd: dir,
      env: { EDGEWISE__CLOUDFRONT__APIKEY: 'env-api-key-abcdefabcdefabcdef' },
    });
    expect(res.code).toBe(0);
    const json = await runCli(['config', 'print', '--json'], {
      cwd: dir,
      env: { EDGEWISE__CLOUDFRONT__APIKEY: 'env-api-key-abcdefabcdefabcdef' },
    });
    for (const out of [res.stdout, json.stdout]) {
      expect(out).not.toContain('file-api-key');
      expect(out).not.toContain('file-secret');
      expect(out).not.toContain('env-api-key');
      expect(out).toContain('[redacted]');
    }
    expect(res.stdout).toMatch(/apiKey: "?\[redacted\]"? # env:EDGEWISE__CLOUDFRONT__APIKEY/);
  });
});

describe('README CLI table', () => {
  it('names every command', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const from = readme.indexOf('## CLI');
    const table = readme.slice(from, readme.indexOf('\n## ', from + 1));
    for (const cmd of commands) {
      const [first, second] = cmd.path;
      const pattern = second
        ? new RegExp(`edgewise ${first} [^|]*\\b${second}\\b`)
        : new RegExp(`\`edgewise ${first}\``);
      expect(table, cmd.path.join(' ')).toMatch(pattern);
    }
  });
});

describe('listen failures', () => {
  it('a port in use is a one-line message naming the option, exit 1, no stack', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-cli-'));
    const res = await runCli(['serve'], {
      cwd: dir,
      env: { EDGEWISE__SERVER__PORT: String(port), EDGEWISE__STORAGE__FS__DATADIR: join(dir, 'data') },
    });
    blocker.close();
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      new RegExp(`127\\.0\\.0\\.1:${port} is already in use.*EDGEWISE__SERVER__PORT`),
    );
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });
});
