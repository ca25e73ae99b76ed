import { describe, expect, test } from 'vitest';
import { buildConfig, ConfigError } from '../../src/config/load.js';

function problems(raw: Record<string, unknown>): string[] {
  try {
    buildConfig(raw, undefined);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('uploads config', () => {
  test('defaults are valid and documented limits apply', () => {
    const c = buildConfig({}, undefined).config;
    expect(c.uploads).toMatchObject({ maxBytes: 5 * 1024 ** 3, maxConcurrent: 32, sniff: true, apiKeys: [] });
    expect(c.uploads.allowedTypes).not.toContain('text/html');
    expect(problems({ uploads: { apiKeys: ['short'] } }).join()).toContain('uploads.apiKeys');
    expect(
      problems({ uploads: { signing: { secrets: [{ id: 'a', secret: 'too-short' }] } } }).join(),
    ).toContain('uploads.signing.secrets');
    expect(problems({ uploads: { allowedTypes: ['Not A Type'] } }).join()).toContain('uploads.allowedTypes');
  });

  test('cross-field rules: expiry order, duplicate secret ids, S3 part ceiling', () => {
    const secret = 's'.repeat(32);
    expect(
      problems({ uploads: { signing: { defaultExpiresSeconds: 7200, maxExpiresSeconds: 3600 } } }),
    ).toContain('uploads.signing.defaultExpiresSeconds: must be ≤ uploads.signing.maxExpiresSeconds (3600)');
    expect(
      problems({
        uploads: {
          signing: {
            secrets: [
              { id: 'k', secret },
              { id: 'k', secret },
            ],
          },
        },
      }).join(),
    ).toContain('uploads.signing.secrets[1].id: duplicate secret id');
    const s3 = { driver: 's3', s3: { bucket: 'b-1', partSizeBytes: 5 * 1024 * 1024 } };
    expect(problems({ storage: s3, uploads: { maxBytes: 60 * 1024 ** 3 } }).join()).toContain(
      'uploads.maxBytes: must be ≤ storage.s3.partSizeBytes × 10000',
    );
    expect(problems({ storage: s3, uploads: { maxBytes: 40 * 1024 ** 3 } })).toEqual([]);
  });
});
