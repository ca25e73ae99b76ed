/**
 * Storage failing in the middle of an upload: s3rver is cut off after the first part of a
 * multipart upload went through. The client gets a coded 503, never a 500 or a hang, and the
 * key holds nothing (checked in s3rver's own folder, since the server is gone).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildOrigin } from '../../src/app.js';
import { LiveConfig } from '../../src/config/live.js';
import { buildConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { S3Driver } from '../../src/storage/s3.js';
import { type RunningS3rver, startS3rver, TEST_CREDENTIALS } from '../helpers/s3rver.js';
import { API_KEY } from './helpers.js';

describe('storage outage mid-upload (s3 driver)', () => {
  let s3: RunningS3rver;
  let app: Awaited<ReturnType<typeof buildOrigin>>;
  let url: string;
  beforeAll(async () => {
    s3 = await startS3rver();
    const storage = new S3Driver({
      bucket: s3.bucket,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      partSizeBytes: 5 * 1024 * 1024,
      queueSize: 1,
      credentials: TEST_CREDENTIALS,
    });
    const config = buildConfig(
      {
        server: { overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 } },
        uploads: { apiKeys: [API_KEY], precompress: { enabled: false } },
      },
      undefined,
    );
    app = await buildOrigin({
      config: new LiveConfig(config),
      storage,
      logger: createLogger({ level: 'silent', pretty: false }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    await app.close();
    await s3.close();
  });

  test('answers 503 EDGEWISE_STORAGE_UNAVAILABLE and publishes nothing', async () => {
    const before = await request(`${url}/uploads/static/before.bin`, {
      method: 'PUT',
      body: 'stored while s3rver was up',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/octet-stream' },
    });
    expect(before.statusCode).toBe(201);
    await before.body.text();
    const body = new PassThrough();
    const sending = request(`${url}/uploads/static/outage.bin`, {
      method: 'PUT',
      body,
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/octet-stream' },
    });
    // One full part (5 MiB) and more: the multipart upload has begun at s3rver.
    body.write(Buffer.alloc(6 * 1024 * 1024, 1));
    for (let i = 0; i < 200 && (await s3.pendingUploads()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect((await s3.pendingUploads()).length).toBe(1);
    s3.kill();
    body.end(Buffer.alloc(5 * 1024 * 1024, 2));
    const res = await sending;
    const json = (await res.body.json()) as { code: string };
    expect(res.statusCode).toBe(503);
    expect(json.code).toBe('EDGEWISE_STORAGE_UNAVAILABLE');
    // s3rver keeps an object's bytes in <bucket>/<key>._S3rver_object.
    expect(existsSync(join(s3.directory, s3.bucket, 'static', 'outage.bin._S3rver_object'))).toBe(false);
    expect(existsSync(join(s3.directory, s3.bucket, 'static', 'before.bin._S3rver_object'))).toBe(true);
  });
});
