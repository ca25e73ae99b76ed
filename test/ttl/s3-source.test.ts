/**
 * `ttl suggest --source prefetch` with prefetch.logs in the storage driver: log files and
 * revalidation records in an S3 bucket (s3rver), as CloudFront delivers logs, read through the
 * prefetch worker's StorageSource.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Driver } from '../../src/storage/s3.js';
import { runCli } from '../helpers/cli.js';
import { type RunningS3rver, startS3rver, TEST_CREDENTIALS } from '../helpers/s3rver.js';
import { CONFIG, scenario } from './fixtures.js';

describe('ttl suggest from an S3 bucket', () => {
  let s3: RunningS3rver;
  let driver: S3Driver;
  beforeAll(async () => {
    s3 = await startS3rver();
    driver = new S3Driver({
      bucket: s3.bucket,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      prefix: 'app/',
      credentials: TEST_CREDENTIALS,
    });
  });
  afterAll(async () => {
    await driver.close();
    await s3.close();
  });

  it('reads access logs and revalidation records under prefetch.logs.prefix', async () => {
    const s = await scenario();
    try {
      const names = ((await readdir(s.logs, { recursive: true })) as string[]).filter((n) => n.includes('.'));
      for (const n of names)
        await driver.put(`cf-logs/${n.split('/').pop()}`, Readable.from([await readFile(join(s.logs, n))]), {
          contentType: 'application/octet-stream',
        });
      await writeFile(s.config, `${CONFIG}prefetch:\n  logs:\n    source: storage\n    prefix: cf-logs/\n`);
      const env = {
        EDGEWISE__STORAGE__DRIVER: 's3',
        EDGEWISE__STORAGE__S3__BUCKET: s3.bucket,
        EDGEWISE__STORAGE__S3__ENDPOINT: s3.endpoint,
        EDGEWISE__STORAGE__S3__FORCEPATHSTYLE: 'true',
        EDGEWISE__STORAGE__S3__CHECKSUMMODE: 'WHEN_REQUIRED',
        EDGEWISE__STORAGE__S3__PREFIX: 'app/',
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        AWS_REGION: 'us-east-1',
      };
      const r = await runCli(['ttl', 'suggest', '--config', s.config, '--source', 'prefetch', '--json'], {
        env,
        timeoutMs: 60_000,
      });
      // (The AWS SDK may warn about the Node version on stderr.)
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as {
        mode: string;
        revalidationFiles: number;
        proposals: Array<{ class: string; proposed: number | null }>;
      };
      expect(out.mode).toBe('edge');
      expect(out.revalidationFiles).toBe(1);
      expect(out.proposals.map((p) => [p.class, p.proposed])).toEqual([
        ['news', 91],
        ['assets', 300],
        ['rare', null],
      ]);
    } finally {
      await rm(s.root, { recursive: true, force: true });
    }
  });
});
