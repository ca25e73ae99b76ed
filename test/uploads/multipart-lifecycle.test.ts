/**
 * Abandoned resumable uploads on AWS: the CloudFront plan carries the storage bucket's lifecycle
 * rules (the input of PutBucketLifecycleConfiguration) when the s3 driver is configured, and
 * `storage cleanup --print-rule` prints the same rules. s3rver has no lifecycle engine, so what
 * S3 does with the rules is not exercised here.
 */
import { describe, expect, test } from 'vitest';
import { buildPlan } from '../../src/cloudfront/plan.js';
import { buildConfig } from '../../src/config/index.js';
import { lifecycleRule } from '../../src/storage/cleanup.js';

describe('S3 lifecycle rules for abandoned multipart uploads', () => {
  test('the plan emits them for the s3 driver, under its prefix, and not for fs', () => {
    const { config } = buildConfig(
      { storage: { driver: 's3', s3: { bucket: 'shop-media', region: 'eu-west-1', prefix: 'media/' } } },
      undefined,
    );
    const plan = buildPlan(config);
    expect(plan.storageLifecycle?.Bucket).toBe('shop-media');
    const rules = plan.storageLifecycle?.LifecycleConfiguration.Rules ?? [];
    expect(rules).toContainEqual({
      ID: 'edgewise-abort-incomplete-multipart-uploads',
      Status: 'Enabled',
      Filter: { Prefix: 'media/' },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    });
    // Staged resumable uploads (completed, checked, not yet copied: a crash in between).
    expect(rules).toContainEqual(
      expect.objectContaining({ Filter: { Prefix: 'media/.edgewise/multipart/' }, Expiration: { Days: 1 } }),
    );
    expect(plan.storageLifecycle?.LifecycleConfiguration).toEqual(lifecycleRule('media/'));
    expect(buildPlan(buildConfig({}, undefined).config).storageLifecycle).toBeUndefined();
  });
});
