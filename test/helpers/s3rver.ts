/**
 * s3rver on 127.0.0.1:0 for tests and benchmarks, with the three multipart calls it lacks filled
 * in by hand: AbortMultipartUpload (DELETE ?uploadId), ListMultipartUploads (GET ?uploads) and
 * ListParts (GET <key>?uploadId, for resumable uploads).
 * s3rver keeps an upload's parts in `<bucket>/._S3rver_uploads/<uploadId>/`; the fill-ins
 * delete and list those folders, so a test can prove that an aborted upload left no parts.
 */
import { mkdtemp, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver, { type KoaContext } from 's3rver';

export const TEST_BUCKET = 'test-bucket';
export const TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface RunningS3rver {
  endpoint: string;
  bucket: string;
  directory: string;
  /** Upload ids of multipart uploads begun and neither completed nor aborted. */
  pendingUploads(): Promise<string[]>;
  /** Stops answering at once (open connections are cut): a storage outage mid-upload. */
  kill(): void;
  /** Moves the start of every pending multipart upload `ms` into the past (for cleanup tests). */
  backdateUploads(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startS3rver(): Promise<RunningS3rver> {
  const directory = await mkdtemp(join(tmpdir(), 'edgewise-s3rver-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: TEST_BUCKET }],
  });
  const uploadsDir = (bucket: string) => server.store.getResourcePath(bucket, undefined, 'uploads');
  const listUploads = async (bucket: string) => {
    const ids = await readdir(uploadsDir(bucket)).catch(() => [] as string[]);
    return Promise.all(
      ids.map(async (id) => {
        const dir = join(uploadsDir(bucket), id);
        const [key, info] = await Promise.all([readFile(join(dir, 'key'), 'utf8'), stat(dir)]);
        return { id, key, initiated: info.mtime };
      }),
    );
  };
  // After s3rver's logger and XML encoder (indexes 0, 1), before its router.
  server.middleware.splice(2, 0, async (ctx: KoaContext, next) => {
    const [, bucket, ...segments] = ctx.path.split('/');
    const rest = segments.filter((s) => s !== '');
    if (!bucket) return next();
    const uploadId = ctx.query.uploadId;
    if (ctx.method === 'DELETE' && rest.length > 0 && typeof uploadId === 'string') {
      const dir = join(uploadsDir(bucket), uploadId);
      if (!(await stat(dir).catch(() => undefined))) {
        ctx.status = 404;
        ctx.body = { Error: { Code: 'NoSuchUpload', Message: 'The specified upload does not exist.' } };
        return;
      }
      await rm(dir, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'GET' && rest.length > 0 && typeof uploadId === 'string') {
      const dir = join(uploadsDir(bucket), uploadId);
      const names = await readdir(dir).catch(() => undefined);
      // As S3: an upload id names an upload only together with its key.
      const owner = await readFile(join(dir, 'key'), 'utf8').catch(() => undefined);
      if (!names || owner !== decodeURIComponent(rest.join('/'))) {
        ctx.status = 404;
        ctx.body = { Error: { Code: 'NoSuchUpload', Message: 'The specified upload does not exist.' } };
        return;
      }
      // s3rver stores part n as `<n>` and its MD5 as `<n>.md5`.
      const numbers = names
        .filter((n) => /^\d+$/.test(n) && names.includes(`${n}.md5`))
        .map(Number)
        .sort((a, b) => a - b);
      const parts = await Promise.all(
        numbers.map(async (n) => {
          const [info, md5] = await Promise.all([
            stat(join(dir, String(n))),
            readFile(join(dir, `${n}.md5`), 'utf8'),
          ]);
          return { PartNumber: n, LastModified: info.mtime.toISOString(), ETag: `"${md5}"`, Size: info.size };
        }),
      );
      ctx.body = {
        ListPartsResult: {
          Bucket: bucket,
          Key: rest.join('/'),
          UploadId: uploadId,
          MaxParts: 10000,
          IsTruncated: false,
          Part: parts,
        },
      };
      return;
    }
    if (ctx.method === 'GET' && rest.length === 0 && 'uploads' in ctx.query) {
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
      const uploads = (await listUploads(bucket)).filter((u) => u.key.startsWith(prefix));
      ctx.body = {
        ListMultipartUploadsResult: {
          Bucket: bucket,
          Prefix: prefix,
          IsTruncated: false,
          MaxUploads: 1000,
          Upload: uploads.map((u) => ({
            Key: u.key,
            UploadId: u.id,
            Initiated: u.initiated.toISOString(),
            StorageClass: 'STANDARD',
          })),
        },
      };
      return;
    }
    return next();
  });
  const address = await server.run();
  let killed = false;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket: TEST_BUCKET,
    directory,
    async pendingUploads() {
      return (await listUploads(TEST_BUCKET)).map((u) => u.id);
    },
    async backdateUploads(ms: number) {
      const when = new Date(Date.now() - ms);
      for (const u of await listUploads(TEST_BUCKET))
        await utimes(join(uploadsDir(TEST_BUCKET), u.id), when, when);
    },
    kill() {
      server.httpServer.closeAllConnections();
      server.httpServer.close();
      killed = true;
    },
    async close() {
      if (!killed) await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
