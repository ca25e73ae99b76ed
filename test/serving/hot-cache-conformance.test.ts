/**
 * The fs driver with its hot cache on passes the same storage conformance suite as without it
 * (test/storage/conformance.ts): the cache is invisible at the driver seam too.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'vitest';
import { FsDriver } from '../../src/storage/fs.js';
import { tempDir } from '../helpers/origin.js';
import { storageDriverTests } from '../storage/conformance.js';

describe('fs driver, hot cache on', () => {
  storageDriverTests(async () => {
    const dataDir = await tempDir('edgewise-fs-hot-');
    const driver = new FsDriver({
      dataDir,
      hotCache: { maxBytes: 1024 * 1024, objectMaxBytes: 64 * 1024, validMs: 3_600_000 },
    });
    return {
      driver,
      leftovers: async () => (await readdir(join(dataDir, 'tmp')).catch(() => [])).length,
      cleanup: async () => {
        await driver.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  });
});
