/**
 * The conformance suite against the S3 driver: always against s3rver on 127.0.0.1:0, and also
 * against a real S3 endpoint when EDGEWISE_TEST_S3_* variables name one.
 */
import { randomBytes } from 'node:crypto';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { describe } from 'vitest';
import { S3Driver } from '../../src/storage/s3.js';
import { type RunningS3rver, startS3rver, TEST_CREDENTIALS } from '../helpers/s3rver.js';
import { storageDriverTests } from './conformance.js';
import { realS3Env } from './real-s3.js';

const PART = 5 * 1024 * 1024;

describe('s3 driver against s3rver', () => {
  let s3rver: RunningS3rver;
  storageDriverTests(async () => {
    s3rver = await startS3rver();
    const driver = new S3Driver({
      bucket: s3rver.bucket,
      region: 'us-east-1',
      endpoint: s3rver.endpoint,
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      partSizeBytes: PART,
      queueSize: 2,
      credentials: TEST_CREDENTIALS,
    });
    return {
      driver,
      leftovers: async () => (await s3rver.pendingUploads()).length,
      cleanup: async () => {
        await driver.close();
        await s3rver.close();
      },
    };
  });
});

const real = realS3Env();
describe.skipIf(!real)(
  `s3 driver against a real endpoint${real ? '' : ' (skipped: set EDGEWISE_TEST_S3_ENDPOINT, _BUCKET, _REGION, _ACCESS_KEY_ID, _SECRET_ACCESS_KEY)'}`,
  () => {
    storageDriverTests(async () => {
      const env = real!;
      const prefix = `edgewise-test/${randomBytes(6).toString('hex')}/`;
      const driver = new S3Driver({ ...env, prefix, partSizeBytes: PART, queueSize: 2 });
      return {
        driver,
        leftovers: async () => {
          const out = await driver.client.send(
            new ListMultipartUploadsCommand({ Bucket: env.bucket, Prefix: prefix }),
          );
          return out.Uploads?.length ?? 0;
        },
        cleanup: async () => {
          for await (const m of driver.list('')) await driver.delete(m.key);
          await driver.close();
        },
      };
    });
  },
);
