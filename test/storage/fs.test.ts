import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'vitest';
import { FsDriver } from '../../src/storage/fs.js';
import { tempDir } from '../helpers/origin.js';
import { storageDriverTests } from './conformance.js';

describe('fs driver', () => {
  storageDriverTests(async () => {
    const dataDir = await tempDir('edgewise-fs-');
    const driver = new FsDriver({ dataDir });
    return {
      driver,
      // Temp files of writes in progress live in tmp/; a failed put must remove its own.
      leftovers: async () => (await readdir(join(dataDir, 'tmp')).catch(() => [])).length,
      cleanup: async () => {
        await driver.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  });
});
