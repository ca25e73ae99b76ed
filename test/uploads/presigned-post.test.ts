/**
 * S3 presigned POST: the policy is decoded and checked here against s3rver (which does not
 * enforce policies); enforcement by S3 itself is tested only against a real endpoint.
 */
import { randomBytes } from 'node:crypto';
import { FormData, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { S3Driver } from '../../src/storage/s3.js';
import { grantFor } from '../../src/uploads/grant.js';
import { presignedPost } from '../../src/uploads/presign.js';
import { realS3Env } from '../storage/real-s3.js';
import { API_KEY, startUploadOrigin, type UploadOrigin } from './helpers.js';

interface Policy {
  expiration: string;
  conditions: Array<Record<string, string> | [string, string | number, string | number]>;
}
const decode = (b64: string): Policy => JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));

describe('presigned POST (s3 driver, s3rver)', () => {
  let o: UploadOrigin;
  beforeAll(async () => {
    o = await startUploadOrigin('s3', { precompress: { enabled: false } });
  });
  afterAll(() => o.close());

  async function ask(body: Record<string, unknown>) {
    const res = await request(`${o.url}/upload-urls`, {
      method: 'POST',
      body: JSON.stringify({ presignedPost: true, ...body }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  test('the policy carries content-length-range, starts-with $key and the Content-Type rule', async () => {
    const before = Date.now();
    const r = await ask({ prefix: 'u/5/', contentTypes: ['image/*'], maxBytes: 2048, expiresInSeconds: 300 });
    expect(r.status).toBe(201);
    const post = r.json.presignedPost as { url: string; fields: Record<string, string> };
    // S3 substitutes the literal ${filename} placeholder with the uploaded file's name.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's placeholder, not a template
    expect(post.fields.key).toBe('u/5/${filename}');
    const policy = decode(post.fields.Policy!);
    expect(policy.conditions).toContainEqual(['content-length-range', 0, 2048]);
    expect(policy.conditions).toContainEqual(['starts-with', '$key', 'u/5/']);
    expect(policy.conditions).toContainEqual(['starts-with', '$Content-Type', 'image/']);
    expect(policy.conditions).toContainEqual({ bucket: 'test-bucket' });
    const exp = Date.parse(policy.expiration);
    expect(exp).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 299_000);
    expect(exp).toBeLessThanOrEqual(Date.now() + 301_000);
    // Our own signed URL comes along for uploads through the origin.
    expect(r.json.url).toMatch(/\/uploads\?method=POST&prefix=u%2F5%2F/);
  });

  test('an exact key and a single type become exact conditions', async () => {
    const r = await ask({ key: 'u/6/a.png', contentTypes: ['image/png'], maxBytes: 100 });
    const post = r.json.presignedPost as { fields: Record<string, string> };
    const policy = decode(post.fields.Policy!);
    expect(policy.conditions).toContainEqual({ key: 'u/6/a.png' });
    expect(policy.conditions).toContainEqual({ 'Content-Type': 'image/png' });
    expect(policy.conditions).toContainEqual(['starts-with', '$key', 'u/6/a.png']);
    expect(post.fields['Content-Type']).toBe('image/png');
  });

  test('types a policy cannot express are refused with 400', async () => {
    const r = await ask({ key: 'u/6/b', contentTypes: ['image/png', 'text/plain'] });
    expect(r).toMatchObject({ status: 400, json: { code: 'EDGEWISE_BAD_UPLOAD_REQUEST' } });
  });

  test('a browser-style form POST with the returned fields stores the object in the bucket', async () => {
    const r = await ask({ prefix: 'u/7/', contentTypes: ['text/plain'], maxBytes: 1000 });
    const post = r.json.presignedPost as { url: string; fields: Record<string, string> };
    const form = new FormData();
    // S3 replaces ${filename} in the key; s3rver does not, so name the key (the policy's
    // starts-with $key allows any key under the prefix).
    for (const [k, v] of Object.entries(post.fields)) form.append(k, k === 'key' ? 'u/7/note.txt' : v);
    form.append('file', new Blob(['direct to s3'], { type: 'text/plain' }), 'note.txt');
    const res = await request(post.url, { method: 'POST', body: form });
    await res.body.text();
    expect(res.statusCode).toBeLessThan(300);
    const meta = await o.storage.head('u/7/note.txt');
    expect(meta?.size).toBe(12);
  });
});

const real = realS3Env();
describe.skipIf(!real)(
  `presigned POST enforcement by real S3${real ? '' : ' (skipped: needs EDGEWISE_TEST_S3_* variables; s3rver does not enforce POST policies)'}`,
  () => {
    test('S3 refuses a body over content-length-range and a key outside the prefix', async () => {
      const env = real!;
      const prefix = `edgewise-test/${randomBytes(6).toString('hex')}/`;
      const driver = new S3Driver({ ...env, prefix });
      try {
        const { uploads } = buildConfig(
          { uploads: { maxBytes: 1000 }, dev: { demo: { maxBytes: 1000 } } },
          undefined,
        ).config;
        const grant = grantFor(uploads, { prefix: 'p/', contentTypes: ['text/plain'], maxBytes: 10 });
        const post = await presignedPost(driver, grant, ['text/plain']);
        const send = async (key: string, body: string) => {
          const form = new FormData();
          for (const [k, v] of Object.entries(post.fields)) form.append(k, k === 'key' ? key : v);
          form.append('file', new Blob([body], { type: 'text/plain' }), 'f.txt');
          const res = await request(post.url, { method: 'POST', body: form });
          await res.body.text();
          return res.statusCode;
        };
        expect(await send(`${prefix}p/ok.txt`, 'small')).toBeLessThan(300);
        expect(await send(`${prefix}p/big.txt`, 'x'.repeat(50))).toBe(400);
        expect(await send(`${prefix}elsewhere.txt`, 'small')).toBe(403);
        expect(await driver.head('p/big.txt')).toBeUndefined();
      } finally {
        for await (const m of driver.list('')) await driver.delete(m.key);
        await driver.close();
      }
    });
  },
);
