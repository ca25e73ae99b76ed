/**
 * Resumable uploads for the s3 driver (ResumableStorage, ./types.ts): S3's own multipart upload,
 * with part bytes going from the client straight to S3 through presigned UploadPart URLs; the
 * origin only creates, lists, completes and aborts.
 *
 * Why a staging key: S3 publishes an object the moment CompleteMultipartUpload succeeds, and its
 * bytes cannot be read before that, so a content-type check of the first bytes could only run
 * on an object readers already see. The upload is therefore created at
 *   `<prefix>.edgewise/multipart/<sha256(key)>/<nonce>`
 * (reserved: no viewer can name it), completed there, its first bytes read back and checked,
 * and only then copied to its key (CopyObject, server-side; UploadPartCopy above 5 GiB) and the
 * staged object deleted. A refused size is refused before CompleteMultipartUpload (the sizes come
 * from ListParts) and the upload is aborted; a refused type deletes the staged object.
 * The staging key is derived from the key, so a request naming another key names no upload (S3
 * answers NoSuchUpload), and the nonce keeps concurrent uploads of one key apart. The upload id
 * we hand out is `<nonce>.<S3 UploadId>`.
 *
 * Presigned URLs are signed by a client with `requestChecksumCalculation: 'WHEN_REQUIRED'`:
 * otherwise SDK v3 signs a CRC32 checksum parameter into the URL that a browser PUT cannot
 * satisfy. Bucket CORS must allow PUT from the page and expose ETag (docs/uploads.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListPartsCommand,
  type ListPartsCommandOutput,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { MultipartBadPart } from '../errors.js';
import { RESERVED_PREFIX } from './keys.js';
import { MAX_PART_BYTES, matchParts } from './parts.js';
import { translateS3Error } from './s3-errors.js';
import type { CompletionChecks, ObjectMeta, ResumableStorage, S3Target, StoredPart } from './types.js';

/** Where resumable uploads are staged, under the driver's prefix. */
export const STAGING_PREFIX = `${RESERVED_PREFIX}multipart/`;
const HEAD_BYTES = 4100;
/** Copy parts for objects over CopyObject's 5 GiB limit. */
const COPY_PART_BYTES = 1024 * 1024 * 1024;

const ID_RX = /^([0-9a-f]{16})\.(.+)$/;

export class S3Resumable implements ResumableStorage {
  readonly #t: S3Target;
  readonly #presigner: S3Client;
  readonly #head: (key: string) => Promise<ObjectMeta | undefined>;
  readonly #bucketKey: (key: string) => string;

  constructor(
    target: S3Target,
    presigner: S3Client,
    head: (key: string) => Promise<ObjectMeta | undefined>,
    bucketKey: (key: string) => string,
  ) {
    this.#t = target;
    this.#presigner = presigner;
    this.#head = head;
    this.#bucketKey = bucketKey;
  }

