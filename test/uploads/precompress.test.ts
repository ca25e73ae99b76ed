import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodedVariantKey } from '../../src/storage/keys.js';
import { API_KEY, type DriverKind, startUploadOrigin, type UploadOrigin } from './helpers.js';

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe.each<DriverKind>(['fs', 's3'])('precompressed variants (%s driver)', (kind) => {
  let o: UploadOrigin;
  beforeAll(async () => {
    o = await startUploadOrigin(kind, {});
  });
  afterAll(() => o.close());

  async function upload(key: string, body: Buffer | string, type: string) {
    const res = await request(`${o.url}/uploads/${key}`, {
      method: 'PUT',
      body,
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': type },
    });
    expect(res.statusCode).toBe(201);
    return (await res.body.json()) as { etag: string };
  }

  test('a compressible upload gets br and gzip variants tagged with the source ETag', async () => {
    const css = '.product-card { display: flex; margin: 0 auto; color: #333; }\n'.repeat(2000);
    const { etag } = await upload('static/site.css', css, 'text/css');
    await o.app.edgewisePrecompressor!.idle();
    for (const coding of ['br', 'gzip'] as const) {
      const got = await o.storage.get(encodedVariantKey('static/site.css', coding));
      expect(got, coding).toBeDefined();
      expect(got!.meta).toMatchObject({
        contentEncoding: coding,
        contentType: 'text/css',
        metadata: { 'source-etag': etag },
      });
      const bytes = await readAll(got!.body);
      expect(bytes.length).toBeLessThan(css.length / 10);
      const plain = coding === 'br' ? brotliDecompressSync(bytes) : gunzipSync(bytes);
      expect(plain.toString()).toBe(css);
    }
  });

  test('an overwrite replaces the variants with ones for the new ETag', async () => {
    const first = await upload('static/app.js', 'var a = 1;\n'.repeat(500), 'text/javascript');
    await o.app.edgewisePrecompressor!.idle();
    const second = await upload('static/app.js', 'let b = 2;\n'.repeat(700), 'text/javascript');
    await o.app.edgewisePrecompressor!.idle();
    expect(second.etag).not.toBe(first.etag);
    const v = await o.storage.head(encodedVariantKey('static/app.js', 'br'));
    expect(v?.metadata['source-etag']).toBe(second.etag);
  });

  test('no variants for incompressible bytes, images, or tiny files that do not shrink', async () => {
    await upload('static/noise.txt', randomBytes(20_000), 'text/plain');
    await upload(
      'static/pixel.png',
      Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
        'base64',
      ),
      'image/png',
    );
    await upload('static/tiny.txt', 'a', 'text/plain');
    await o.app.edgewisePrecompressor!.idle();
    for (const key of ['static/noise.txt', 'static/pixel.png', 'static/tiny.txt'])
      for (const coding of ['br', 'gzip'] as const)
        expect(await o.storage.head(encodedVariantKey(key, coding)), `${key} ${coding}`).toBeUndefined();
  });
});
