import { resolve } from 'node:path';
import type { StorageConfig } from '../config/sections/storage.js';
import type { Logger } from '../logger.js';
import { FsDriver } from './fs.js';
import { S3Driver } from './s3.js';
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
      return new FsDriver({ dataDir: resolve(cwd, config.fs.dataDir), hotCache: config.fs.hotCache });
    case 's3':
      return new S3Driver(s3OptionsFrom(config));
  }
}

/** Driver options from config; credentials come from the SDK's default provider chain. */
export function s3OptionsFrom(config: StorageConfig): ConstructorParameters<typeof S3Driver>[0] {
  const s3 = config.s3;
  // The config check (storage.s3.bucket required for driver s3) runs before we get here.
  if (!s3.bucket) throw new Error('storage.s3.bucket is required when storage.driver is "s3"');
  return {
    bucket: s3.bucket,
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
    prefix: s3.prefix,
    checksumMode: s3.checksumMode,
    maxSockets: s3.maxSockets,
    partSizeBytes: s3.partSizeBytes,
    queueSize: s3.queueSize,
  };
}
