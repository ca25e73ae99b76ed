import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReference, REFERENCE_BEGIN, REFERENCE_END } from '../../src/config/reference.js';

describe('docs/configuration.md config reference', () => {
  it('matches the schema (regenerate with `edgewise config reference --readme docs/configuration.md`)', () => {
    const readme = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const start = readme.indexOf(REFERENCE_BEGIN);
    const end = readme.indexOf(REFERENCE_END);
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start + REFERENCE_BEGIN.length, end).trim()).toBe(configReference().trim());
  });

  it('documents every option with a meaning', () => {
    const rows = configReference().split('\n').slice(2);
    const undocumented = rows.filter((r) => r.trimEnd().endsWith('|  |') || r.trimEnd().endsWith('| |'));
    expect(undocumented).toEqual([]);
  });
});
