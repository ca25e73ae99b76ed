/**
 * Removal of writes that a crash left unfinished: never visible as objects (they sit outside
 * the key space), but they hold disk or are billed as storage.
 *   fs: temp files in `<dataDir>/tmp` older than the threshold (a running write is younger,
 *       since uploads are bounded by server.uploadTimeoutMs), and resumable uploads in
 *       `<dataDir>/multipart` with no activity (no part stored) since the threshold.
 *   s3: multipart uploads under the driver's prefix initiated before the threshold, aborted
 *       (ListMultipartUploads + AbortMultipartUpload): the driver's own large puts and the
 *       resumable uploads clients abandoned. A bucket lifecycle rule
 *       `AbortIncompleteMultipartUpload` does the same on AWS without a cron job. Also staged
 *       resumable uploads (completed under `.edgewise/multipart/`, not yet copied to their key:
 *       a crash in between) older than the threshold, deleted.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  type BucketLifecycleConfiguration,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { MULTIPART_DIR } from './fs-multipart.js';
import { translateS3Error } from './s3-errors.js';
import { STAGING_PREFIX } from './s3-multipart.js';
import type { Leftover, S3Target, StorageDriver } from './types.js';

export type { Leftover } from './types.js';

export interface CleanupOptions {
  /** Only leftovers at least this old are removed. */
  olderThanMs: number;
  /** List what would be removed without removing it. */
  dryRun?: boolean;
  now?: number;
  /** Called for each leftover once it is removed (or, with dryRun, found). */
  onFound?: (l: Leftover) => void;
}

export async function cleanupIncomplete(driver: StorageDriver, options: CleanupOptions): Promise<Leftover[]> {
  const cutoff = (options.now ?? Date.now()) - options.olderThanMs;
  // Drivers declare the capability (./types.ts); the memory driver has none: an unfinished put
  // holds its bytes only until it fails.
  if (!driver.cleanupIncomplete)
    throw new Error(`storage driver ${driver.name} has no cleanup of unfinished writes`);
  return driver.cleanupIncomplete(cutoff, options.dryRun ?? false, options.onFound);
}

/** The fs driver's capability: temp files in `<dataDir>/tmp`. */
export async function cleanupFs(
  dataDir: string,
  cutoff: number,
  dryRun: boolean,
  onFound?: (l: Leftover) => void,
): Promise<Leftover[]> {
  const dir = join(dataDir, 'tmp');
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const found: Leftover[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info || info.mtimeMs > cutoff) continue;
    const leftover: Leftover = { kind: 'temp-file', name, startedAt: info.mtime };
    found.push(leftover);
    if (!dryRun) await rm(path, { force: true });
    onFound?.(leftover);
  }
  const uploads = join(dataDir, MULTIPART_DIR);
  const ids = await readdir(uploads).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  for (const id of ids) {
    const path = join(uploads, id);
    // The folder's mtime moves with every part renamed in: it is the last activity.
    const info = await stat(path).catch(() => undefined);
    if (!info?.isDirectory() || info.mtimeMs > cutoff) continue;
    const upload = await readFile(join(path, 'upload.json'), 'utf8')
      .then((t) => JSON.parse(t) as { key?: string })
      .catch(() => ({}) as { key?: string });
    const leftover: Leftover = {
      kind: 'multipart-upload',
      name: upload.key ?? id,
      uploadId: id.replace(/\.completing$/, ''),
      startedAt: info.mtime,
    };
    found.push(leftover);
    if (!dryRun) await rm(path, { recursive: true, force: true });
    onFound?.(leftover);
  }
  return found;
}

/** The s3 driver's capability: multipart uploads under the prefix. */
export async function cleanupS3(
  driver: S3Target,
  cutoff: number,
  dryRun: boolean,
  onFound?: (l: Leftover) => void,
): Promise<Leftover[]> {
  const found: Leftover[] = [];
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  try {
    for (;;) {
      const page = await driver.client.send(
        new ListMultipartUploadsCommand({
          Bucket: driver.bucket,
          Prefix: driver.prefix,
          KeyMarker,
          UploadIdMarker,
        }),
      );
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated.getTime() > cutoff) continue;
        const leftover: Leftover = {
          kind: 'multipart-upload',
          name: u.Key.slice(driver.prefix.length),
          uploadId: u.UploadId,
          startedAt: u.Initiated,
        };
        found.push(leftover);
        if (!dryRun)
          await driver.client.send(
            new AbortMultipartUploadCommand({ Bucket: driver.bucket, Key: u.Key, UploadId: u.UploadId }),
          );
        onFound?.(leftover);
      }
      if (!page.IsTruncated) break;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
    let ContinuationToken: string | undefined;
    do {
      const page = await driver.client.send(
        new ListObjectsV2Command({
          Bucket: driver.bucket,
          Prefix: driver.prefix + STAGING_PREFIX,
          ContinuationToken,
        }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || !o.LastModified || o.LastModified.getTime() > cutoff) continue;
        const leftover: Leftover = {
          kind: 'staged-object',
          name: o.Key.slice(driver.prefix.length),
          startedAt: o.LastModified,
        };
        found.push(leftover);
        if (!dryRun) await driver.client.send(new DeleteObjectCommand({ Bucket: driver.bucket, Key: o.Key }));
        onFound?.(leftover);
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  } catch (err) {
    throw translateS3Error(err);
  }
  return found;
}

/**
 * The bucket lifecycle rules (for docs, `--print-rule` and the CloudFront plan): abort multipart
 * uploads not completed `days` after they began, and expire staged resumable uploads (completed
 * under `.edgewise/multipart/` but never copied to their key: a crash between the two).
 */
export function lifecycleRule(prefix: string, days = 1): BucketLifecycleConfiguration {
  return {
    Rules: [
      {
        ID: 'edgewise-abort-incomplete-multipart-uploads',
        Status: 'Enabled',
        Filter: { Prefix: prefix },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: days },
      },
      {
        ID: 'edgewise-expire-staged-resumable-uploads',
        Status: 'Enabled',
        Filter: { Prefix: prefix + STAGING_PREFIX },
        Expiration: { Days: days },
      },
    ],
  };
}
