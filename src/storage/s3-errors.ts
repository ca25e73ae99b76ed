/**
 * Translation of AWS SDK failures into our coded errors, so no SDK error crosses the storage
 * seam. Missing keys never get here: the driver answers them with `undefined`.
 */
import { isCodedError, StorageFailed, StorageUnavailable, UploadAborted } from '../errors.js';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** 503 when S3 is unreachable, throttling or failing (retry may help); 502 when it refused us. */
export function translateS3Error(err: unknown): Error {
  if (isCodedError(err) && typeof err.statusCode === 'number') return err;
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  // The message reaches viewers in the answer body, so it names the kind of failure only: the
  // SDK's own message can hold the endpoint's address or the bucket (it stays in the cause, logged).
  const kind = e.name && e.name !== 'Error' ? e.name : (e.code ?? e.name ?? 'Error');
  const what = `${kind}${status ? ` (HTTP ${status})` : ''}`;
  const cause = err instanceof Error ? err : new Error(String(err));
  if (status === undefined || status >= 500 || status === 429 || e.name === 'SlowDown') {
    return new StorageUnavailable(what, { cause });
  }
  return new StorageFailed(what, { cause });
}

/** The error a put rejects with when its AbortSignal fires: the signal's own coded reason, if any. */
export function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (isCodedError(reason)) return reason;
  return new UploadAborted('the upload was cancelled', reason instanceof Error ? { cause: reason } : {});
}
