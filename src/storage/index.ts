import { resolve } from 'node:path';
import type { StorageConfig } from '../config/sections/storage.js';
import type { Logger } from '../logger.js';
import { FsDriver } from './fs.js';
import type { StorageDriver } from './types.js';

export type { ByteRange, ObjectMeta, PutOptions, StorageDriver, StoredObject } from './types.js';

/** Builds the configured driver. Relative fs paths resolve against `cwd`. */
export async function createStorage(
  config: StorageConfig,
  _logger: Logger,
  cwd = process.cwd(),
): Promise<StorageDriver> {
  switch (config.driver) {
    case 'fs':
      return new FsDriver({ dataDir: resolve(cwd, config.fs.dataDir) });
    case 's3':
      throw new Error('storage.driver "s3" is not available in this build yet');
  }
}
