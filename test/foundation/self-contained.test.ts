/**
 * A clone is the whole project: nothing in it may read the workspace's sibling folder of shared
 * material (a fresh `git clone` has none, and `npm test` failed there with ENOENT on data files
 * that lived beside the repository). Public data lives in test/fixtures/data with its licence.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const SKIP = new Set(['node_modules', 'dist', '.git', 'test-artifacts', 'data', 'coverage']);
const TEXT = /\.(ts|js|mjs|cjs|json|md|yaml|yml|sh|html|css)$|^(Dockerfile|run)$/;
// Spelled in two pieces so this file does not match itself.
const SIBLING = ['..', 'shared'].join('/');

async function* files(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) && dir === ROOT.replace(/\/$/, '')) continue;
    if (entry.name === 'node_modules' || entry.name === '.git') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (TEXT.test(entry.name)) yield path;
  }
}

describe('the repository is self-contained', () => {
  it(`no file refers to ${SIBLING}`, async () => {
    const offenders: string[] = [];
    for await (const path of files(ROOT.replace(/\/$/, ''))) {
      const text = await readFile(path, 'utf8');
      if (text.includes(SIBLING)) offenders.push(relative(ROOT, path));
    }
    expect(offenders).toEqual([]);
  });

  it('the public data the tests and bench read is in test/fixtures/data', async () => {
    const names = await readdir(join(ROOT, 'test/fixtures/data'));
    expect(names).toEqual(
      expect.arrayContaining([
        'adaptsize-request.trace.xz',
        'aws-sample-cloudfront-access-logs.gz',
        'README.md',
      ]),
    );
  });

  it('no test imports from bench/ (bench is a consumer of test helpers, never the reverse)', async () => {
    const offenders: string[] = [];
    for await (const path of files(join(ROOT, 'test'))) {
      if (!path.endsWith('.ts')) continue;
      if (/from\s+['"](\.\.\/)+bench\//.test(await readFile(path, 'utf8')))
        offenders.push(relative(ROOT, path));
    }
    expect(offenders).toEqual([]);
  });
});
