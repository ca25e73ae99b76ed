/**
 * One duration syntax (src/config/duration.ts) for config values, environment overrides and CLI
 * options. Regression: `storage cleanup --older-than 30m` was refused by one of three
 * hand-written parsers while the help showed it; config options took only bare numbers.
 */

import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { configDurationUnit, parseDuration } from '../../src/config/duration.js';
import { buildConfig, ConfigError } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    [' 2h ', 7_200_000],
    ['15', 15_000],
  ])('%s = %d ms (bare numbers in seconds)', (text, ms) => expect(parseDuration(text, 's')).toBe(ms));

  it.each(['', '30x', '1.5h', '-5s', 'h', '1h 30m', '30 m', '1e3s'])('"%s" is not a duration', (text) =>
    expect(parseDuration(text, 's')).toBeUndefined(),
  );

  it('a bare number is the caller’s unit', () => {
    expect(parseDuration('250', 'ms')).toBe(250);
    expect(parseDuration('2', 'h')).toBe(7_200_000);
  });
});

/** Every integer/number option of the schema, with its key path (array indexes left out). */
function numericOptions(schema: TSchema, keys: string[] = []): string[][] {
  if (schema.type === 'object')
    return Object.entries((schema.properties ?? {}) as Record<string, TSchema>).flatMap(([k, s]) =>
      numericOptions(s, [...keys, k]),
    );
  if (schema.type === 'array') return numericOptions(schema.items as TSchema, keys);
  return schema.type === 'integer' || schema.type === 'number' ? [keys] : [];
}

describe('duration options in the config', () => {
  it('are recognised by name across the schema, with their units', () => {
    const units = new Map(
      numericOptions(ConfigSchema).map((k) => [k.join('.'), configDurationUnit(k)] as const),
    );
    expect(units.get('server.uploadTimeoutMs')).toBe('ms');
    expect(units.get('classes.ttl.default')).toBe('s');
    expect(units.get('classes.browserTtl')).toBe('s');
    expect(units.get('prefetch.watchIntervalSeconds')).toBe('s');
    expect(units.get('prefetch.logs.lookbackHours')).toBe('h');
    expect(units.get('server.port')).toBeUndefined();
    expect(units.get('prefetch.budget.requestsPerSecond')).toBeUndefined();
    // The schema has many time options (timeouts, intervals, TTLs); all are found by name.
    const durations = [...units].filter(([, u]) => u !== undefined).length;
    expect(durations).toBeGreaterThan(25);
  });

  it('take 2h, 1d, 90s… in the file and in the environment; bare numbers keep their unit', () => {
    const { config } = buildConfig(
      {
        server: { uploadTimeoutMs: '2h', requestTimeoutMs: 45000 },
        prefetch: { watchIntervalSeconds: '1m30s', logs: { lookbackHours: '2d' } },
        defaultClass: 'a',
        classes: [{ name: 'a', pathPatterns: ['/*'], ttl: { default: '1d', max: '7d' }, browserTtl: '10m' }],
      },
      undefined,
      { EDGEWISE__EDGE__SHUTDOWNDEADLINEMS: '5s' },
    );
    expect(config.server.uploadTimeoutMs).toBe(7_200_000);
    expect(config.server.requestTimeoutMs).toBe(45_000);
    expect(config.prefetch.watchIntervalSeconds).toBe(90);
    expect(config.prefetch.logs.lookbackHours).toBe(48);
    expect(config.classes[0]!.ttl).toMatchObject({ default: 86_400, max: 604_800 });
    expect(config.classes[0]!.browserTtl).toBe(600);
    expect(config.edge.shutdownDeadlineMs).toBe(5000);
  });

  it('refuse a non-duration or a fraction of the unit, once, with the path', () => {
    let err: unknown;
    try {
      buildConfig(
        {
          server: { uploadTimeoutMs: 'soon' },
          classes: [
            { name: 'a', pathPatterns: ['/*'], ttl: { default: 60, max: 3600 }, browserTtl: '1500ms' },
          ],
        },
        'x.yaml',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    expect(issues).toContain(
      'server.uploadTimeoutMs: must be a number of milliseconds or a duration (90s, 30m, 1h, 7d or 1h30m)',
    );
    expect(issues).toContain('classes[0].browserTtl: must be a whole number of seconds');
    expect(issues.filter((i) => i.startsWith('server.uploadTimeoutMs'))).toHaveLength(1);
  });
});

describe('duration options on the command line', () => {
  it('storage cleanup takes the syntax its help shows and refuses others with exit 2', async () => {
    const cwd = await tempDir('edgewise-duration-');
    const env = { EDGEWISE__STORAGE__FS__DATADIR: `${cwd}/data` };
    for (const ok of ['2h', '90m', '1d12h', '7200']) {
      const res = await runCli(['storage', 'cleanup', '--dry-run', '--older-than', ok], { cwd, env });
      expect(res.stderr, ok).toBe('');
      expect(res.code, ok).toBe(0);
    }
    const bad = await runCli(['storage', 'cleanup', '--older-than', '2 hours'], { cwd, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--older-than must be a duration: 90s, 30m, 1h, 7d or 1h30m');
    // 30m is a duration, but younger than an upload may run (server.uploadTimeoutMs): the reason says so.
    const young = await runCli(['storage', 'cleanup', '--older-than', '30m'], { cwd, env });
    expect(young.code).toBe(2);
    expect(young.stderr).toContain('--older-than must be at least server.uploadTimeoutMs');
    const withShortUploads = await runCli(['storage', 'cleanup', '--dry-run', '--older-than', '30m'], {
      cwd,
      env: { ...env, EDGEWISE__SERVER__UPLOADTIMEOUTMS: '20m' },
    });
    expect(withShortUploads.code).toBe(0);
  });
});
