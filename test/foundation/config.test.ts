import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classify } from '../../src/classes.js';
import { LiveConfig } from '../../src/config/live.js';
import { buildConfig, ConfigError, loadConfig } from '../../src/config/load.js';

function issuesOf(fn: () => unknown): Array<{ path: string; message: string }> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('config defaults', () => {
  it('reproduce the specified behaviors exactly', () => {
    const { config } = buildConfig({}, undefined);
    const byName = Object.fromEntries(config.classes.map((c) => [c.name, c]));
    expect(byName.static_assets?.ttl.default).toBe(86400);
    expect(byName.static_assets?.compress).toBe(true);
    expect(byName.static_assets?.viewerProtocolPolicy).toBe('redirect-to-https');
    expect(byName.api_responses?.ttl.default).toBe(300);
    expect(byName.api_responses?.compress).toBe(false);
    expect(byName.api_responses?.cacheKey.headers).toEqual(['authorization']);
    expect(byName.user_content?.ttl.default).toBe(3600);
    expect(byName.user_content?.compress).toBe(true);
    expect(byName.user_content?.signed).toBe(true);
    expect(config.origin).toMatchObject({
      connectTimeoutMs: 10000,
      responseTimeoutMs: 30000,
      keepAliveMs: 5000,
      protocol: 'http2',
    });
    expect(config.storage.driver).toBe('fs');
  });

  it('is deeply frozen and never mutates the caller’s object', () => {
    const raw = { server: { port: 9001 } };
    const { config } = buildConfig(raw, undefined);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.classes[0]!.ttl)).toBe(true);
    expect(raw).toEqual({ server: { port: 9001 } });
  });

  it('keeps 0 as a real TTL rather than falling back to a default', () => {
    const { config } = buildConfig(
      {
        classes: [{ name: 'live', pathPatterns: ['/*'], ttl: { min: 0, default: 0, max: 0 }, browserTtl: 0 }],
        defaultClass: 'live',
      },
      undefined,
    );
    expect(config.classes[0]!.ttl).toEqual({ min: 0, default: 0, max: 0 });
  });
});

describe('config validation', () => {
  it('lists every problem with its key path, value and what is allowed', () => {
    const issues = issuesOf(() =>
      buildConfig(
        {
          server: { port: 70000, colour: 'blue' },
          storage: { driver: 'ftp' },
          classes: [
            {
              name: 'static_assets',
              pathPatterns: ['/static/*'],
              ttl: { min: 0, default: 90000, max: 86400 },
              browserTtl: 60,
            },
          ],
          defaultClass: 'static_assets',
        },
        'edgewise.yaml',
      ),
    );
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('server.port');
    expect(paths).toContain('server.colour');
    expect(paths).toContain('storage.driver');
    expect(issues.find((i) => i.path === 'storage.driver')?.message).toMatch(/"fs", "s3"/);
    expect(issues.find((i) => i.path === 'server.colour')?.message).toMatch(
      /unknown option; allowed: host, port/,
    );
  });

  it('checks TTL order, class names and shadowed patterns together', () => {
    const issues = issuesOf(() =>
      buildConfig(
        {
          classes: [
            {
              name: 'a',
              pathPatterns: ['/static/*'],
              ttl: { min: 100, default: 50, max: 10 },
              browserTtl: 0,
            },
            { name: 'a', pathPatterns: ['/static/css/*'], ttl: { default: 1, max: 2 }, browserTtl: 0 },
          ],
          defaultClass: 'missing',
        },
        undefined,
      ),
    );
    const text = issues.map((i) => `${i.path}: ${i.message}`);
    expect(text).toContain('classes[0].ttl.min: must be ≤ ttl.max (10)');
    expect(text).toContain('classes[0].ttl.default: must be ≥ ttl.min (100)');
    expect(text).toContain('classes[0].ttl.default: must be ≤ ttl.max (10)');
    expect(text).toContain('classes[1].name: duplicate class name');
    expect(text.some((t) => t.startsWith('defaultClass: unknown class'))).toBe(true);
    expect(
      text.some((t) =>
        t.startsWith('classes[1].pathPatterns[0]: can never match: classes[0].pathPatterns[0]'),
      ),
    ).toBe(true);
  });

  it('requires a bucket for the s3 driver and sane keep-alive ordering', () => {
    const issues = issuesOf(() =>
      buildConfig(
        { storage: { driver: 's3' }, server: { keepAliveTimeoutMs: 4000, headersTimeoutMs: 3000 } },
        undefined,
      ),
    );
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['storage.s3.bucket', 'server.headersTimeoutMs', 'server.keepAliveTimeoutMs']),
    );
  });

  it('reports YAML syntax errors with the file name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-cfg-'));
    await writeFile(join(dir, 'bad.yaml'), 'server:\n  port: [1, 2\n');
    const issues = issuesOf(() => loadConfig({ file: 'bad.yaml', cwd: dir, env: {} }));
    expect(issues[0]?.message).toMatch(/YAML syntax/);
  });

  it('fails clearly when an explicit file is missing', () => {
    const issues = issuesOf(() => loadConfig({ file: '/nonexistent/edgewise.yaml', env: {} }));
    expect(issues[0]?.message).toBe('config file not found');
  });
});

