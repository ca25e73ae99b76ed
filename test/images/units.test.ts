import { describe, expect, test } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { autoToken, resolveAuto } from '../../src/images/negotiate.js';
import { parseImageParams } from '../../src/images/params.js';
import { BoundedQueue } from '../../src/images/queue.js';
import { SingleFlight } from '../../src/images/single-flight.js';
import { imageUrl, srcset } from '../../src/images/srcset.js';
import { resizeBox } from '../../src/images/transform.js';
import { imageVariantKey, imageVariantPrefix } from '../../src/images/variant-key.js';
import { keyProblem } from '../../src/storage/keys.js';

const images = buildConfig({}, undefined).config.images;

describe('config', () => {
  test('defaults: breakpoints 16…3840, qualities, every format', () => {
    expect(images.widths[0]).toBe(16);
    expect(images.widths.at(-1)).toBe(3840);
    expect(images.qualities).toContain(images.defaultQuality);
    expect(images.formats).toEqual(['avif', 'webp', 'jpeg', 'png', 'gif']);
    expect(images.allowRiskyLoaders).toEqual([]);
  });

  test('cross-field rules name the offending option', () => {
    expect(() => buildConfig({ images: { widths: [16, 5000] } }, undefined)).toThrow(
      /images\.widths\[1\]: must be ≤ images\.maxOutputDimension \(4096\)/,
    );
    expect(() => buildConfig({ images: { defaultQuality: 80 } }, undefined)).toThrow(
      /images\.defaultQuality: must be one of images\.qualities \(50, 75, 90\)/,
    );
    expect(() => buildConfig({ images: { allowRiskyLoaders: ['pdf'] } }, undefined)).toThrow(
      /allowRiskyLoaders/,
    );
  });
});

describe('parameter normalisation', () => {
  test('absent values take their defaults; fit only matters with both sides', () => {
    expect(parseImageParams('', images)).toEqual({
      w: undefined,
      h: undefined,
      fit: 'cover',
      q: 75,
      fmt: 'auto',
    });
    expect(parseImageParams('w=640&fit=inside', images).fit).toBe('cover');
    expect(parseImageParams('w=640&h=640&fit=inside', images).fit).toBe('inside');
    expect(parseImageParams('fmt=auto&q=90', images)).toMatchObject({ fmt: 'auto', q: 90 });
  });

  test('parameter order does not change the variant key', () => {
    const a = parseImageParams('w=640&q=50&fmt=webp', images);
    const b = parseImageParams('fmt=webp&w=640&q=50', images);
    expect(imageVariantKey('k', '"e"', a)).toBe(imageVariantKey('k', '"e"', b));
  });
});

describe('Accept negotiation', () => {
  const all = images.formats;
  test.each([
    ['image/avif,image/webp,image/apng,*/*;q=0.8', 'auto-aw'],
    ['image/webp,*/*', 'auto-w'],
    ['image/avif', 'auto-a'],
    ['image/avif;q=0, image/webp;q=0.5', 'auto-w'],
    ['*/*', 'auto'],
    ['image/*', 'auto'],
    ['', 'auto'],
  ])('%s → %s', (accept, token) => {
    expect(autoToken(accept, all)).toBe(token);
  });

  test('formats left out of the config are never negotiated', () => {
    expect(autoToken('image/avif,image/webp', ['webp', 'jpeg'])).toBe('auto-w');
  });

  test('AVIF, then WebP, then the source format; never AVIF for an animation', () => {
    const still = { format: 'jpeg', animated: false, alpha: false };
    const anim = { format: 'gif', animated: true, alpha: true };
    expect(resolveAuto('auto-aw', still)).toBe('avif');
    expect(resolveAuto('auto-w', still)).toBe('webp');
    expect(resolveAuto('auto', still)).toBe('jpeg');
    expect(resolveAuto('auto-aw', anim)).toBe('webp');
    expect(resolveAuto('auto-a', anim)).toBe('gif');
    expect(resolveAuto('auto', { format: 'webp', animated: false, alpha: true })).toBe('png');
    expect(resolveAuto('auto', { format: 'heif', animated: false, alpha: false })).toBe('jpeg');
    expect(resolveAuto('auto', { format: 'svg', animated: false, alpha: true })).toBe('png');
  });
});

describe('variant keys', () => {
  const spec = { w: 640, h: undefined, fit: 'cover', q: 75, fmt: 'auto-aw' } as const;
  test('deterministic, reserved, valid storage keys, even for a 1024-byte source key', () => {
    const long = `${'a/'.repeat(300)}${'é'.repeat(200)}`;
    const key = imageVariantKey(long, '"etag1"', spec);
    expect(key).toBe(imageVariantKey(long, '"etag1"', spec));
    expect(key.startsWith(imageVariantPrefix(long))).toBe(true);
    expect(key.startsWith('.edgewise/img/')).toBe(true);
    expect(keyProblem(key)).toBeUndefined();
    expect(key.endsWith('/w640_h0_cover_q75_auto-aw')).toBe(true);
  });

  test('a new source ETag or any parameter changes the key', () => {
    const base = imageVariantKey('p.jpg', '"1"', spec);
    expect(imageVariantKey('p.jpg', '"2"', spec)).not.toBe(base);
    expect(imageVariantKey('p.jpg', '"1"', { ...spec, q: 50 })).not.toBe(base);
    expect(imageVariantKey('p.jpg', '"1"', { ...spec, fmt: 'auto-w' })).not.toBe(base);
    expect(imageVariantKey('q.jpg', '"1"', spec)).not.toBe(base);
  });
});

