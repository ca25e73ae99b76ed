/**
 * The upload meter: the one place a put's size limit and checksum are enforced, shared by
 * every driver (PutOptions.maxBytes / expectedSha256 in ./types.ts).
 *
 * It sits between the caller's body and the driver's sink and fails the stream itself, so the
 * sink never receives the end of a body that is too large or does not match its checksum:
 * - more than `maxBytes` arrive → EDGEWISE_UPLOAD_TOO_LARGE, raised on the chunk that crosses
 *   the limit (the rest of the body is not read);
 * - the body ends and its SHA-256 differs from `expectedSha256` → EDGEWISE_CHECKSUM_MISMATCH,
 *   raised in flush, i.e. before the end is passed on (lib-storage then never sends the single
 *   PutObject, or aborts the multipart upload; the fs driver never renames its temp file).
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ChecksumMismatch, UploadTooLarge } from '../errors.js';
import type { ObjectMeta, PutOptions } from './types.js';

export interface MeterLimits {
  maxBytes?: number | undefined;
  /** Hex, either case. */
  expectedSha256?: string | undefined;
}

export class UploadMeter extends Transform {
  /**
   * Bytes seen so far. Not named `size` or `length`: lib-storage reads those on a Body as its
   * total length and would then expect zero parts.
   */
  received = 0;
  /** Hex SHA-256 of the whole body; set once the body has ended and passed the checks. */
  sha256: string | undefined;
  /** The first error the meter raised (a driver reports it rather than a later, derived one). */
  failure: Error | undefined;
  readonly #hash = createHash('sha256');
  readonly #maxBytes: number | undefined;
  readonly #expected: string | undefined;
  readonly #onVerified: ((sha256: string) => void) | undefined;

  /**
   * `onVerified` runs with the digest after the checks passed and before the end is passed
   * on: the s3 driver records the digest in metadata that lib-storage sends at the end.
   */
  constructor(limits: MeterLimits, onVerified?: (sha256: string) => void) {
    // Chunks pass straight through; the sinks (fs write stream, lib-storage parts) batch.
    super({ highWaterMark: 64 * 1024 });
    this.#maxBytes = limits.maxBytes;
    this.#expected = limits.expectedSha256?.toLowerCase();
    this.#onVerified = onVerified;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.received += chunk.length;
    if (this.#maxBytes !== undefined && this.received > this.#maxBytes) {
      cb(this.#fail(new UploadTooLarge(this.#maxBytes)));
      return;
    }
    this.#hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const digest = this.#hash.digest('hex');
    if (this.#expected !== undefined && this.#expected !== digest) {
      cb(this.#fail(new ChecksumMismatch('sha-256')));
      return;
    }
    this.sha256 = digest;
    this.#onVerified?.(digest);
    cb();
  }

  #fail(err: Error): Error {
    this.failure ??= err;
    return this.failure;
  }
}

/**
 * What a put that passed `meter` stored, as the driver describes it. The ETag is strong and
 * derived from the digest (equal bodies, equal ETags); the s3 driver replaces it with S3's.
 */
export function meteredMeta(key: string, meter: UploadMeter, options: PutOptions): ObjectMeta {
  const sha256 = meter.sha256 ?? '';
  return {
    key,
    size: meter.received,
    contentType: options.contentType,
    contentEncoding: options.contentEncoding,
    etag: `"${Buffer.from(sha256, 'hex').toString('base64url').slice(0, 27)}"`,
    sha256,
    // Second precision, as HTTP dates (and S3's Last-Modified) have it.
    lastModified: new Date(Math.floor(Date.now() / 1000) * 1000),
    metadata: { ...options.metadata },
  };
}
