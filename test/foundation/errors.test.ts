/**
 * The error catalogue and the error table in docs/errors.md stay in step (as fastify's
 * test/internals/errors.test.js does for its docs).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogue } from '../../src/errors.js';

const readme = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

function readmeTable(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const m of readme.matchAll(/^\|\s*`(EDGEWISE_[A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm))
    rows.set(m[1]!, Number(m[2]));
  return rows;
}

describe('error catalogue', () => {
  it('every code is documented in docs/errors.md with its status, and nothing else is', () => {
    const table = readmeTable();
    const fromCode = new Map(
      Object.entries(catalogue).map(([code, ctor]) => {
        const err = new (ctor as new (...a: unknown[]) => { code: string; statusCode?: number })(
          'x',
          'y',
          'z',
        );
        return [code, err.statusCode ?? 500] as const;
      }),
    );
    expect(Object.fromEntries(table)).toEqual(Object.fromEntries(fromCode));
  });

  it('each catalogue key is the code its constructor raises', () => {
    for (const [code, ctor] of Object.entries(catalogue)) {
      const err = new (ctor as new (...a: unknown[]) => { code: string })();
      expect(err.code).toBe(code);
    }
  });
});
