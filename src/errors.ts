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

// CloudFront signing (src/cloudfront): a verifier rejection is a 403, as CloudFront answers.
export const SigningNotConfigured = createError(
  'EDGEWISE_SIGNING_NOT_CONFIGURED',
  'Signed URLs need cloudfront.signing.keyPairId and a private key: %s',
  503,
);
export const SignatureMissing = createError('EDGEWISE_SIGNATURE_MISSING', 'Signed URL or cookies required: %s', 403);
export const SignatureMalformed = createError('EDGEWISE_SIGNATURE_MALFORMED', 'Malformed signature: %s', 403);
export const SignatureInvalid = createError('EDGEWISE_SIGNATURE_INVALID', 'Signature does not match: %s', 403);
export const SignatureUnknownKey = createError('EDGEWISE_SIGNATURE_UNKNOWN_KEY', 'Unknown key pair id: %s', 403);
export const SignatureExpired = createError('EDGEWISE_SIGNATURE_EXPIRED', 'Signature expired: %s', 403);
export const SignatureNotYetValid = createError(
  'EDGEWISE_SIGNATURE_NOT_YET_VALID',
  'Signature not yet valid: %s',
  403,
);
export const SignatureIpMismatch = createError(
  'EDGEWISE_SIGNATURE_IP_MISMATCH',
  'Client address not allowed by the policy: %s',
  403,
);
export const SignatureResourceMismatch = createError(
  'EDGEWISE_SIGNATURE_RESOURCE_MISMATCH',
  'Policy does not cover this URL: %s',
  403,
);
export const SignatureExtraParam = createError(
  'EDGEWISE_SIGNATURE_EXTRA_PARAM',
  'Query parameter added after the signature: %s',
  403,
);
export const BadSignRequest = createError('EDGEWISE_BAD_SIGN_REQUEST', 'Invalid signing request: %s', 400);
export const Unauthorized = createError('EDGEWISE_UNAUTHORIZED', 'Missing or wrong API key', 401);

// Uploads (src/uploads, src/routes/uploads.ts, src/routes/upload-urls.ts)
export const StorageFailed = createError(
  'EDGEWISE_STORAGE_FAILED',
  'Storage refused the operation: %s',
  502,
);
export const UploadSignatureMissing = createError(
  'EDGEWISE_UPLOAD_SIGNATURE_MISSING',
  'Upload needs a signed upload URL or an API key',
  403,
);
export const UploadSignatureInvalid = createError(
  'EDGEWISE_UPLOAD_SIGNATURE_INVALID',
  'Upload signature is not valid: %s',
  403,
);
export const UploadSignatureExpired = createError(
  'EDGEWISE_UPLOAD_SIGNATURE_EXPIRED',
  'Upload URL expired at %s',
  403,
);
export const UploadSignatureWrongMethod = createError(
  'EDGEWISE_UPLOAD_SIGNATURE_WRONG_METHOD',
  'Upload URL was signed for %s, not %s',
  403,
);
export const UploadSignatureWrongKey = createError(
  'EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY',
  'Upload URL does not cover key %s',
  403,
);
export const UnsupportedType = createError('EDGEWISE_UNSUPPORTED_TYPE', 'Content type not allowed: %s', 415);
export const BadMultipart = createError('EDGEWISE_BAD_MULTIPART', 'Malformed multipart upload: %s', 400);
export const TooManyParts = createError('EDGEWISE_TOO_MANY_PARTS', 'Too many multipart %s', 400);
export const BadUploadRequest = createError('EDGEWISE_BAD_UPLOAD_REQUEST', 'Invalid upload request: %s', 400);
export const UploadsBusy = createError(
  'EDGEWISE_UPLOADS_BUSY',
  'Too many uploads in progress (%s); retry shortly',
  503,
);

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
  // CloudFront signing
  EDGEWISE_SIGNING_NOT_CONFIGURED: SigningNotConfigured,
  EDGEWISE_SIGNATURE_MISSING: SignatureMissing,
  EDGEWISE_SIGNATURE_MALFORMED: SignatureMalformed,
  EDGEWISE_SIGNATURE_INVALID: SignatureInvalid,
  EDGEWISE_SIGNATURE_UNKNOWN_KEY: SignatureUnknownKey,
  EDGEWISE_SIGNATURE_EXPIRED: SignatureExpired,
  EDGEWISE_SIGNATURE_NOT_YET_VALID: SignatureNotYetValid,
  EDGEWISE_SIGNATURE_IP_MISMATCH: SignatureIpMismatch,
  EDGEWISE_SIGNATURE_RESOURCE_MISMATCH: SignatureResourceMismatch,
  EDGEWISE_SIGNATURE_EXTRA_PARAM: SignatureExtraParam,
  EDGEWISE_BAD_SIGN_REQUEST: BadSignRequest,
  EDGEWISE_UNAUTHORIZED: Unauthorized,
  // Uploads
  EDGEWISE_STORAGE_FAILED: StorageFailed,
  EDGEWISE_UPLOAD_SIGNATURE_MISSING: UploadSignatureMissing,
  EDGEWISE_UPLOAD_SIGNATURE_INVALID: UploadSignatureInvalid,
  EDGEWISE_UPLOAD_SIGNATURE_EXPIRED: UploadSignatureExpired,
  EDGEWISE_UPLOAD_SIGNATURE_WRONG_METHOD: UploadSignatureWrongMethod,
  EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY: UploadSignatureWrongKey,
  EDGEWISE_UNSUPPORTED_TYPE: UnsupportedType,
  EDGEWISE_BAD_MULTIPART: BadMultipart,
  EDGEWISE_TOO_MANY_PARTS: TooManyParts,
  EDGEWISE_BAD_UPLOAD_REQUEST: BadUploadRequest,
  EDGEWISE_UPLOADS_BUSY: UploadsBusy,
} as const;

export interface CodedError extends Error {
  code: string;
  statusCode?: number;
}

export function isCodedError(err: unknown): err is CodedError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}
