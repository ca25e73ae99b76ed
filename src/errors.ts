/**
 * The catalogue of coded errors. Callers branch on `err.code`; the README's error table is
 * kept in step with this file by test/errors.test.ts. Add new codes in the section of the
 * subsystem that raises them.
 */
import createError from '@fastify/error';

// Generic HTTP
export const NotFound = createError('EDGEWISE_NOT_FOUND', 'No object at %s', 404);
export const BadKey = createError('EDGEWISE_BAD_KEY', 'Invalid object key: %s', 400);
export const MethodNotAllowed = createError(
  'EDGEWISE_METHOD_NOT_ALLOWED',
  'Method %s is not allowed here',
  405,
);
export const Internal = createError('EDGEWISE_INTERNAL', 'Internal error', 500);

// Storage
export const StorageUnavailable = createError(
  'EDGEWISE_STORAGE_UNAVAILABLE',
  'Storage is unavailable: %s',
  503,
);
export const UploadTooLarge = createError('EDGEWISE_UPLOAD_TOO_LARGE', 'Upload exceeds %s bytes', 413);
export const ChecksumMismatch = createError(
  'EDGEWISE_CHECKSUM_MISMATCH',
  'Body %s does not match the supplied checksum',
  400,
);
export const UploadAborted = createError('EDGEWISE_UPLOAD_ABORTED', 'Upload aborted: %s', 400);

/** Every error constructor in the catalogue, by code (for the README table test and docs). */
export const catalogue = {
  EDGEWISE_NOT_FOUND: NotFound,
  EDGEWISE_BAD_KEY: BadKey,
  EDGEWISE_METHOD_NOT_ALLOWED: MethodNotAllowed,
  EDGEWISE_INTERNAL: Internal,
  EDGEWISE_STORAGE_UNAVAILABLE: StorageUnavailable,
  EDGEWISE_UPLOAD_TOO_LARGE: UploadTooLarge,
  EDGEWISE_CHECKSUM_MISMATCH: ChecksumMismatch,
  EDGEWISE_UPLOAD_ABORTED: UploadAborted,
} as const;

export interface CodedError extends Error {
  code: string;
  statusCode?: number;
}

export function isCodedError(err: unknown): err is CodedError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}
