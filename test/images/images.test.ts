import sharp from 'sharp';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { IMAGE_VARIANT_PREFIX } from '../../src/images/variant-key.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import {
  alphaPng,
  animatedGif,
  animatedWebp,
  orientedJpegWithGps,
  p3Jpeg,
  photoJpeg,
  photoPng,
  put,
} from './fixtures.js';

const BROWSER = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

async function get(
  o: TestOrigin,
  path: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'HEAD' = 'GET',
) {
  const res = await request(`${o.url}${path}`, { headers, method });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

describe('image variants over HTTP', { timeout: 30_000 }, () => {
  let o: TestOrigin;
  beforeAll(async () => {
    o = await startTestOrigin();
    await put(o.storage, 'products/shoe.jpg', await photoJpeg(800, 600));
    await put(o.storage, 'products/logo.png', await alphaPng(), 'image/png');
    await put(o.storage, 'products/photo.png', await photoPng(300, 200), 'image/png');
    await put(o.storage, 'anim/spin.gif', await animatedGif(), 'image/gif');
    await put(o.storage, 'anim/spin.webp', await animatedWebp(), 'image/webp');
    await put(o.storage, 'exif/rotated.jpg', await orientedJpegWithGps());
    await put(o.storage, 'colour/p3.jpg', await p3Jpeg());
  }, 60_000);
  afterAll(() => o.close());

  test('resizes to an allowed width and keeps the aspect ratio', async () => {
    const r = await get(o, '/img/products/shoe.jpg?w=640&fmt=jpeg');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/jpeg');
    const m = await sharp(r.body).metadata();
    expect([m.width, m.height]).toEqual([640, 480]);
    expect(r.headers.vary).toBeUndefined();
  });

  test('w and h with fit=cover give exactly that box; fit=inside fits within it', async () => {
    const cover = await sharp(
      (await get(o, '/img/products/shoe.jpg?w=256&h=256&fit=cover&fmt=png')).body,
    ).metadata();
    expect([cover.width, cover.height]).toEqual([256, 256]);
    const inside = await sharp(
      (await get(o, '/img/products/shoe.jpg?w=256&h=256&fit=inside&fmt=png')).body,
    ).metadata();
    expect([inside.width, inside.height]).toEqual([256, 192]);
  });

  test('fit=contain pads to the box, fit=outside covers it keeping the aspect ratio', async () => {
    const contain = await get(o, '/img/products/shoe.jpg?w=256&h=128&fit=contain&fmt=png');
    const c = await sharp(contain.body).metadata();
    expect([c.width, c.height]).toEqual([256, 128]);
    // Padding is transparent for formats with alpha.
    const corner = await sharp(contain.body).ensureAlpha().raw().toBuffer();
    expect(corner[3]).toBe(0);
    const outside = await sharp(
      (await get(o, '/img/products/shoe.jpg?w=256&h=128&fit=outside&fmt=png')).body,
    ).metadata();
    expect([outside.width, outside.height]).toEqual([256, 192]);
  });

  test('a byte range of a variant is served like any object', async () => {
    const full = await get(o, '/img/products/shoe.jpg?w=64&fmt=webp');
    const part = await get(o, '/img/products/shoe.jpg?w=64&fmt=webp', { range: 'bytes=0-9' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 0-9/${full.body.length}`);
    expect(part.body.equals(full.body.subarray(0, 10))).toBe(true);
  });

  test('never enlarges past the source size', async () => {
    const m = await sharp((await get(o, '/img/products/shoe.jpg?w=1920&fmt=webp')).body).metadata();
    expect([m.width, m.height]).toEqual([800, 600]);
  });

  describe('fmt=auto negotiation', () => {
    test('AVIF for a browser that lists it, with Vary: Accept', async () => {
      const r = await get(o, '/img/products/shoe.jpg?w=384', { accept: BROWSER });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('image/avif');
      expect(r.headers.vary).toBe('Accept');
      expect((await sharp(r.body).metadata()).format).toBe('heif');
    });

    test('304s and HEADs of a negotiated variant carry Vary: Accept too', async () => {
      const r = await get(o, '/img/products/shoe.jpg?w=256', { accept: BROWSER });
      const again = await get(o, '/img/products/shoe.jpg?w=256', {
        accept: BROWSER,
        'if-none-match': r.headers.etag as string,
      });
      expect(again.status).toBe(304);
      expect(again.headers.vary).toBe('Accept');
      const head = await get(o, '/img/products/shoe.jpg?w=256', { accept: BROWSER }, 'HEAD');
      expect(head.headers.vary).toBe('Accept');
      expect(head.headers.etag).toBe(r.headers.etag);
    });

    test('WebP when AVIF is not accepted (or has q=0)', async () => {
      const r = await get(o, '/img/products/shoe.jpg?w=384&fmt=auto', {
        accept: 'image/avif;q=0,image/webp,*/*;q=0.8',
      });
      expect(r.headers['content-type']).toBe('image/webp');
      expect(r.headers.vary).toBe('Accept');
    });

    test('the source format when neither is listed (wildcards do not count)', async () => {
      const jpeg = await get(o, '/img/products/shoe.jpg?w=384', { accept: 'image/*,*/*' });
      expect(jpeg.headers['content-type']).toBe('image/jpeg');
      const png = await get(o, '/img/products/logo.png?w=32');
      expect(png.headers['content-type']).toBe('image/png');
      expect(png.headers.vary).toBe('Accept');
    });

    test('explicit formats are honoured whatever Accept says, without Vary', async () => {
      const r = await get(o, '/img/products/shoe.jpg?w=384&fmt=png', { accept: BROWSER });
      expect(r.headers['content-type']).toBe('image/png');
      expect(r.headers.vary).toBeUndefined();
    });

    test('different Accept headers are different stored variants; the same one is reused', async () => {
      const before = o.app.images.stats.transforms;
      const a = await get(o, '/img/products/photo.png?w=256', { accept: 'image/webp' });
      const b = await get(o, '/img/products/photo.png?w=256', { accept: 'image/png' });
      const c = await get(o, '/img/products/photo.png?w=256', { accept: 'text/html,image/webp;q=0.9' });
      expect(a.headers['content-type']).toBe('image/webp');
      expect(b.headers['content-type']).toBe('image/png');
      expect(c.headers.etag).toBe(a.headers.etag);
      expect(o.app.images.stats.transforms - before).toBe(2);
    });
  });

  describe('animation', () => {
    test('an animated GIF becomes animated WebP under auto, never AVIF', async () => {
      const r = await get(o, '/img/anim/spin.gif?w=32', { accept: BROWSER });
      expect(r.headers['content-type']).toBe('image/webp');
      const m = await sharp(r.body).metadata();
      expect(m.pages).toBe(4);
      expect([m.width, m.height]).toEqual([32, 16]);
      expect(m.delay).toEqual([100, 100, 100, 100]);
    });

    test('an animated GIF stays an animated GIF for a client without WebP', async () => {
      const r = await get(o, '/img/anim/spin.gif?w=32', { accept: 'image/gif' });
      expect(r.headers['content-type']).toBe('image/gif');
      expect((await sharp(r.body).metadata()).pages).toBe(4);
    });

    test('an animated WebP stays animated; for a client without WebP it becomes an animated GIF', async () => {
      const webp = await get(o, '/img/anim/spin.webp?w=16', { accept: BROWSER });
      expect(webp.headers['content-type']).toBe('image/webp');
      expect((await sharp(webp.body).metadata()).pages).toBe(3);
      const gif = await get(o, '/img/anim/spin.webp?w=16');
      expect(gif.headers['content-type']).toBe('image/gif');
      expect((await sharp(gif.body).metadata()).pages).toBe(3);
    });

    test('an explicit still format takes the first frame', async () => {
      const r = await get(o, '/img/anim/spin.gif?fmt=avif');
      expect(r.headers['content-type']).toBe('image/avif');
      const m = await sharp(r.body).metadata();
      expect(m.pages ?? 1).toBe(1);
      expect([m.width, m.height]).toEqual([40, 20]);
    });
  });

  test('EXIF orientation is applied to the pixels and the tag removed', async () => {
    const r = await get(o, '/img/exif/rotated.jpg?fmt=png');
    const m = await sharp(r.body).metadata();
    expect([m.width, m.height]).toEqual([20, 30]);
    expect(m.orientation).toBeUndefined();
    // Rotated 90° clockwise: the left (red) half of the stored pixels is now on top.
    const { data, info } = await sharp(r.body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => [
      ...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3),
    ];
    expect(at(10, 3)[0]).toBeGreaterThan(200);
    expect(at(10, 3)[2]).toBeLessThan(60);
    expect(at(10, 26)[2]).toBeGreaterThan(200);
    expect(at(10, 26)[0]).toBeLessThan(60);
  });

  test('EXIF (GPS, camera), XMP and ICC metadata are stripped', async () => {
    const source = await sharp(await orientedJpegWithGps()).metadata();
    expect(source.exif).toBeDefined();
    for (const fmt of ['jpeg', 'webp', 'avif', 'png']) {
      const r = await get(o, `/img/exif/rotated.jpg?w=16&fmt=${fmt}`);
      const m = await sharp(r.body).metadata();
      expect(m.exif, fmt).toBeUndefined();
      expect(m.xmp, fmt).toBeUndefined();
      expect(m.icc, fmt).toBeUndefined();
      expect(r.body.includes(Buffer.from('EdgewiseCam')), fmt).toBe(false);
    }
  });

  test('a Display P3 source is converted to sRGB, not just untagged', async () => {
    const src = await p3Jpeg();
    const untagged = await sharp(src, { ignoreIcc: true }).raw().toBuffer();
    const r = await get(o, '/img/colour/p3.jpg?fmt=png');
    const m = await sharp(r.body).metadata();
    expect(m.icc).toBeUndefined();
    expect(m.space).toBe('srgb');
    const px = await sharp(r.body).raw().toBuffer();
    // P3 (200,100,50) lies outside sRGB's red: the converted red channel is clearly higher.
    expect(px[0]! - untagged[0]!).toBeGreaterThan(5);
  });

  test('a JPEG of an alpha source is flattened onto white', async () => {
    const r = await get(o, '/img/products/logo.png?fmt=jpeg');
    const px = await sharp(r.body).raw().toBuffer();
    expect(px[0]).toBeGreaterThan(240);
    expect(px[1]).toBeGreaterThan(100);
  });

  describe('stored variants', () => {
    test('the second request is served from storage: same strong ETag, no new transform', async () => {
      const first = await get(o, '/img/products/shoe.jpg?w=128&fmt=webp&q=50');
      const n = o.app.images.stats.transforms;
      const second = await get(o, '/img/products/shoe.jpg?w=128&fmt=webp&q=50');
      expect(o.app.images.stats.transforms).toBe(n);
      expect(second.headers.etag).toBe(first.headers.etag);
      expect(second.headers.etag).toMatch(/^"[^"]+"$/);
      expect(second.body.equals(first.body)).toBe(true);
      const keys: string[] = [];
      for await (const m of o.storage.list(IMAGE_VARIANT_PREFIX)) keys.push(m.key);
      expect(keys.some((k) => k.endsWith('/w128_h0_cover_q50_webp'))).toBe(true);
    });

    test('Cache-Control comes from the /img/* content class; conditional GET and HEAD work', async () => {
      const r = await get(o, '/img/products/shoe.jpg?w=96&fmt=jpeg');
      expect(r.headers['cache-control']).toBe(
        'public, max-age=3600, s-maxage=86400, stale-while-revalidate=60, stale-if-error=86400',
      );
      const etag = r.headers.etag as string;
      const notModified = await get(o, '/img/products/shoe.jpg?w=96&fmt=jpeg', { 'if-none-match': etag });
      expect(notModified.status).toBe(304);
      expect(notModified.body.length).toBe(0);
      const head = await get(o, '/img/products/shoe.jpg?w=96&fmt=jpeg', {}, 'HEAD');
      expect(head.status).toBe(200);
      expect(head.headers.etag).toBe(etag);
      expect(Number(head.headers['content-length'])).toBe(r.body.length);
      expect(head.body.length).toBe(0);
    });

    test('HEAD of a variant not made yet makes it and answers like GET', async () => {
      const head = await get(o, '/img/products/shoe.jpg?w=48&fmt=png', {}, 'HEAD');
      expect(head.status).toBe(200);
      expect(head.headers['content-type']).toBe('image/png');
      const body = await get(o, '/img/products/shoe.jpg?w=48&fmt=png');
      expect(body.headers.etag).toBe(head.headers.etag);
    });

    test('a new upload of the source makes the old variants unreachable', async () => {
      const fresh = await startTestOrigin({ images: { sourceCacheMs: 0 } });
      try {
        await put(fresh.storage, 'swap.jpg', await photoJpeg(400, 300));
        const old = await get(fresh, '/img/swap.jpg?w=64&fmt=jpeg');
        await put(fresh.storage, 'swap.jpg', await photoJpeg(300, 400));
        const now = await get(fresh, '/img/swap.jpg?w=64&fmt=jpeg');
        expect(now.headers.etag).not.toBe(old.headers.etag);
        const m = await sharp(now.body).metadata();
        expect([m.width, m.height]).toEqual([64, 85]);
      } finally {
        await fresh.close();
      }
    });

    test('with the source ETag remembered, a replaced source shows within sourceCacheMs', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        await put(o.storage, 'products/swap.jpg', await photoJpeg(400, 300));
        const old = await get(o, '/img/products/swap.jpg?w=64&fmt=jpeg');
        await put(o.storage, 'products/swap.jpg', await photoJpeg(300, 400));
        // Within the default 1000 ms the remembered ETag still points at the old variant…
        vi.advanceTimersByTime(999);
        expect((await get(o, '/img/products/swap.jpg?w=64&fmt=jpeg')).headers.etag).toBe(old.headers.etag);
        // …and from then on at the new one.
        vi.advanceTimersByTime(1);
        const now = await get(o, '/img/products/swap.jpg?w=64&fmt=jpeg');
        expect(now.headers.etag).not.toBe(old.headers.etag);
        const m = await sharp(now.body).metadata();
        expect([m.width, m.height]).toEqual([64, 85]);
        // A variant that must be made is always made from the current source, remembered or not.
        await put(o.storage, 'products/swap.jpg', await photoJpeg(400, 200));
        expect((await get(o, '/img/products/swap.jpg?w=64&fmt=jpeg')).headers.etag).toBe(now.headers.etag);
        const made = await sharp((await get(o, '/img/products/swap.jpg?w=32&fmt=jpeg')).body).metadata();
        expect([made.width, made.height]).toEqual([32, 16]);
      } finally {
        vi.useRealTimers();
      }
    });

    test('variants cannot be fetched or overwritten through the reserved prefix', async () => {
      const r = await get(o, '/.edgewise/img/x');
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body.toString()).code).toBe('EDGEWISE_BAD_KEY');
      const viaImg = await get(o, '/img/.edgewise/img/x?w=16');
      expect(viaImg.status).toBe(400);
    });
  });

  test('outputs are capped at maxOutputDimension even without w or h', async () => {
    const capped = await startTestOrigin({ images: { maxOutputDimension: 256, widths: [16, 128, 256] } });
    try {
      await put(capped.storage, 'big.png', await photoPng(1000, 500), 'image/png');
      const m = await sharp((await get(capped, '/img/big.png?fmt=png')).body).metadata();
      expect([m.width, m.height]).toEqual([256, 128]);
      await put(capped.storage, 'tall.png', await photoPng(100, 1000), 'image/png');
      const t = await sharp((await get(capped, '/img/tall.png?w=128&fmt=png')).body).metadata();
      expect([t.width, t.height]).toEqual([26, 256]);
    } finally {
      await capped.close();
    }
  });
});
