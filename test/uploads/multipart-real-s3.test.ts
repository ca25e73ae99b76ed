/**
 * Resumable uploads against a real S3 endpoint (EDGEWISE_TEST_S3_* variables; skipped without):
 * what s3rver cannot vouch for — S3's own checks of presigned UploadPart URLs (signature, no
 * checksum parameter a browser could not send), its ListParts, and CompleteMultipartUpload +
 * CopyObject of the staged upload. s3rver does take presigned part PUTs; its ListParts is our
 * fill-in (test/helpers/s3rver.ts), so these assertions are kept for the real thing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { UnsupportedType } from '../../src/errors.js';
import { cleanupIncomplete } from '../../src/storage/cleanup.js';
import { S3Driver } from '../../src/storage/s3.js';
import type { CompletionChecks } from '../../src/storage/types.js';
import { realS3Env } from '../storage/real-s3.js';

const MiB = 1024 * 1024;
const real = realS3Env();
const accept: CompletionChecks = { size() {}, type: async (_head, declared) => declared };

describe.skipIf(!real)(
  `resumable uploads on real S3${real ? '' : ' (skipped: set EDGEWISE_TEST_S3_ENDPOINT, _BUCKET, _REGION, _ACCESS_KEY_ID, _SECRET_ACCESS_KEY)'}`,
  () => {
    test('presigned parts, ListParts, staged completion and copy; a refused type leaves nothing', async () => {
      const prefix = `edgewise-test/${randomBytes(6).toString('hex')}/`;
      const driver = new S3Driver({ ...real!, prefix });
      const r = driver.resumable;
      try {
        const key = 'big/a.bin';
        const file = randomBytes(6 * MiB);
        const id = await r.create(key, { contentType: 'application/octet-stream', metadata: {} });
        const chunks = [file.subarray(0, 5 * MiB), file.subarray(5 * MiB)];
        const etags: string[] = [];
        for (const [i, chunk] of chunks.entries()) {
          const url = await r.presignPart(key, id, i + 1, 300);
          expect(url).not.toMatch(/x-amz-checksum|x-amz-sdk-checksum/i);
          const res = await fetch(url, { method: 'PUT', body: chunk });
          expect(res.status).toBe(200);
          etags.push(res.headers.get('etag')!);
        }
        const listed = await r.listParts(key, id);
        expect(listed?.map((p) => [p.partNumber, p.size, p.etag])).toEqual([
          [1, 5 * MiB, etags[0]],
          [2, 1 * MiB, etags[1]],
        ]);
        // Another key does not name this upload.
        expect(await r.listParts('big/b.bin', id)).toBeUndefined();
        const meta = await r.complete(
          key,
          id,
          listed!.map((p) => ({ partNumber: p.partNumber, etag: p.etag })),
          accept,
        );
        expect(meta?.size).toBe(file.length);
        const got = await driver.get(key);
        const read: Buffer[] = [];
        for await (const c of got!.body) read.push(c as Buffer);
        expect(createHash('sha256').update(Buffer.concat(read)).digest('hex')).toBe(
          createHash('sha256').update(file).digest('hex'),
        );

        const bad = await r.create('big/fake.png', { contentType: 'image/png', metadata: {} });
        const url = await r.presignPart('big/fake.png', bad, 1, 300);
        const put = await fetch(url, { method: 'PUT', body: 'not a png' });
        const refuse: CompletionChecks = {
          size() {},
          type: async () => {
            throw new UnsupportedType('image/png declared, but the bytes are not image/png');
          },
        };
        await expect(
          r.complete('big/fake.png', bad, [{ partNumber: 1, etag: put.headers.get('etag')! }], refuse),
        ).rejects.toMatchObject({ code: UnsupportedType.code });
        expect(await driver.head('big/fake.png')).toBeUndefined();
        const left: string[] = [];
        for await (const m of driver.list('')) left.push(m.key);
        expect(left).toEqual([key]);
      } finally {
        await cleanupIncomplete(driver, { olderThanMs: 0 }).catch(() => []);
        for await (const m of driver.list('')) await driver.delete(m.key);
        await driver.close();
      }
    }, 120_000);
  },
);
