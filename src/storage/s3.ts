/**
 * S3 driver (`@aws-sdk/client-s3` + `@aws-sdk/lib-storage`), for AWS S3 and S3-compatible stores.
 *
 * How our seam maps onto S3:
 * - put → lib-storage `Upload`: bodies under one part size go as a single PutObject, larger ones
 *   as a multipart upload (CreateMultipartUpload, UploadPart × n, CompleteMultipartUpload). The
 *   object only appears at the key on the final PutObject/CompleteMultipartUpload, both atomic in
 *   S3, so readers see the old or the new object, never a part.
 * - Size limits and checksums are enforced by the shared upload meter (./meter.ts) between the
 *   body and the Upload: it fails the stream before its end reaches lib-storage, so a single-part body is never
 *   sent and a multipart upload is aborted (lib-storage sends AbortMultipartUpload when its body
 *   stream fails). Uploads orphaned by a crash are removed by a bucket lifecycle rule
 *   (AbortIncompleteMultipartUpload) and `edgewise storage cleanup`.
 * - The body's SHA-256 is known only at its end. A single-part put sends its metadata after the
 *   end, so it records `edgewise-sha256`; a multipart upload declares metadata at its start, so it
 *   records the hash only when the client supplied it (it is then verified before completion).
 * - resumable (client-sent parts, presigned UploadPart URLs) → ./s3-multipart.ts.
 * - Vendor errors stop here: NotFound/NoSuchKey → undefined; network failures and 5xx → 503
 *   EDGEWISE_STORAGE_UNAVAILABLE; other refusals (AccessDenied, NoSuchBucket…) → 502
 *   EDGEWISE_STORAGE_FAILED. A HEAD 404 carries no error body, so head() cannot tell a missing
 *   bucket from a missing key and reports a miss; check() (HeadBucket, the readiness probe)
 *   is what reports a wrong bucket.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { BadKey, isCodedError } from '../errors.js';
import { cleanupS3 } from './cleanup.js';
import { keyProblem } from './keys.js';
import { meteredMeta, UploadMeter } from './meter.js';
import { abortError, translateS3Error } from './s3-errors.js';
import { S3Resumable } from './s3-multipart.js';
import type {
  ByteRange,
  Leftover,
  ListOptions,
  ObjectMeta,
  PutOptions,
  S3Target,
  StorageDriver,
  StoredObject,
} from './types.js';

/** Metadata name under which the body's SHA-256 is kept; hidden from user metadata. */
export const SHA256_META = 'edgewise-sha256';

export interface S3DriverOptions {
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  forcePathStyle?: boolean | undefined;
  /** Prefix inside the bucket under which our keys live ('' or ending in '/'). */
  prefix?: string | undefined;
  checksumMode?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED' | undefined;
  maxSockets?: number | undefined;
  partSizeBytes?: number | undefined;
  queueSize?: number | undefined;
  /** Static credentials (tests, s3rver); production uses the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

export class S3Driver implements StorageDriver {
  readonly name = 's3' as const;
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  /** Capabilities (./types.ts): presigned POSTs, multipart uploads, and their cleanup. */
  readonly presignedPost: S3Target;
  readonly multipart: { readonly partBytes: number };
  readonly resumable: S3Resumable;
  /** Signs presigned part URLs only; never sends a request (./s3-multipart.ts says why apart). */
  readonly #presigner: S3Client;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #agents: Array<HttpAgent | HttpsAgent>;

