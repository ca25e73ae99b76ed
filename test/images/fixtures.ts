/**
 * Image fixtures generated with sharp at test time (nothing binary is committed): photos,
 * alpha PNGs, animations, EXIF orientation and GPS, an ICC profile, and hostile files.
 */
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import type { StorageDriver } from '../../src/storage/types.js';

/**
 * Photo-like pixels: smooth gradients and waves (what photos mostly are) plus a little
 * grain. Pure noise would be unrealistically hard for every encoder, AVIF above all.
 */
export function photoPixels(width: number, height: number): Buffer {
  const raw = Buffer.alloc(width * height * 3);
  let seed = 0x2545f491;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const grain = ((seed >>> 16) & 15) - 8;
      const o = (y * width + x) * 3;
      raw[o] = Math.max(0, Math.min(255, (x / width) * 255 + grain));
      raw[o + 1] = Math.max(0, Math.min(255, (y / height) * 255 + grain));
      raw[o + 2] = Math.max(0, Math.min(255, 128 + 100 * Math.sin((x + 2 * y) / 37) + grain));
    }
  return raw;
}

export function photoJpeg(width: number, height: number, quality = 85): Promise<Buffer> {
  return sharp(photoPixels(width, height), { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

export function photoPng(width: number, height: number): Promise<Buffer> {
  return sharp(photoPixels(width, height), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** Half-transparent red PNG. */
export function alphaPng(width = 40, height = 30): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } })
    .png()
    .toBuffer();
}

function frames(width: number, height: number, count: number): Buffer {
  const raw = Buffer.alloc(width * height * count * 4);
  for (let f = 0; f < count; f++)
    for (let i = 0; i < width * height; i++) {
      const o = (f * width * height + i) * 4;
      raw[o] = (f * 80) % 256;
      raw[o + 1] = 255 - ((f * 80) % 256);
      raw[o + 2] = 40;
      raw[o + 3] = 255;
    }
  return raw;
}

export function animatedGif(width = 40, height = 20, count = 4): Promise<Buffer> {
  return sharp(frames(width, height, count), {
    raw: { width, height: height * count, channels: 4, pageHeight: height },
  })
    .gif({ delay: new Array(count).fill(100), loop: 0 })
    .toBuffer();
}

export function animatedWebp(width = 40, height = 20, count = 3): Promise<Buffer> {
  return sharp(frames(width, height, count), {
    raw: { width, height: height * count, channels: 4, pageHeight: height },
  })
    .webp({ delay: new Array(count).fill(100), loop: 0, lossless: true })
    .toBuffer();
}

/**
 * 30×20 stored pixels, left half red and right half blue, with EXIF Orientation 6 (display
 * rotated 90° clockwise: 20×30, red on top) plus GPS and camera tags to be stripped.
 */
export async function orientedJpegWithGps(): Promise<Buffer> {
  const red = await sharp({ create: { width: 15, height: 20, channels: 3, background: '#ff0000' } })
    .png()
    .toBuffer();
  return sharp({ create: { width: 30, height: 20, channels: 3, background: '#0000ff' } })
    .composite([{ input: red, left: 0, top: 0 }])
    .jpeg({ quality: 95 })
    .withMetadata({
      orientation: 6,
      exif: {
        IFD0: { Make: 'EdgewiseCam', Model: 'Test 1' },
        IFD3: {
          GPSLatitudeRef: 'N',
          GPSLatitude: '51/1 30/1 0/1',
          GPSLongitudeRef: 'W',
          GPSLongitude: '0/1 7/1 0/1',
        },
      },
    })
    .toBuffer();
}

/** A flat colour tagged with the Display P3 profile: converting to sRGB changes its numbers. */
export function p3Jpeg(): Promise<Buffer> {
  return sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 100, b: 50 } } })
    .withIccProfile('p3')
    .jpeg({ quality: 100 })
    .toBuffer();
}

/** A valid PNG rewritten to declare `width`×`height` in its header (a decompression bomb). */
export async function pngDeclaring(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
      .png()
      .toBuffer(),
  );
  // IHDR is the first chunk: length(4) 'IHDR'(4) width(4) height(4) …; its CRC covers type+data.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  const ihdrLen = png.readUInt32BE(8);
  png.writeUInt32BE(crc32(png.subarray(12, 16 + ihdrLen)), 16 + ihdrLen);
  return png;
}

export async function put(storage: StorageDriver, key: string, body: Buffer, contentType = 'image/jpeg') {
  return storage.put(key, Readable.from([body]), { contentType });
}
