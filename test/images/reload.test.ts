import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildOrigin } from '../../src/app.js';
import { LiveConfig } from '../../src/config/live.js';
import { applyLoaderPolicy } from '../../src/images/source-type.js';
import { createLogger } from '../../src/logger.js';
import { FsDriver } from '../../src/storage/fs.js';
import { tempDir } from '../helpers/origin.js';
import { photoJpeg, put } from './fixtures.js';

const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"><rect width="64" height="32"/></svg>';

describe('images config reload (SIGHUP path)', { timeout: 30_000 }, () => {
  let dir: string;
  let file: string;
  let store: LiveConfig;
  let url: string;
  let close: () => Promise<void>;

  const yaml = (images: string) =>
    `storage:\n  driver: fs\n  fs:\n    dataDir: ${JSON.stringify(join(dir, 'data'))}\nimages:\n${images}`;

  beforeAll(async () => {
    dir = await tempDir();
    file = join(dir, 'edgewise.yaml');
    await writeFile(file, yaml('  widths: [16, 32]\n'));
    store = LiveConfig.load({ file, env: {} });
    const storage = new FsDriver({ dataDir: join(dir, 'data') });
    const app = await buildOrigin({
      config: store,
      storage,
      logger: createLogger({ level: 'silent', pretty: false }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    close = async () => {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    };
    await put(storage, 'a.jpg', await photoJpeg(200, 100));
    await put(storage, 'icon.svg', Buffer.from(SVG), 'image/svg+xml');
  }, 60_000);
  afterAll(() => close());

  const status = async (path: string) => {
    const r = await request(`${url}${path}`);
    await r.body.dump();
    return r.statusCode;
  };

  test('new widths and loader permissions apply to the next request, and back', async () => {
    expect(await status('/img/a.jpg?w=100&fmt=png')).toBe(400);
    expect(await status('/img/icon.svg?w=32')).toBe(415);

    await writeFile(file, yaml("  widths: [16, 32, 100]\n  allowRiskyLoaders: ['svg']\n"));
    expect(store.reload().applied).toContain('images');
    expect(await status('/img/a.jpg?w=100&fmt=png')).toBe(200);
    expect(await status('/img/icon.svg?w=32')).toBe(200);

    // And off again.
    await writeFile(file, yaml('  widths: [16, 32, 100]\n'));
    store.reload();
    expect(await status('/img/icon.svg?w=16')).toBe(415);
  });
});

describe('loader policy in libvips itself (behind the signature check)', () => {
  test('a blocked loader refuses even when sharp is called directly', async () => {
    applyLoaderPolicy([]);
    await expect(sharp(Buffer.from(SVG)).png().toBuffer()).rejects.toThrow(/unsupported image format/);
    applyLoaderPolicy(['svg']);
    expect((await sharp(Buffer.from(SVG)).png().toBuffer()).length).toBeGreaterThan(0);
    applyLoaderPolicy([]);
    await expect(sharp(Buffer.from(SVG)).metadata()).rejects.toThrow(/unsupported image format/);
  });
});
