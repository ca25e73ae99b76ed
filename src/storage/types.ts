/**
 * The storage seam. A handful of methods, streams in and out, and no vendor error crossing
 * it: a missing key is `undefined`; failures are coded errors from src/errors.ts.
 * Every driver passes test/storage/conformance.ts (`storageDriverTests`).
 *
 * What only some drivers can do is declared here as optional members (capabilities), so a
 * caller asks `driver.presignedPost` rather than `driver instanceof S3Driver`, and a wrapper
 * (metrics) passes the capability on instead of hiding the class.
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';

export interface ObjectMeta {
  key: string;
  /** Bytes of the stored body. */
  size: number;
  contentType: string;
  /** Strong validator, quoted as sent in an ETag header: `"…"`. */
  etag: string;
  /** Hex SHA-256 of the body, when the driver computed or was given it. */
  sha256?: string | undefined;
  lastModified: Date;
  /** Content-Encoding of the stored bytes when the object is itself an encoded variant. */
  contentEncoding?: string | undefined;
  /** User metadata (lowercase keys, string values). */
  metadata: Record<string, string>;
}

/** Inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface StoredObject {
  meta: ObjectMeta;
  body: Readable;
  /** The range actually returned, when one was asked for. */
  range?: ByteRange | undefined;
  /**
   * The same bytes as `body`, when the driver holds them in memory (fs hot cache): a caller may
   * send these instead and never read `body`.
   */
  bytes?: Buffer | undefined;
}

export interface PutOptions {
  contentType: string;
  contentEncoding?: string | undefined;
  metadata?: Record<string, string> | undefined;
  /** Fail with EDGEWISE_UPLOAD_TOO_LARGE once more bytes than this arrive; nothing is stored. */
  maxBytes?: number | undefined;
  /** Fail with EDGEWISE_CHECKSUM_MISMATCH when the body's SHA-256 (hex) differs; nothing is stored. */
  expectedSha256?: string | undefined;
  /** Aborting stops the write and discards everything written so far. */
  signal?: AbortSignal | undefined;
}

export interface ListOptions {
  /** Stop after this many objects. */
  limit?: number | undefined;
}

/** An S3 bucket and our key prefix in it, with the client that signs for it. */
export interface S3Target {
  readonly client: S3Client;
  readonly bucket: string;
  /** '' or ending in '/'. */
  readonly prefix: string;
}

/** A write that a crash left unfinished (capability `cleanupIncomplete`). */
export interface Leftover {
  kind: 'temp-file' | 'multipart-upload' | 'staged-object';
  /** Temp file name, the object key of the multipart upload, or the staged object's key. */
  name: string;
  uploadId?: string;
  startedAt: Date;
}

/** One stored part of a resumable (multipart) upload. */
export interface StoredPart {
  partNumber: number;
  size: number;
  /** Quoted, as S3 lists it: `"…"`. */
  etag: string;
  lastModified: Date;
}

/**
 * The checks a resumable upload must pass at completion, run by the driver after the parts are
 * assembled where no reader can see them and before the object is published. A check that
 * throws makes the driver discard the upload: nothing becomes visible.
 */
export interface CompletionChecks {
  /** Total size of the parts named at completion. */
  size(bytes: number): void;
  /** The first bytes and the type declared at creation → the content type to store. */
  type(head: Buffer, declared: string): Promise<string>;
}

/**
 * Resumable uploads in S3's multipart model (create, parts, list, complete, abort), for clients
 * that upload parts in parallel and resume after a cut (src/uploads/multipart.ts maps Uppy's
 * protocol onto this). Part bytes reach the store either straight from the client through a
 * presigned URL (`presignPart`, s3) or through the origin (`putPart`, fs): a driver has one.
 */
export interface ResumableStorage {
  /** A new upload for `key`; its id is opaque, URL-safe, and names the upload together with the key. */
  create(key: string, options: { contentType: string; metadata: Record<string, string> }): Promise<string>;
  /** A URL the client PUTs part bytes to, valid `expiresInSeconds`. */
  presignPart?(key: string, uploadId: string, partNumber: number, expiresInSeconds: number): Promise<string>;
  /** Stores one part (replacing a part of the same number); undefined when there is no such upload. */
  putPart?(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    options: { maxBytes: number; signal?: AbortSignal | undefined },
  ): Promise<StoredPart | undefined>;
  /** Stored parts in part-number order; undefined when there is no such upload. */
  listParts(key: string, uploadId: string): Promise<StoredPart[] | undefined>;
  /**
   * Assembles the named parts (ascending, each as listed), runs `checks`, publishes the object.
   * Undefined when there is no such upload. A failed check aborts the upload.
   */
  complete(
    key: string,
    uploadId: string,
    parts: ReadonlyArray<{ partNumber: number; etag: string }>,
    checks: CompletionChecks,
  ): Promise<ObjectMeta | undefined>;
  /** Removes the upload and its parts; false when there was none. */
  abort(key: string, uploadId: string): Promise<boolean>;
}

export interface StorageDriver {
  readonly name: 'fs' | 's3' | 'memory';
  head(key: string): Promise<ObjectMeta | undefined>;
  get(key: string, options?: { range?: ByteRange | undefined }): Promise<StoredObject | undefined>;
  /** Streams `body` to `key`. Readers see the old object or the new one, never a mix or a part. */
  put(key: string, body: Readable, options: PutOptions): Promise<ObjectMeta>;
  /** True when something was deleted. */
  delete(key: string): Promise<boolean>;
  /** Objects whose key starts with `prefix`, in key order. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectMeta>;
  /** Resolves when the store is reachable and writable (readiness probe). */
  check(): Promise<void>;
  close(): Promise<void>;

  // Capabilities: absent when the driver cannot do it.
  /** Browsers may upload straight to the store with an S3 presigned POST signed for this target. */
  readonly presignedPost?: S3Target | undefined;
  /**
   * Bodies over `partBytes` are sent as a multipart upload, whose parts stay stored (and billed)
   * until it completes or is aborted.
   */
  readonly multipart?: { readonly partBytes: number } | undefined;
  /** Resumable multipart uploads whose parts the client sends (./types.ts ResumableStorage). */
  readonly resumable?: ResumableStorage | undefined;
  /**
   * Removes (or with `dryRun` only lists) unfinished writes that started before `cutoff` (ms
   * since the epoch): they sit outside the key space but hold disk or are billed. `onFound`
   * hears of each one as it is handled (a long listing shows progress as it goes).
   */
  readonly cleanupIncomplete?:
    | ((cutoff: number, dryRun: boolean, onFound?: (l: Leftover) => void) => Promise<Leftover[]>)
    | undefined;
}
