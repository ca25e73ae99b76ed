/** No AWS SDK error crosses the seam: each failure arrives as one of our coded errors. */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { S3Driver, type S3DriverOptions } from '../../src/storage/s3.js';
import { type RunningS3rver, startS3rver, TEST_CREDENTIALS } from '../helpers/s3rver.js';

async function failure(
  p: Promise<unknown>,
): Promise<{ code?: string; statusCode?: number; cause?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; statusCode?: number };
  }
  throw new Error('expected a rejection');
}

describe('S3 error translation (s3rver)', () => {
  let s3: RunningS3rver;
  const drivers: S3Driver[] = [];
  const driver = (o: Partial<S3DriverOptions>) => {
    const d = new S3Driver({
      bucket: s3.bucket,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      credentials: TEST_CREDENTIALS,
      ...o,
    });
    drivers.push(d);
    return d;
  };
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    for (const d of drivers) await d.close();
    await s3.close();
  });

  test('refused credentials are 502 EDGEWISE_STORAGE_FAILED, with the SDK error as cause', async () => {
    // s3rver checks the access key id (not the signature): an unknown id is InvalidAccessKeyId.
    const d = driver({ credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong-secret' } });
    const err = await failure(d.get('a.txt'));
    expect(err).toMatchObject({ code: 'EDGEWISE_STORAGE_FAILED', statusCode: 502 });
    expect((err.cause as Error).name).toBe('InvalidAccessKeyId');
    expect(await failure(d.head('a.txt'))).toMatchObject({
      code: 'EDGEWISE_STORAGE_FAILED',
      statusCode: 502,
    });
    const put = await failure(
      d.put('a.txt', Readable.from([Buffer.from('x')]), { contentType: 'text/plain' }),
    );
    expect(put.code).toBe('EDGEWISE_STORAGE_FAILED');
    await expect(d.check()).rejects.toMatchObject({ code: 'EDGEWISE_STORAGE_FAILED' });
  });

  test('a missing bucket is 502 for get and check, not a miss', async () => {
    const d = driver({ bucket: 'no-such-bucket' });
    expect(await failure(d.get('a.txt'))).toMatchObject({ code: 'EDGEWISE_STORAGE_FAILED', statusCode: 502 });
    expect(await failure(d.check())).toMatchObject({ code: 'EDGEWISE_STORAGE_FAILED' });
    // A HEAD answer has no body, so S3's 404 cannot say NoSuchBucket: head reports a miss.
    // The readiness probe (check → HeadBucket) is what catches a wrong bucket.
    expect(await d.head('a.txt')).toBeUndefined();
  });

  test('an unreachable endpoint is 503 EDGEWISE_STORAGE_UNAVAILABLE', async () => {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    const d = driver({ endpoint: 'http://127.0.0.1:9' });
    expect(await failure(d.head('a.txt'))).toMatchObject({
      code: 'EDGEWISE_STORAGE_UNAVAILABLE',
      statusCode: 503,
    });
    expect(await failure(d.check())).toMatchObject({ code: 'EDGEWISE_STORAGE_UNAVAILABLE' });
  });

  test("the message (a viewer's answer body) names the failure, never the endpoint's address", async () => {
    const d = driver({ endpoint: 'http://127.0.0.1:9' });
    const err = (await failure(d.head('a.txt'))) as Error & { cause: Error };
    expect(err.message).toBe('Storage is unavailable: ECONNREFUSED');
    expect(err.cause.message).toContain('127.0.0.1:9');
    const refused = driver({ credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong-secret' } });
    expect((await failure(refused.get('a.txt'))) as Error).toMatchObject({
      message: 'Storage refused the operation: InvalidAccessKeyId (HTTP 403)',
    });
  });
});
