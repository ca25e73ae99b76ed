/** The cloudfront config section: every cross-field rule reports its key path. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { buildConfig, ConfigError } from '../../src/config/index.js';

function issues(raw: object): string[] {
  try {
    buildConfig(raw, undefined);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

const dir = mkdtempSync(join(tmpdir(), 'edgewise-cf-config-'));
const pem = (type: 'rsa' | 'ec', bits = 2048) => {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: bits })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    priv: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    pub: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
};

test('defaults are valid and need no key', () => {
  expect(issues({})).toEqual([]);
});

test('signing: id and key together, readable RSA-2048 only', () => {
  expect(issues({ cloudfront: { signing: { keyPairId: 'K1' } } })).toEqual([
    'cloudfront.signing: keyPairId and privateKey/privateKeyFile must be set together',
  ]);
  expect(
    issues({ cloudfront: { signing: { keyPairId: 'K1', privateKeyFile: join(dir, 'missing.pem') } } }),
  ).toEqual(['cloudfront.signing.privateKeyFile: file not found']);
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a key');
  expect(issues({ cloudfront: { signing: { keyPairId: 'K1', privateKeyFile: garbage } } })[0]).toMatch(
    /^cloudfront\.signing\.privateKeyFile: not a readable PEM key/,
  );
  expect(issues({ cloudfront: { signing: { keyPairId: 'K1', privateKey: pem('ec').priv } } })[0]).toMatch(
    /must be an RSA key \(got ec\)/,
  );
  expect(
    issues({ cloudfront: { signing: { keyPairId: 'K1', privateKey: pem('rsa', 3072).priv } } })[0],
  ).toMatch(/must be RSA-2048.*got 3072/);
  expect(issues({ cloudfront: { signing: { keyPairId: 'K1', privateKey: pem('rsa').priv } } })).toEqual([]);
});

test('expiry bounds, trusted keys, forwardHeaders classes', () => {
  const key = pem('rsa').pub;
  expect(
    issues({
      cloudfront: {
        signing: { defaultExpiresSeconds: 7200, maxExpiresSeconds: 3600 },
        trustedKeys: [{ id: 'A', publicKey: key }, { id: 'A', publicKey: key }, { id: 'B' }],
        forwardHeaders: { nope: ['x-a'] },
      },
    }),
  ).toEqual([
    'cloudfront.signing.defaultExpiresSeconds: must be ≤ cloudfront.signing.maxExpiresSeconds (3600)',
    'cloudfront.forwardHeaders.nope: unknown class',
    'cloudfront.trustedKeys[1].id: duplicate key id',
    'cloudfront.trustedKeys[2]: set exactly one of publicKey or publicKeyFile',
  ]);
});

test('s3OriginClasses: known classes, the s3 driver with a bucket, and a prefix CloudFront can prepend', () => {
  const s3 = { driver: 's3', s3: { bucket: 'b-example', prefix: 'site/' } };
  expect(
    issues({ cloudfront: { distribution: { s3OriginClasses: ['static_assets'] } }, storage: s3 }),
  ).toEqual([]);
  expect(issues({ cloudfront: { distribution: { s3OriginClasses: ['static_assets'] } } })).toEqual([
    'cloudfront.distribution.s3OriginClasses: an S3 origin reads the storage bucket: needs storage.driver s3 and storage.s3.bucket',
  ]);
  expect(
    issues({
      cloudfront: { distribution: { s3OriginClasses: ['nope', 'static_assets'] } },
      storage: { ...s3, s3: { bucket: 'b-example', prefix: 'site-' } },
    }),
  ).toEqual([
    'cloudfront.distribution.s3OriginClasses: unknown class',
    'storage.s3.prefix: must be empty or end with / for an S3 origin (CloudFront prepends it as the OriginPath)',
  ]);
});