  constructor(options: S3DriverOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.#partSize = options.partSizeBytes ?? 8 * 1024 * 1024;
    this.#queueSize = options.queueSize ?? 4;
    // Keep-alive with a bounded pool: S3 round trips dominate small requests, and an unbounded
    // pool lets a burst of uploads open thousands of sockets (and hit S3's request-rate limits).
    const maxSockets = options.maxSockets ?? 64;
    const httpAgent = new HttpAgent({ keepAlive: true, maxSockets });
    const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets });
    this.#agents = [httpAgent, httpsAgent];
    const mode = options.checksumMode ?? 'WHEN_SUPPORTED';
    const config: S3ClientConfig = {
      region: options.region,
      forcePathStyle: options.forcePathStyle ?? false,
      requestChecksumCalculation: mode,
      responseChecksumValidation: mode,
      requestHandler: new NodeHttpHandler({ httpAgent, httpsAgent, connectionTimeout: 10_000 }),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    this.client = new S3Client(config);
    this.presignedPost = { client: this.client, bucket: this.bucket, prefix: this.prefix };
    this.multipart = { partBytes: this.#partSize };
    this.#presigner = new S3Client({
      ...config,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: undefined,
    });
    this.resumable = new S3Resumable(
      this.presignedPost,
      this.#presigner,
      (key) => this.head(key),
      (key) => this.objectKey(key),
    );
  }

  readonly cleanupIncomplete = (
    cutoff: number,
    dryRun: boolean,
    onFound?: (l: Leftover) => void,
  ): Promise<Leftover[]> => cleanupS3(this.presignedPost, cutoff, dryRun, onFound);

  /** The bucket key for one of our keys; our key rules apply before any request. */
  objectKey(key: string): string {
    const problem = keyProblem(key);
    if (problem) throw new BadKey(problem);
    return this.prefix + key;
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    const Key = this.objectKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return metaFrom(key, out);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw translateS3Error(err);
    }
  }

  async get(key: string, options: { range?: ByteRange | undefined } = {}): Promise<StoredObject | undefined> {
    const Key = this.objectKey(key);
    const range = options.range;
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
    } catch (err) {
      if (isMissing(err)) return undefined;
      // S3 answers 416 for a range starting past the end (and for any range of an empty
      // object); the fs driver answers such a range with an empty body, and so do we.
      if (range && statusOf(err) === 416) {
        const meta = await this.head(key);
        return meta ? { meta, body: Readable.from([]), range } : undefined;
      }
      throw translateS3Error(err);
    }
    const body = out.Body;
    if (!(body instanceof Readable)) throw translateS3Error(new Error('GetObject returned no stream'));
    const meta = metaFrom(key, out);
    // Content-Length of a ranged response is the range's length; the object size is in Content-Range.
    const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
    if (total !== undefined) meta.size = Number(total);
    const returned = /^bytes (\d+)-(\d+)\//.exec(out.ContentRange ?? '');
    return {
      meta,
      body,
      range: range && returned ? { start: Number(returned[1]), end: Number(returned[2]) } : undefined,
    };
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<ObjectMeta> {
    const Key = this.objectKey(key);
    const { maxBytes, signal } = options;
    const expected = options.expectedSha256?.toLowerCase();
    const metadata: Record<string, string> = { ...options.metadata };
    delete metadata[SHA256_META];
    if (expected !== undefined) metadata[SHA256_META] = expected;
    // The first failure wins: lib-storage may report a later one (a failed abort request).
    let failure: Error | undefined;
    // Size limit and checksum: the shared meter (./meter.ts). The digest is read by
    // lib-storage's single PutObject, which copies params only when it sends.
    const meter = new UploadMeter({ maxBytes, expectedSha256: expected }, (digest) => {
      metadata[SHA256_META] = digest;
    });
    const upload = new Upload({
      client: this.client,
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key,
        Body: meter,
        ContentType: options.contentType,
        ...(options.contentEncoding ? { ContentEncoding: options.contentEncoding } : {}),
        Metadata: metadata,
      },
    });
    const fail = (err: Error) => {
      failure ??= meter.failure ?? err;
      meter.destroy(failure);
    };
    // Failing the body (not upload.abort()) makes lib-storage abort the multipart upload
    // before done() settles, so when put() rejects nothing is left behind.
    const onAbort = () => fail(abortError(signal));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const onBodyError = (err: Error) => fail(err);
    body.once('error', onBodyError);
    body.pipe(meter);
    let etag: string | undefined;
    try {
      const result = await upload.done();
      etag = 'ETag' in result ? result.ETag : undefined;
    } catch (err) {
      // The caller owns `body` (often a request whose client still waits for our answer).
      body.unpipe(meter);
      failure ??= meter.failure;
      throw failure && isCodedError(failure) ? failure : translateS3Error(failure ?? err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      body.off('error', onBodyError);
    }
    const digest = meter.sha256 ?? '';
    const stored = await this.head(key).catch(() => undefined);
    // Another writer may have replaced the object since; then describe what we wrote.
    if (stored && (etag === undefined || stored.etag === etag)) return { ...stored, sha256: digest };
    return { ...meteredMeta(key, meter, options), etag: etag ?? '""' };
  }

  async delete(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    // S3's DeleteObject succeeds whether or not the key existed; HEAD first to answer honestly.
    const existed = (await this.head(key)) !== undefined;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isMissing(err)) return false;
      throw translateS3Error(err);
    }
    return existed;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) return;
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
          }),
        );
      } catch (err) {
        throw translateS3Error(err);
      }
      for (const item of page.Contents ?? []) {
        if (!item.Key?.startsWith(this.prefix)) continue;
        const key = item.Key.slice(this.prefix.length);
        if (keyProblem(key)) continue; // written by something else; not addressable through us
        // Listing carries no content type or metadata; HEAD gives the full description.
        const meta = await this.head(key);
        if (!meta) continue; // deleted between list and head
        yield meta;
        if (--remaining <= 0) return;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** HeadBucket: reachable, credentials valid, bucket present (no write, so probes cost nothing). */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw translateS3Error(err);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.#presigner.destroy();
    for (const agent of this.#agents) agent.destroy();
  }
}

function metaFrom(key: string, out: HeadObjectCommandOutput | GetObjectCommandOutput): ObjectMeta {
  const metadata: Record<string, string> = {};
  let sha256: string | undefined;
  for (const [name, value] of Object.entries(out.Metadata ?? {})) {
    if (name.toLowerCase() === SHA256_META) sha256 = value;
    else metadata[name.toLowerCase()] = value;
  }
  return {
    key,
    size: out.ContentLength ?? 0,
    contentType: out.ContentType ?? 'application/octet-stream',
    etag: out.ETag ?? '""',
    sha256,
    lastModified: out.LastModified ?? new Date(0),
    contentEncoding: out.ContentEncoding || undefined,
    metadata,
  };
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isMissing(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || (statusOf(err) === 404 && name !== 'NoSuchBucket');
}