  /** Bucket key of the staged upload and S3's upload id, or undefined for an id not ours. */
  #staged(key: string, uploadId: string): { Key: string; UploadId: string } | undefined {
    const m = ID_RX.exec(uploadId);
    if (!m) return undefined;
    this.#bucketKey(key); // our key rules first
    const digest = createHash('sha256').update(key, 'utf8').digest('hex');
    return { Key: `${this.#t.prefix}${STAGING_PREFIX}${digest}/${m[1]}`, UploadId: m[2]! };
  }

  async create(
    key: string,
    options: { contentType: string; metadata: Record<string, string> },
  ): Promise<string> {
    const nonce = randomBytes(8).toString('hex');
    const { Key } = this.#staged(key, `${nonce}.x`)!;
    try {
      const out = await this.#t.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.#t.bucket,
          Key,
          ContentType: options.contentType,
          Metadata: options.metadata,
        }),
      );
      if (!out.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
      return `${nonce}.${out.UploadId}`;
    } catch (err) {
      throw translateS3Error(err);
    }
  }

  async presignPart(
    key: string,
    uploadId: string,
    partNumber: number,
    expiresInSeconds: number,
  ): Promise<string> {
    const s = this.#staged(key, uploadId);
    if (!s) throw new MultipartBadPart(`upload id ${uploadId} is malformed`);
    return getSignedUrl(
      this.#presigner,
      new UploadPartCommand({ Bucket: this.#t.bucket, ...s, PartNumber: partNumber }),
      { expiresIn: expiresInSeconds },
    );
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[] | undefined> {
    const s = this.#staged(key, uploadId);
    if (!s) return undefined;
    const parts: StoredPart[] = [];
    let PartNumberMarker: string | undefined;
    try {
      for (;;) {
        const page: ListPartsCommandOutput = await this.#t.client.send(
          new ListPartsCommand({ Bucket: this.#t.bucket, ...s, PartNumberMarker }),
        );
        for (const p of page.Parts ?? [])
          if (p.PartNumber !== undefined && p.ETag !== undefined)
            parts.push({
              partNumber: p.PartNumber,
              size: p.Size ?? 0,
              etag: p.ETag,
              lastModified: p.LastModified ?? new Date(0),
            });
        if (!page.IsTruncated) break;
        PartNumberMarker = page.NextPartNumberMarker;
      }
    } catch (err) {
      if (noSuchUpload(err)) return undefined;
      throw translateS3Error(err);
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async complete(
    key: string,
    uploadId: string,
    given: ReadonlyArray<{ partNumber: number; etag: string }>,
    checks: CompletionChecks,
  ): Promise<ObjectMeta | undefined> {
    const s = this.#staged(key, uploadId);
    const stored = await this.listParts(key, uploadId);
    if (!s || !stored) return undefined;
    const parts = matchParts(stored, given);
    const size = parts.reduce((n, p) => n + p.size, 0);
    try {
      checks.size(size);
    } catch (err) {
      await this.abort(key, uploadId).catch(() => false);
      throw err;
    }
    const { client, bucket } = this.#t;
    try {
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          ...s,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      );
    } catch (err) {
      if (noSuchUpload(err)) return undefined;
      const name = (err as { name?: string }).name;
      if (name === 'InvalidPart' || name === 'InvalidPartOrder' || name === 'EntityTooSmall')
        throw new MultipartBadPart(name, { cause: err });
      throw translateS3Error(err);
    }
    const staged = { Bucket: bucket, Key: s.Key };
    try {
      const first = await client.send(
        new GetObjectCommand({ ...staged, Range: `bytes=0-${HEAD_BYTES - 1}` }),
      );
      const head = first.Body instanceof Readable ? await readAll(first.Body) : Buffer.alloc(0);
      const declared = first.ContentType ?? 'application/octet-stream';
      const contentType = await checks.type(head, declared);
      await this.#publish(s.Key, this.#bucketKey(key), size, contentType, first.Metadata ?? {});
    } catch (err) {
      // Refused or failed: the staged object goes, so nothing of this upload is left anywhere.
      await client.send(new DeleteObjectCommand(staged)).catch(() => {});
      throw translateS3Error(err);
    }
    await client.send(new DeleteObjectCommand(staged)).catch(() => {});
    return this.#head(key);
  }

  /** Server-side copy of the staged object to its key, with the checked type. */
  async #publish(
    from: string,
    to: string,
    size: number,
    ContentType: string,
    Metadata: Record<string, string>,
  ): Promise<void> {
    const { client, bucket } = this.#t;
    const CopySource = `${bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    if (size <= MAX_PART_BYTES) {
      await client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: to,
          CopySource,
          MetadataDirective: 'REPLACE',
          ContentType,
          Metadata,
        }),
      );
      return;
    }
    // CopyObject stops at 5 GiB: copy in parts, as S3 documents for larger objects.
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: to, ContentType, Metadata }),
    );
    const UploadId = created.UploadId!;
    try {
      const Parts: Array<{ PartNumber: number; ETag: string }> = [];
      for (let start = 0, n = 1; start < size; start += COPY_PART_BYTES, n++) {
        const end = Math.min(start + COPY_PART_BYTES, size) - 1;
        const out = await client.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: to,
            UploadId,
            PartNumber: n,
            CopySource,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        Parts.push({ PartNumber: n, ETag: out.CopyPartResult?.ETag ?? '' });
      }
      await client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId, MultipartUpload: { Parts } }),
      );
    } catch (err) {
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId }))
        .catch(() => {});
      throw err;
    }
  }

  async abort(key: string, uploadId: string): Promise<boolean> {
    const s = this.#staged(key, uploadId);
    if (!s) return false;
    // S3 answers an abort of an unknown upload with 204 on some stores: ask first.
    if (!(await this.listParts(key, uploadId))) return false;
    try {
      await this.#t.client.send(new AbortMultipartUploadCommand({ Bucket: this.#t.bucket, ...s }));
      return true;
    } catch (err) {
      if (noSuchUpload(err)) return false;
      throw translateS3Error(err);
    }
  }
}

function noSuchUpload(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  // A missing bucket is a 404 too, but a storage failure, not a missing upload.
  return e?.name === 'NoSuchUpload' || (e?.$metadata?.httpStatusCode === 404 && e?.name !== 'NoSuchBucket');
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
