import sharp from 'sharp';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { IMAGE_VARIANT_PREFIX } from '../../src/images/variant-key.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import { animatedGif, photoJpeg, photoPng, pngDeclaring, put } from './fixtures.js';

async function get(o: TestOrigin, path: string) {
  const res = await request(`${o.url}${path}`);
  const text = await res.body.text();
  let json: { code?: string; message?: string } = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.statusCode, headers: res.headers, json };
}

async function variantCount(o: TestOrigin): Promise<number> {
  let n = 0;
  for await (const _ of o.storage.list(IMAGE_VARIANT_PREFIX)) n++;
  return n;
}

describe('bad parameters: 400 listing the allowed values, before any I/O', { timeout: 30_000 }, () => {
  let o: TestOrigin;
  beforeAll(async () => {
    o = await startTestOrigin();
    await put(o.storage, 'a.jpg', await photoJpeg(64, 64));
  }, 60_000);
  afterAll(() => o.close());

  test.each([
    ['w=641', /w=641 is not allowed; allowed: 16, 32, 48, .*, 3840/],
    ['w=0640', /w=0640 is not allowed/],
    ['w=-16', /w=-16 is not allowed/],
    ['w=1e3', /w=1e3 is not allowed/],
    ['h=99999999999', /h=99999999999 is not allowed/],
    ['q=80', /q=80 is not allowed; allowed: 50, 75, 90/],
    ['fit=stretch', /fit=stretch is not allowed; allowed: cover, contain, fill, inside, outside/],
    ['fmt=bmp', /fmt=bmp is not allowed; allowed: auto, avif, webp, jpeg, png, gif/],
    ['width=640', /unknown parameter "width"; allowed: w, h, fit, q, fmt/],
    ['w=16&w=32', /parameter "w" given more than once/],
  ])('%s', async (query, message) => {
    const r = await get(o, `/img/a.jpg?${query}`);
    expect(r.status).toBe(400);
    expect(r.json.code).toBe('EDGEWISE_IMAGE_BAD_PARAM');
    expect(r.json.message).toMatch(message);
  });

  test('parameters are checked before the source is looked up', async () => {
    const r = await get(o, '/img/does-not-exist.jpg?w=641');
    expect(r.status).toBe(400);
  });

  test('configured lists are the ones enforced', async () => {
    const narrow = await startTestOrigin({
      images: { widths: [100, 200], qualities: [60], defaultQuality: 60, formats: ['webp'] },
    });
    try {
      await put(narrow.storage, 'a.jpg', await photoJpeg(64, 64));
      expect((await get(narrow, '/img/a.jpg?w=16')).json.message).toMatch(/allowed: 100, 200$/);
      expect((await get(narrow, '/img/a.jpg?fmt=avif')).json.message).toMatch(/allowed: auto, webp$/);
      expect((await get(narrow, '/img/a.jpg?w=100&q=60&fmt=webp')).status).toBe(200);
    } finally {
      await narrow.close();
    }
  });

  test('a missing source is a 404; a bad key a 400', async () => {
    expect((await get(o, '/img/nope.jpg?w=16')).json.code).toBe('EDGEWISE_NOT_FOUND');
    expect((await get(o, '/img/a//a.jpg?w=16')).status).toBe(400);
    expect((await get(o, '/img/%ZZ?w=16')).status).toBe(400);
  });
});

