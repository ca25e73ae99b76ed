/**
 * The error catalogue (src/errors.ts) is the only source of codes and statuses: docs/errors.md
 * lists exactly its codes with their HTTP status (and the command-line codes with their exit
 * status), as fastify's test/internals/errors.test.js does for its docs, and no other module in
 * src/ or edge-functions/ writes a code as a string literal (it names `SomeError.code`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { catalogue, cliCatalogue } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');
const CLI_HEADING = '## Command-line errors';

/** `| \`CODE\` | number |` rows of one part of docs/errors.md. */
function table(text: string): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const m of text.matchAll(/^\|\s*`(EDGEWISE_[A-Z0-9_]+)`\s*\|\s*(\d+)\s*\|/gm))
    rows[m[1]!] = Number(m[2]);
  return rows;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/**
 * A code opening a string or template literal (`EDGEWISE__…`, config env variables, is no code),
 * or an error body's status written as a number instead of taken from the error.
 */
const CODE_LITERAL = /['"`]EDGEWISE_[A-Z][A-Z0-9_]*|statusCode: \d{3}/g;

/** For each command-line code, a command and a config file that raise it. */
const CLI_TRIGGERS: Record<keyof typeof cliCatalogue, { args: string[]; yaml: string; says: RegExp }> = {
  EDGEWISE_CONFIG_INVALID: {
    args: ['config', 'check'],
    yaml: 'server: { port: -1 }\n',
    says: /^edgewise: invalid config .*\n.*server\.port/,
  },
  EDGEWISE_CLOUDFRONT_PLAN: {
    args: ['cloudfront', 'plan', '--out', 'plan.json'],
    says: /^edgewise cloudfront plan: CloudFront plan is invalid:\n {2}- class static_assets: MaxTTL 0/,
    // A cache key on a class that does not cache: valid config, no CloudFront cache policy.
    yaml: `classes:
  - { name: static_assets, pathPatterns: ['/static/*'], ttl: { min: 0, default: 0, max: 0 }, browserTtl: 0, cacheKey: { cookies: [session] } }
`,
  },
  EDGEWISE_CLOUDFRONT_BUILD: {
    args: ['cloudfront', 'build', '--out', 'out'],
    says: /^edgewise cloudfront build: viewer-request is \d+ bytes, over CloudFront's 10240-byte limit/,
    // 240 long path patterns inlined: over CloudFront's 10 KB function limit.
    yaml: `defaultClass: c0\nclasses:\n${Array.from(
      { length: 24 },
      (_, i) =>
        `  - { name: c${i}, ttl: { default: 1, max: 2 }, browserTtl: 1, pathPatterns: [${Array.from(
          { length: 10 },
          (_, j) => `'/section-${i}/sub-${j}/long-segment-name/*'`,
        ).join(', ')}] }`,
    ).join('\n')}\n`,
  },
};

describe('error catalogue', () => {
  it('docs/errors.md has both tables, HTTP first', () => {
    expect(docs.indexOf(CLI_HEADING)).toBeGreaterThan(docs.indexOf('| `EDGEWISE_NOT_FOUND`'));
  });

  it('every HTTP code is documented in docs/errors.md with its status, and nothing else is', () => {
    const http = table(docs.slice(0, docs.indexOf(CLI_HEADING)));
    const fromCode = Object.fromEntries(Object.entries(catalogue).map(([code, c]) => [code, c.statusCode]));
    expect(http).toEqual(fromCode);
  });

  it('every command-line code is documented under "Command-line errors" with its exit status', () => {
    const cli = table(docs.slice(docs.indexOf(CLI_HEADING)));
    const fromCode = Object.fromEntries(Object.entries(cliCatalogue).map(([code, c]) => [code, c.exit]));
    expect(cli).toEqual(fromCode);
  });

  it('each catalogue key is the code its constructor raises, with the status it names', () => {
    for (const [code, ctor] of Object.entries(catalogue)) {
      const err = new (ctor as new () => { code: string; statusCode?: number })();
      expect([ctor.code, err.code, err.statusCode]).toEqual([code, code, ctor.statusCode]);
    }
    for (const [code, entry] of Object.entries(cliCatalogue)) expect(entry.code).toBe(code);
  });

  it('no module in src/ or edge-functions/ but src/errors.ts writes a code or an error status literal', () => {
    const found: string[] = [];
    for (const file of [...filesUnder(join(root, 'src')), ...filesUnder(join(root, 'edge-functions'))]) {
      const name = relative(root, file);
      if (name === join('src', 'errors.ts')) continue;
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const m of line.matchAll(CODE_LITERAL)) found.push(`${name}:${i + 1}: ${m[0]}`);
      });
    }
    expect(found).toEqual([]);
  });

  it.each(Object.entries(cliCatalogue))(
    '%s is the exit status the CLI gives, with its message and no stack',
    async (code, entry) => {
      const trigger = CLI_TRIGGERS[code as keyof typeof cliCatalogue];
      const dir = mkdtempSync(join(tmpdir(), 'edgewise-cli-error-'));
      writeFileSync(join(dir, 'edgewise.yaml'), trigger.yaml);
      const res = await runCli([...trigger.args, '--config', join(dir, 'edgewise.yaml')], { cwd: dir });
      rmSync(dir, { recursive: true, force: true });
      expect(res.code, res.stderr).toBe(entry.exit);
      expect(res.stderr).toMatch(trigger.says);
      expect(res.stderr).not.toMatch(/^\s+at\s/m);
    },
  );
});
