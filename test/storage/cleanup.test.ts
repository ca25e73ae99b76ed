import { existsSync } from 'node:fs';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cleanupIncomplete } from '../../src/storage/cleanup.js';
import { FsDriver } from '../../src/storage/fs.js';
import { S3Driver } from '../../src/storage/s3.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';
import { type RunningS3rver, startS3rver, TEST_CREDENTIALS } from '../helpers/s3rver.js';

const HOUR = 3600_000;

describe('storage cleanup: fs', () => {
  test('removes temp files older than the threshold, keeps younger ones (writes in progress)', async () => {
    const dataDir = await tempDir('edgewise-clean-');
    await mkdir(join(dataDir, 'tmp'), { recursive: true });
    const old = join(dataDir, 'tmp', 'old.part');
    await writeFile(old, 'x');
    const past = new Date(Date.now() - 48 * HOUR);
    await utimes(old, past, past);
    await writeFile(join(dataDir, 'tmp', 'young.part'), 'y');
    const driver = new FsDriver({ dataDir });
    const dry = await cleanupIncomplete(driver, { olderThanMs: 24 * HOUR, dryRun: true });
    expect(dry.map((l) => l.name)).toEqual(['old.part']);
    expect((await readdir(join(dataDir, 'tmp'))).sort()).toEqual(['old.part', 'young.part']);
    // onFound hears of each leftover once it is gone (the CLI prints it then: its progress).
    const heard: Array<[string, boolean]> = [];
    const done = await cleanupIncomplete(driver, {
      olderThanMs: 24 * HOUR,
      onFound: (l) => heard.push([l.name, existsSync(join(dataDir, 'tmp', l.name))]),
    });
    expect(heard).toEqual([['old.part', false]]);
    expect(done.map((l) => [l.kind, l.name])).toEqual([['temp-file', 'old.part']]);
    expect(await readdir(join(dataDir, 'tmp'))).toEqual(['young.part']);
  });
});

describe('storage cleanup: s3 (s3rver)', () => {
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

  test('aborts multipart uploads a crash left behind, only under the prefix and past the threshold', async () => {
    const start = (Key: string) =>
      driver.client.send(
        new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key, ContentType: 'text/plain' }),
      );
    await start('app/crashed.bin');
    await start('other/not-ours.bin');
    expect((await s3.pendingUploads()).length).toBe(2);
    // Nothing is old enough yet.
    expect(await cleanupIncomplete(driver, { olderThanMs: HOUR })).toEqual([]);
    const found = await cleanupIncomplete(driver, { olderThanMs: HOUR, now: Date.now() + 2 * HOUR });
    expect(found.map((l) => [l.kind, l.name])).toEqual([['multipart-upload', 'crashed.bin']]);
    expect((await s3.pendingUploads()).length).toBe(1);
  });

  test('the CLI does the same with the driver from config (credentials from the environment)', async () => {
    await driver.client.send(
      new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'app/cli.bin', ContentType: 'text/plain' }),
    );
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
    const cwd = await tempDir('edgewise-cli-');
    const young = await runCli(['storage', 'cleanup', '--older-than', '1h', '--dry-run'], {
      env,
      cwd,
      timeoutMs: 60_000,
    });
    expect(young.stdout, young.stderr).toContain('0 to remove (s3)');
    await s3.backdateUploads(2 * 3600_000);
    await driver.client.send(
      new CreateMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: 'app/running.bin',
        ContentType: 'text/plain',
      }),
    );
    const now = await runCli(['storage', 'cleanup', '--older-than', '1h'], { env, cwd, timeoutMs: 60_000 });
    expect(now.stdout, now.stderr).toContain('removed multipart-upload cli.bin');
    expect(now.stdout).toContain('1 removed (s3)');
    // Left: other/not-ours.bin (outside the prefix) and running.bin (younger than 1h).
    expect(await s3.pendingUploads()).toHaveLength(2);
    const tooYoung = await runCli(['storage', 'cleanup', '--older-than', '10s'], {
      env,
      cwd,
      timeoutMs: 60_000,
    });
    expect(tooYoung.code).toBe(2);
    expect(tooYoung.stderr).toContain('server.uploadTimeoutMs');
    const bad = await runCli(['storage', 'cleanup', '--older-than', 'soon'], { env, cwd, timeoutMs: 60_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--older-than must be');
    const rule = await runCli(['storage', 'cleanup', '--print-rule'], { env, cwd, timeoutMs: 60_000 });
    expect(JSON.parse(rule.stdout).Rules[0].AbortIncompleteMultipartUpload).toEqual({
      DaysAfterInitiation: 1,
    });
  });
});