describe('environment overrides', () => {
  it('override file values, coerce scalars and address classes by name', () => {
    const loaded = buildConfig({ server: { port: 9000 } }, 'edgewise.yaml', {
      EDGEWISE__SERVER__PORT: '9100',
      EDGEWISE__SERVER__H2C: 'true',
      EDGEWISE__CLASSES__API_RESPONSES__TTL__DEFAULT: '120',
      EDGEWISE__STORAGE__FS__DATADIR: '0123',
      UNRELATED: 'x',
    });
    expect(loaded.config.server.port).toBe(9100);
    expect(loaded.config.server.h2c).toBe(true);
    expect(loaded.config.classes.find((c) => c.name === 'api_responses')?.ttl.default).toBe(120);
    // String options are taken verbatim (a leading zero is not a number).
    expect(loaded.config.storage.fs.dataDir).toBe('0123');
    expect(loaded.sources.get('server.port')).toBe('env:EDGEWISE__SERVER__PORT');
    expect(loaded.sources.get('server.host')).toBe('default');
  });

  it('records where each value came from', () => {
    const loaded = buildConfig({ server: { port: 9000 } }, 'edgewise.yaml', {});
    expect(loaded.sources.get('server.port')).toBe('file');
    expect(loaded.sources.get('classes[0].ttl.default')).toBe('default');
  });

  it('rejects unknown variables and invalid values like the file', () => {
    expect(issuesOf(() => buildConfig({}, undefined, { EDGEWISE__SERVER__NOPE: '1' }))[0]?.message).toMatch(
      /unknown option "NOPE"/,
    );
    expect(issuesOf(() => buildConfig({}, undefined, { EDGEWISE__SERVER__PORT: 'eighty' }))[0]?.path).toBe(
      'server.port',
    );
  });
});

describe('content classes', () => {
  it('first declared match wins, else the default class', () => {
    const { config } = buildConfig({}, undefined);
    expect(classify(config, '/static/app.js').name).toBe('static_assets');
    expect(classify(config, '/api/cart').name).toBe('api_responses');
    expect(classify(config, '/u/42/photo.jpg').name).toBe('user_content');
    expect(classify(config, '/favicon.ico').name).toBe('static_assets');
  });

  it('treats * as any characters including / and ? as one character', () => {
    const { config } = buildConfig(
      {
        classes: [
          { name: 'js', pathPatterns: ['*.js'], ttl: { default: 1, max: 2 }, browserTtl: 0 },
          { name: 'one', pathPatterns: ['/v?/*'], ttl: { default: 1, max: 2 }, browserTtl: 0 },
          { name: 'rest', pathPatterns: ['/*'], ttl: { default: 1, max: 2 }, browserTtl: 0 },
        ],
        defaultClass: 'rest',
      },
      undefined,
    );
    expect(classify(config, '/deep/dir/app.js').name).toBe('js');
    expect(classify(config, '/v1/x').name).toBe('one');
    expect(classify(config, '/v10/x').name).toBe('rest');
  });
});

describe('live reload', () => {
  it('applies new TTLs, keeps restart-only sections, and rejects an invalid file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-reload-'));
    const file = join(dir, 'edgewise.yaml');
    await writeFile(file, 'server:\n  port: 9000\n');
    const store = LiveConfig.load({ file, env: {} });
    await writeFile(
      file,
      'server:\n  port: 9999\nclasses:\n  - name: static_assets\n    pathPatterns: ["/*"]\n    ttl: { default: 42, max: 100 }\n    browserTtl: 7\n',
    );
    const result = store.reload();
    expect(result.restartPending).toEqual(['server']);
    expect(result.applied).toContain('classes');
    expect(store.current.server.port).toBe(9000);
    expect(store.current.classes[0]!.ttl.default).toBe(42);

    await writeFile(file, 'classes: 7\n');
    expect(() => store.reload()).toThrow(ConfigError);
    expect(store.current.classes[0]!.ttl.default).toBe(42);
  });
});

describe('edgewise.example.yaml', () => {
  it('is valid and spells out exactly the default classes and origin settings', () => {
    const file = new URL('../../edgewise.example.yaml', import.meta.url).pathname;
    const example = loadConfig({ file, env: {} }).config;
    const defaults = buildConfig({}, undefined).config;
    expect(example.classes).toEqual(defaults.classes);
    expect(example.defaultClass).toBe(defaults.defaultClass);
    expect(example.origin).toEqual(defaults.origin);
  });
});
