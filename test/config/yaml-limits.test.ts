/**
 * A config file that is not sound YAML is invalid config like any other: `config check` says so
 * on one line and exits 2, whatever kind of parse failure it is — including a "billion laughs"
 * alias bomb, which the yaml package refuses (maxAliasCount) rather than expanding.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { ConfigInvalid } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';

/** Nine levels of nine aliases each: 9^9 (387 million) strings if expanded. */
function billionLaughs(): string {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= 8; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(',')}]`,
    );
  return `${lines.join('\n')}\n`;
}

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-yaml-'));
  const file = join(dir, 'edgewise.yaml');
  await writeFile(file, text);
  return file;
}

/** A stack frame as V8 prints it: "    at fn (file:line:col)". */
const STACK_FRAME = /^\s+at\s/m;

describe('config files that are not sound YAML', () => {
  it('an alias bomb is EDGEWISE_CONFIG_INVALID from the loader, not a ReferenceError', async () => {
    const file = await configFile(billionLaughs());
    let caught: unknown;
    try {
      loadConfig({ file, env: {} });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.code).toBe(ConfigInvalid.code);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]!.message).toMatch(/^YAML: too many alias expansions/);
  });

  it('config check on an alias bomb: exit 2, one clear line per problem, no stack, finishes', async () => {
    const file = await configFile(billionLaughs());
    // The timeout kills the child (SIGKILL), so a hang shows as code null, not a stuck test.
    const res = await runCli(['config', 'check', '--config', file], { timeoutMs: 20_000 });
    expect(res.code).toBe(ConfigInvalid.exit);
    expect(res.stderr).toContain(`edgewise: invalid config ${file}`);
    expect(res.stderr).toMatch(/YAML: too many alias expansions/);
    expect(res.stderr).not.toMatch(STACK_FRAME);
    expect(res.stderr).not.toMatch(/ReferenceError|node_modules/);
    expect(res.stdout).toBe('');
  });

  it('a syntax error and an unknown alias are invalid config too (exit 2, no stack)', async () => {
    for (const text of ['server: [unclosed\n', 'server: *nowhere\n', 'a: 1\na: 2\n']) {
      const file = await configFile(text);
      const res = await runCli(['config', 'check', '--config', file], { timeoutMs: 20_000 });
      expect(res.code, text).toBe(ConfigInvalid.exit);
      expect(res.stderr, text).toContain(`edgewise: invalid config ${file}`);
      expect(res.stderr, text).toMatch(/YAML/);
      expect(res.stderr, text).not.toMatch(STACK_FRAME);
    }
  });

  it('a config path that is a directory is invalid config, not an EISDIR stack', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-yaml-'));
    const res = await runCli(['config', 'check', '--config', dir], { timeoutMs: 20_000 });
    expect(res.code).toBe(ConfigInvalid.exit);
    expect(res.stderr).toContain(`edgewise: invalid config ${dir}`);
    expect(res.stderr).not.toMatch(STACK_FRAME);
  });
});
