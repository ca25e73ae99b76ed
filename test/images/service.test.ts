import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ImageService } from '../../src/images/service.js';
import { sharpTransform, type TransformFn } from '../../src/images/transform.js';
import { FsDriver } from '../../src/storage/fs.js';
import { tempDir } from '../helpers/origin.js';
import { photoJpeg, put } from './fixtures.js';

const spec = { w: 16, h: undefined, fit: 'cover', q: 75, fmt: 'webp' } as const;

/**
 * Lets pending I/O callbacks and promise chains run (setImmediate and Date are not faked below),
 * for up to 20 s of real time: reading the source and sharp's metadata go through the libuv
 * thread pool, and on a loaded CI machine 10,000 turns of the loop once passed before they ended.
 */
async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 20_000;
  while (!cond() && Date.now() < end) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

describe('ImageService transform deadline', () => {
  let dir: string;
  let storage: FsDriver;
  beforeEach(async () => {
    dir = await tempDir();
    storage = new FsDriver({ dataDir: dir });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await rm(dir, { recursive: true, force: true });
  });

  test('a transform past the deadline fails with 422 on time, but keeps its slot until it stops', async () => {
    const images = buildConfig(
      { images: { transformTimeoutSeconds: 3, concurrency: 1, queueSize: 0 } },
      undefined,
    ).config.images;
    const source = await put(storage, 'p.jpg', await photoJpeg(64, 64));
    let release!: () => void;
    const stuck = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    // A hand-written fake at the seam: an encoder that ignores sharp's timeout (as AVIF does).
    const slow: TransformFn = async (job) => {
      started++;
      await stuck;
      return sharpTransform(job);
    };
    const service = new ImageService({ storage, config: () => images, transform: slow });
    const outcome = service.ensureVariant(source, spec).then(
      () => 'stored',
      (err: { code?: string; statusCode?: number }) => `${err.statusCode} ${err.code}`,
    );
    await until(() => started === 1);
    vi.advanceTimersByTime(2999);
    await new Promise((r) => setImmediate(r));
    expect(service.queue.running).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await outcome).toBe('422 EDGEWISE_IMAGE_TIMEOUT');
    // The abandoned work still holds the only slot: the next transform is refused, not piled on.
    const other = { ...spec, w: 32 };
    await expect(service.ensureVariant(source, other)).rejects.toMatchObject({ code: 'EDGEWISE_IMAGE_BUSY' });
    release();
    await until(() => service.queue.running === 0);
    expect(service.stats.stored).toBe(0);
    expect(await storage.head(`${source.key}`)).toBeDefined();
    await expect(service.ensureVariant(source, other)).resolves.toMatch(/^\.edgewise\/img\//);
  });
});
