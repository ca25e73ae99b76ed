/**
 * Sample content for `edgewise dev`, written through the storage driver on first run so a
 * newcomer has something to fetch.
 */
import { Readable } from 'node:stream';
import sharp from 'sharp';
import type { StorageDriver } from '../storage/types.js';

export interface SeedObject {
  key: string;
  contentType: string;
  body: () => Promise<Buffer> | Buffer;
}

const css = `:root { color-scheme: light dark; }\nbody { font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 48rem; }\n`;
const js = `export function greet(name) {\n  return \`Hello, \${name}, from edgewise\`;\n}\n`;

export const SEED_OBJECTS: SeedObject[] = [
  {
    key: 'static/hello.txt',
    contentType: 'text/plain; charset=utf-8',
    body: () => Buffer.from('Hello from edgewise.\n'),
  },
  { key: 'static/app.css', contentType: 'text/css; charset=utf-8', body: () => Buffer.from(css.repeat(40)) },
  {
    key: 'static/app.js',
    contentType: 'text/javascript; charset=utf-8',
    body: () => Buffer.from(js.repeat(40)),
  },
  {
    key: 'static/product.jpg',
    contentType: 'image/jpeg',
    // Drawn from raw pixels, not SVG: the image route blocks risky loaders (SVG among them)
    // process-wide, and the seed runs in the same process.
    body: () =>
      sharp({ create: { width: 1600, height: 1200, channels: 3, background: { r: 32, g: 96, b: 160 } } })
        .composite([
          {
            input: { create: { width: 840, height: 840, channels: 3, background: { r: 244, g: 180, b: 0 } } },
            left: 380,
            top: 180,
          },
          {
            input: { create: { width: 300, height: 300, channels: 3, background: { r: 219, g: 68, b: 55 } } },
            left: 200,
            top: 150,
          },
        ])
        .jpeg({ quality: 85 })
        .toBuffer(),
  },
];

/** Writes each sample object that is not already stored; returns the keys written. */
export async function seed(storage: StorageDriver, objects: SeedObject[] = SEED_OBJECTS): Promise<string[]> {
  const written: string[] = [];
  for (const obj of objects) {
    if (await storage.head(obj.key)) continue;
    await storage.put(obj.key, Readable.from([await obj.body()]), { contentType: obj.contentType });
    written.push(obj.key);
  }
  return written;
}