describe('resize box', () => {
  const spec = (w?: number, h?: number, fit = 'cover') => ({ w, h, fit, q: 75, fmt: 'png' }) as never;
  test('aspect-keeping results over maxOutputDimension are fitted into the square', () => {
    expect(resizeBox(100, 100_000, spec(640), 4096)).toEqual({ width: 4096, height: 4096, fit: 'inside' });
    expect(resizeBox(10_000, 5_000, spec(), 4096)).toEqual({ width: 4096, height: 4096, fit: 'inside' });
    expect(resizeBox(1000, 500, spec(), 4096)).toBeUndefined();
    expect(resizeBox(1000, 500, spec(640), 4096)).toEqual({ width: 640, fit: 'cover' });
    expect(resizeBox(100, 5000, spec(16, 16, 'outside'), 256)).toEqual({
      width: 256,
      height: 256,
      fit: 'inside',
    });
    expect(resizeBox(100, 5000, spec(16, 16, 'cover'), 256)).toEqual({ width: 16, height: 16, fit: 'cover' });
  });
});

describe('BoundedQueue', () => {
  test('runs `concurrency` at once, queues `queueSize`, refuses the rest, hands slots over in order', async () => {
    const q = new BoundedQueue(() => ({ concurrency: 2, queueSize: 1, retryAfterSeconds: 3 }));
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const job = (name: string) =>
      q.run(
        () =>
          new Promise<string>((resolve) => {
            order.push(name);
            gates.set(name, () => resolve(name));
          }),
      );
    const a = job('a');
    const b = job('b');
    const c = job('c');
    await expect(job('d')).rejects.toMatchObject({ code: 'EDGEWISE_IMAGE_BUSY', statusCode: 503 });
    await Promise.resolve();
    expect(order).toEqual(['a', 'b']);
    expect([q.running, q.waiting]).toEqual([2, 1]);
    gates.get('a')!();
    expect(await a).toBe('a');
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['a', 'b', 'c']);
    expect([q.running, q.waiting]).toEqual([2, 0]);
    gates.get('b')!();
    gates.get('c')!();
    expect(await Promise.all([b, c])).toEqual(['b', 'c']);
    expect([q.running, q.waiting]).toEqual([0, 0]);
  });

  test('a failing job frees its slot', async () => {
    const q = new BoundedQueue(() => ({ concurrency: 1, queueSize: 0, retryAfterSeconds: 1 }));
    await expect(q.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await q.run(async () => 'ok')).toBe('ok');
  });
});

describe('SingleFlight', () => {
  test('shares one promise per key while it runs, then forgets it', async () => {
    const sf = new SingleFlight<number>();
    let calls = 0;
    let release!: (n: number) => void;
    const work = () =>
      new Promise<number>((r) => {
        calls++;
        release = r;
      });
    const p1 = sf.run('k', work);
    const p2 = sf.run('k', work);
    const other = sf.run('other', async () => 7);
    expect(p1).toBe(p2);
    release(42);
    expect(await Promise.all([p1, p2, other])).toEqual([42, 42, 7]);
    expect(calls).toBe(1);
    expect(sf.size).toBe(0);
    await sf.run('k', async () => 1);
    expect(calls).toBe(1);
  });
});

describe('srcset', () => {
  test('one candidate per configured width, canonical parameter order', () => {
    const s = srcset('products/red shoe.jpg', images, { fmt: 'webp', q: 50, base: 'https://cdn.example/' });
    const parts = s.split(', ');
    expect(parts).toHaveLength(images.widths.length);
    expect(parts[0]).toBe('https://cdn.example/img/products/red%20shoe.jpg?w=16&q=50&fmt=webp 16w');
    expect(parts.at(-1)).toBe('https://cdn.example/img/products/red%20shoe.jpg?w=3840&q=50&fmt=webp 3840w');
  });

  test('max width drops candidates the source cannot fill', () => {
    expect(srcset('a.jpg', images, { maxWidth: 100 })).toBe(
      '/img/a.jpg?w=16 16w, /img/a.jpg?w=32 32w, /img/a.jpg?w=48 48w, /img/a.jpg?w=64 64w, /img/a.jpg?w=96 96w',
    );
    expect(srcset('a.jpg', images, { maxWidth: 4 })).toBe('/img/a.jpg?w=16 16w');
  });

  test('refuses what the route would refuse', () => {
    expect(() => srcset('a.jpg', images, { q: 80 })).toThrow(/q=80 is not allowed/);
    expect(() => srcset('.edgewise/x', images)).toThrow(/reserved/);
    expect(imageUrl('a b/c?.jpg', { w: 16, fmt: 'png' })).toBe('/img/a%20b/c%3F.jpg?w=16&fmt=png');
  });
});
