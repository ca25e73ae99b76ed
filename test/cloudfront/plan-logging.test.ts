/**
 * The distribution's standard logging and the prefetch worker's log source are one setting: a
 * log file written where the plan tells CloudFront to write (Logging.Bucket + Logging.Prefix,
 * CloudFront's own file naming) is read by `edgewise prefetch run` against a real S3-protocol
 * server. Also: aliases need an ACM certificate, served by SNI with TLSv1.2_2021.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildPlan } from '../../src/cloudfront/plan.js';
import { buildConfig } from '../../src/config/index.js';
import { runCli } from '../helpers/cli.js';
import { type RunningS3rver, startS3rver, TEST_CREDENTIALS } from '../helpers/s3rver.js';

const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666';

describe('viewer certificate and aliases', () => {
  test('an ACM certificate is served by SNI with TLSv1.2_2021; none gives the cloudfront.net one', () => {
    const { config } = buildConfig(
      { cloudfront: { distribution: { aliases: ['cdn.example.com'], certificateArn: CERT } } },
      undefined,
    );
    const d = buildPlan(config).distributionConfig;
    expect(d.Aliases).toEqual({ Quantity: 1, Items: ['cdn.example.com'] });
    expect(d.ViewerCertificate).toEqual({
      ACMCertificateArn: CERT,
      SSLSupportMethod: 'sni-only',
      MinimumProtocolVersion: 'TLSv1.2_2021',
    });
    const bare = buildPlan(buildConfig({}, undefined).config).distributionConfig;
    expect(bare.ViewerCertificate).toEqual({ CloudFrontDefaultCertificate: true });
  });

  test('aliases without a certificate, or a certificate outside us-east-1, are config errors', () => {
    expect(() =>
      buildConfig({ cloudfront: { distribution: { aliases: ['cdn.example.com'] } } }, undefined),
    ).toThrow(/cloudfront\.distribution\.aliases.*need cloudfront\.distribution\.certificateArn/);
    expect(() =>
      buildConfig(
        {
          cloudfront: {
            distribution: {
              aliases: ['cdn.example.com'],
              certificateArn: CERT.replace('us-east-1', 'eu-west-1'),
            },
          },
        },
        undefined,
      ),
    ).toThrow(/cloudfront\.distribution\.certificateArn/);
  });
});

describe('standard logging goes where the prefetch worker reads', () => {
  let s3: RunningS3rver;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3.close();
  });

  test('without an S3 log source there is no logging, and the plan says why', () => {
    const plan = buildPlan(buildConfig({}, undefined).config);
    expect(plan.distributionConfig.Logging?.Enabled).toBe(false);
    expect(plan.warnings.join('\n')).toMatch(/no standard logging.*prefetch\.logs\.source storage/);
  });

  test('a log file CloudFront writes at Logging.Bucket/Prefix is read by `prefetch run`', async () => {
    const raw = {
      storage: {
        driver: 's3',
        s3: { bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true, prefix: 'site/' },
      },
      prefetch: { logs: { source: 'storage', prefix: 'cloudfront-logs/' } },
    };
    const plan = buildPlan(buildConfig(raw, undefined).config);
    const logging = plan.distributionConfig.Logging!;
    expect(logging).toEqual({
      Enabled: true,
      IncludeCookies: false,
      Bucket: `${s3.bucket}.s3.amazonaws.com`,
      Prefix: 'site/cloudfront-logs/',
    });
    // What CloudFront delivers: <prefix><distribution id>.<YYYY-MM-DD-HH>.<unique id>.gz
    const hour = new Date(Date.now() - 3_600_000).toISOString().slice(0, 13).replace('T', '-');
    const key = `${logging.Prefix}E2QWRUHEXAMPLE.${hour}.a1b2c3d4.gz`;
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: TEST_CREDENTIALS,
    });
    await client.send(
      new PutObjectCommand({
        Bucket: logging.Bucket!.replace(/\.s3\.amazonaws\.com$/, ''),
        Key: key,
        Body: gzipSync('#Version: 1.0\n#Fields: date time x-edge-location\n'),
      }),
    );
    client.destroy();
    const dir = mkdtempSync(join(tmpdir(), 'edgewise-plan-logging-'));
    writeFileSync(join(dir, 'edgewise.json'), JSON.stringify(raw));
    const res = await runCli(
      ['prefetch', 'run', '--config', join(dir, 'edgewise.json'), '--dry-run', '--json'],
      {
        cwd: dir,
        env: {
          AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        },
      },
    );
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout.trim().split('\n').at(-1)!).files).toMatchObject({ read: 1 });
  });
});
