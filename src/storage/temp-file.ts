/**
 * The one way the fs driver writes an upload's bytes (a whole object, src/storage/fs.ts, or a
 * multipart part, src/storage/fs-multipart.ts): the body through the shared meter (size limit,
 * checksum; ./meter.ts) into a new temp file, then the caller's `commit` moves it into place.
 * On any failure — the body's, the meter's, the disk's, an abort, or commit's own — the temp
 * file is removed and the error rethrown as it came, for the caller to translate.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { UploadMeter } from './meter.js';

export async function throughTempFile<T>(
  tmpDir: string,
  body: Readable,
  meter: UploadMeter,
  signal: AbortSignal | undefined,
  commit: (tmpPath: string) => Promise<T>,
): Promise<T> {
  const tmpPath = join(tmpDir, `${randomUUID()}.part`);
  const out = createWriteStream(tmpPath, { flags: 'wx', highWaterMark: 1024 * 1024 });
  // `body` stays the caller's: piped, not pipelined, so a failure here does not destroy it
  // (it is often a request whose client still waits for our 413 or 400).
  const onBodyError = (err: Error) => meter.destroy(err);
  body.once('error', onBodyError);
  body.pipe(meter);
  try {
    await pipeline(meter, out, signal ? { signal } : {});
    return await commit(tmpPath);
  } catch (err) {
    body.unpipe(meter);
    out.destroy();
    await rm(tmpPath, { force: true });
    throw err;
  } finally {
    body.off('error', onBodyError);
  }
}
