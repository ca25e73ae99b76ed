import { describe, expect, it } from 'vitest';
import { checkPath, examinePath } from '../../src/http/path.js';
import { PATH_CASES } from '../differential/paths.js';

describe('canonical path', () => {
  it.each(PATH_CASES)('%s → %s', (raw, want) => {
    const got = checkPath(raw);
    if (want === '!') expect(got.kind).toBe('invalid');
    else if (want.startsWith('->')) expect(got).toEqual({ kind: 'non-canonical', canonical: want.slice(2) });
    else expect(got).toEqual({ kind: 'canonical', key: want });
  });

  it('the fast path agrees with the full examination', () => {
    for (const [raw] of PATH_CASES) {
      const full = examinePath(raw);
      const kind =
        full.problem !== undefined ? 'invalid' : full.canonical === raw ? 'canonical' : 'non-canonical';
      expect(checkPath(raw).kind, raw).toBe(kind);
    }
  });

  it('a canonical form is canonical (normalising twice changes nothing)', () => {
    for (const [raw, want] of PATH_CASES) {
      if (!want.startsWith('->')) continue;
      expect(checkPath(want.slice(2)).kind, raw).toBe('canonical');
    }
  });
});