describe('hostile sources: a coded 4xx, nothing stored, the server keeps serving', {
  timeout: 30_000,
}, () => {
  let o: TestOrigin;
  beforeAll(async () => {
    o = await startTestOrigin({ images: { maxInputBytes: 200_000, limitInputPixels: 4_000_000 } });
    const jpeg = await photoJpeg(400, 300);
    const png = await photoPng(300, 300);
    await put(
      o.storage,
      'text.jpg',
      Buffer.from('this is not an image, whatever the name says\n'.repeat(20)),
      'image/jpeg',
    );
    await put(
      o.storage,
      'doc.pdf',
      Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'),
      'application/pdf',
    );
    await put(o.storage, 'empty.png', Buffer.alloc(0), 'image/png');
    await put(
      o.storage,
      'icon.svg',
      Buffer.from(
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
      ),
      'image/svg+xml',
    );
    await put(o.storage, 'truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    await put(o.storage, 'truncated.png', png.subarray(0, Math.floor(png.length * 0.6)), 'image/png');
    await put(o.storage, 'header-only.jpg', jpeg.subarray(0, 600));
    await put(o.storage, 'bomb.png', await pngDeclaring(100_000, 100_000), 'image/png');
    await put(o.storage, 'zero.png', await pngDeclaring(0, 10), 'image/png');
    await put(o.storage, 'sliver.png', await pngDeclaring(1, 50_000_000), 'image/png');
    // 4 frames of 1200×1000: each frame passes a per-frame check, all of them do not.
    await put(o.storage, 'frames.gif', await animatedGif(1200, 1000, 4), 'image/gif');
    const huge = await photoPng(600, 600);
    expect(huge.length).toBeGreaterThan(200_000);
    await put(o.storage, 'huge.png', huge, 'image/png');
    await put(o.storage, 'ok.jpg', await photoJpeg(200, 100));
  }, 60_000);
  afterAll(() => o.close());

  test.each([
    ['text.jpg', 415, 'EDGEWISE_IMAGE_UNSUPPORTED'],
    ['doc.pdf', 415, 'EDGEWISE_IMAGE_UNSUPPORTED'],
    ['empty.png', 415, 'EDGEWISE_IMAGE_UNSUPPORTED'],
    ['icon.svg', 415, 'EDGEWISE_IMAGE_UNSUPPORTED'],
    ['truncated.jpg', 422, 'EDGEWISE_IMAGE_CORRUPT'],
    ['truncated.png', 422, 'EDGEWISE_IMAGE_CORRUPT'],
    ['header-only.jpg', 422, 'EDGEWISE_IMAGE_CORRUPT'],
    ['bomb.png', 413, 'EDGEWISE_IMAGE_TOO_MANY_PIXELS'],
    ['zero.png', 422, 'EDGEWISE_IMAGE_CORRUPT'],
    ['sliver.png', 413, 'EDGEWISE_IMAGE_TOO_MANY_PIXELS'],
    ['frames.gif', 413, 'EDGEWISE_IMAGE_TOO_MANY_PIXELS'],
    ['huge.png', 413, 'EDGEWISE_IMAGE_TOO_LARGE'],
  ])('%s → %i %s', async (key, status, code) => {
    for (const query of ['w=64&fmt=webp', 'fmt=auto']) {
      const r = await get(o, `/img/${key}?${query}`);
      expect(r.status, query).toBe(status);
      expect(r.json.code, query).toBe(code);
    }
  });

  test('none of them left a variant behind, and good images still work', async () => {
    const before = await variantCount(o);
    const r = await get(o, '/img/ok.jpg?w=64&fmt=webp');
    expect(r.status).toBe(200);
    expect(await variantCount(o)).toBe(before + 1);
    expect(before).toBe(0);
  });

  test('TIFF is refused by default and served (as JPEG) once allowed', async () => {
    const tiff = await sharp(await photoJpeg(64, 32))
      .tiff()
      .toBuffer();
    await put(o.storage, 'scan.tiff', tiff, 'image/tiff');
    const refused = await get(o, '/img/scan.tiff?w=32');
    expect(refused.status).toBe(415);
    expect(refused.json.message).toMatch(/allowRiskyLoaders to include "tiff"/);
    const allowed = await startTestOrigin({ images: { allowRiskyLoaders: ['tiff'] } });
    try {
      await put(allowed.storage, 'scan.tiff', tiff, 'image/tiff');
      const res = await request(`${allowed.url}/img/scan.tiff?w=32`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('image/jpeg');
      await res.body.dump();
    } finally {
      await allowed.close();
    }
  });

  test('the SVG loader works once allowed in config (it is off by default)', async () => {
    const svg = await startTestOrigin({ images: { allowRiskyLoaders: ['svg'] } });
    try {
      await put(
        svg.storage,
        'icon.svg',
        Buffer.from(
          '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"><rect width="64" height="32" fill="red"/></svg>',
        ),
        'image/svg+xml',
      );
      const res = await request(`${svg.url}/img/icon.svg?w=32`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('image/png');
      const m = await sharp(Buffer.from(await res.body.arrayBuffer())).metadata();
      expect([m.width, m.height]).toEqual([32, 16]);
    } finally {
      await svg.close();
    }
  });
});

describe('signed content is not exposed through /img/', { timeout: 30_000 }, () => {
  test('a source in a signed class is refused with 403, even though /img/* is public', async () => {
    const o = await startTestOrigin();
    try {
      await put(o.storage, 'u/alice/passport.jpg', await photoJpeg(64, 64));
      const r = await get(o, '/img/u/alice/passport.jpg?w=16');
      expect(r.status).toBe(403);
      expect(r.json.code).toBe('EDGEWISE_IMAGE_SIGNED_SOURCE');
      expect(o.app.images.stats.transforms).toBe(0);
    } finally {
      await o.close();
    }
  });
});
