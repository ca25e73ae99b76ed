/**
 * The catalogue of coded errors: the only place a code, its status and its message are written
 * (other modules use `SomeError.code`, `SomeError.statusCode` or the constructor). The built CloudFront functions get their
 * entries at build time (src/cloudfront/build.ts). docs/errors.md is kept in step with this
 * file, and src/ and edge-functions/ free of copied codes, by test/foundation/errors.test.ts. Add new codes in the section of the subsystem that
 * raises them.
 */
import createError from '@fastify/error';

/**
 * createError, with the code and status also on the constructor, so a module names a code or a
 * status as `NotFound.code` / `NotFound.statusCode` without building an error or copying the string.
 */
function coded<C extends string, S extends number>(code: C, message: string, statusCode: S) {
  return Object.assign(createError(code, message, statusCode), { code, statusCode });
}

// Generic HTTP
export const NotFound = coded('EDGEWISE_NOT_FOUND', 'No object at %s', 404);
export const BadKey = coded('EDGEWISE_BAD_KEY', 'Invalid object key: %s', 400);
export const MethodNotAllowed = coded('EDGEWISE_METHOD_NOT_ALLOWED', 'Method %s is not allowed here', 405);
export const Internal = coded('EDGEWISE_INTERNAL', 'Internal error', 500);
// Request paths (src/http/path.ts): every layer refuses what is not canonical, so a content
// class chosen on one spelling can never serve the object another spelling names.
export const NonCanonicalPath = coded(
  'EDGEWISE_NON_CANONICAL_PATH',
  'The path is not in canonical form; request %s',
  400,
);
export const BadPath = coded('EDGEWISE_BAD_PATH', 'Invalid request path: %s', 400);
export const UriTooLong = coded('EDGEWISE_URI_TOO_LONG', 'The path and query exceed %s bytes', 414);
// What Node's HTTP parser and timeouts refuse before a handler runs (src/http/client-error.ts),
// at the origin and the edge alike, and a request target in no form RFC 9112 §3.2 allows.
export const BadRequest = coded('EDGEWISE_BAD_REQUEST', 'Malformed HTTP request: %s', 400);
export const HeadersTooLarge = coded(
  'EDGEWISE_HEADERS_TOO_LARGE',
  'The request line and header fields exceed %s bytes',
  431,
);
export const ChunkExtensionsTooLarge = coded(
  'EDGEWISE_CHUNK_EXTENSIONS_TOO_LARGE',
  'Chunk extensions exceed %s bytes',
  413,
);

// Storage
export const StorageUnavailable = coded('EDGEWISE_STORAGE_UNAVAILABLE', 'Storage is unavailable: %s', 503);
export const UploadTooLarge = coded('EDGEWISE_UPLOAD_TOO_LARGE', 'Upload exceeds %s bytes', 413);
export const ChecksumMismatch = coded(
  'EDGEWISE_CHECKSUM_MISMATCH',
  'Body %s does not match the supplied checksum',
  400,
);
export const UploadAborted = coded('EDGEWISE_UPLOAD_ABORTED', 'Upload aborted: %s', 400);

// CloudFront signing (src/cloudfront): a verifier rejection is a 403, as CloudFront answers.
export const SigningNotConfigured = coded(
  'EDGEWISE_SIGNING_NOT_CONFIGURED',
  'Signed URLs need cloudfront.signing.keyPairId and a private key: %s',
  503,
);
export const SignatureMissing = coded(
  'EDGEWISE_SIGNATURE_MISSING',
  'Signed URL or cookies required: %s',
  403,
);
export const SignatureMalformed = coded('EDGEWISE_SIGNATURE_MALFORMED', 'Malformed signature: %s', 403);
export const SignatureInvalid = coded('EDGEWISE_SIGNATURE_INVALID', 'Signature does not match: %s', 403);
export const SignatureUnknownKey = coded('EDGEWISE_SIGNATURE_UNKNOWN_KEY', 'Unknown key pair id: %s', 403);
export const SignatureExpired = coded('EDGEWISE_SIGNATURE_EXPIRED', 'Signature expired: %s', 403);
export const SignatureNotYetValid = coded(
  'EDGEWISE_SIGNATURE_NOT_YET_VALID',
  'Signature not yet valid: %s',
  403,
);
export const SignatureIpMismatch = coded(
  'EDGEWISE_SIGNATURE_IP_MISMATCH',
  'Client address not allowed by the policy: %s',
  403,
);
export const SignatureResourceMismatch = coded(
  'EDGEWISE_SIGNATURE_RESOURCE_MISMATCH',
  'Policy does not cover this URL: %s',
  403,
);
export const SignatureExtraParam = coded(
  'EDGEWISE_SIGNATURE_EXTRA_PARAM',
  'Query parameter added after the signature: %s',
  403,
);
export const FunctionError = coded('EDGEWISE_FUNCTION_ERROR', 'The CloudFront function failed: %s', 503);
export const FunctionInvalidResult = coded(
  'EDGEWISE_FUNCTION_INVALID_RESULT',
  'The CloudFront function returned an invalid object: %s',
  502,
);
export const BadSignRequest = coded('EDGEWISE_BAD_SIGN_REQUEST', 'Invalid signing request: %s', 400);
export const Unauthorized = coded('EDGEWISE_UNAUTHORIZED', 'Missing or wrong API key', 401);

// Uploads (src/uploads, src/routes/uploads.ts, src/routes/upload-urls.ts)
export const StorageFailed = coded('EDGEWISE_STORAGE_FAILED', 'Storage refused the operation: %s', 502);
export const UploadSignatureMissing = coded(
  'EDGEWISE_UPLOAD_SIGNATURE_MISSING',
  'Upload needs a signed upload URL or an API key',
  403,
);
export const UploadSignatureInvalid = coded(
  'EDGEWISE_UPLOAD_SIGNATURE_INVALID',
  'Upload signature is not valid: %s',
  403,
);
export const UploadSignatureExpired = coded(
  'EDGEWISE_UPLOAD_SIGNATURE_EXPIRED',
  'Upload URL expired at %s',
  403,
);
export const UploadSignatureWrongMethod = coded(
  'EDGEWISE_UPLOAD_SIGNATURE_WRONG_METHOD',
  'Upload URL was signed for %s, not %s',
  403,
);
export const UploadSignatureWrongKey = coded(
  'EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY',
  'Upload URL does not cover key %s',
  403,
);
export const UnsupportedType = coded('EDGEWISE_UNSUPPORTED_TYPE', 'Content type not allowed: %s', 415);
export const BadMultipart = coded('EDGEWISE_BAD_MULTIPART', 'Malformed multipart upload: %s', 400);
export const TooManyParts = coded('EDGEWISE_TOO_MANY_PARTS', 'Too many multipart %s', 400);
export const BadUploadRequest = coded('EDGEWISE_BAD_UPLOAD_REQUEST', 'Invalid upload request: %s', 400);
export const UploadsBusy = coded(
  'EDGEWISE_UPLOADS_BUSY',
  'Too many uploads in progress (%s); retry shortly',
  503,
);
// A body that stalls or trickles (src/uploads/slow-body.ts): it would hold an upload slot for
// the whole upload deadline, so it is cut and answered, and nothing is stored.
export const UploadTooSlow = coded('EDGEWISE_UPLOAD_TOO_SLOW', 'Upload body too slow: %s', 408);
// One signed upload URL may not take every slot (uploads.maxConcurrentPerGrant).
export const UploadGrantBusy = coded(
  'EDGEWISE_UPLOAD_GRANT_BUSY',
  'Too many uploads in progress with this upload URL (%s); retry shortly',
  429,
);

// Image variants (src/images, src/routes/images.ts): every failure a source or a query can cause
// is a 4xx; only a full transform queue is a 503, with Retry-After.
export const ImageBadParam = coded('EDGEWISE_IMAGE_BAD_PARAM', 'Invalid image parameter: %s', 400);
export const ImageUnsupported = coded(
  'EDGEWISE_IMAGE_UNSUPPORTED',
  'Source is not an image this origin transforms: %s',
  415,
);
export const ImageCorrupt = coded('EDGEWISE_IMAGE_CORRUPT', 'Source image is corrupt or truncated: %s', 422);
export const ImageTooLarge = coded('EDGEWISE_IMAGE_TOO_LARGE', 'Source image exceeds %s bytes', 413);
export const ImageTooManyPixels = coded(
  'EDGEWISE_IMAGE_TOO_MANY_PIXELS',
  'Source image has %s pixels (all frames); the limit is %s',
  413,
);
export const ImageTimeout = coded(
  'EDGEWISE_IMAGE_TIMEOUT',
  'Image transform took longer than %s s and was abandoned',
  422,
);
export const ImageSignedSource = coded(
  'EDGEWISE_IMAGE_SIGNED_SOURCE',
  'Objects of the signed class %s are not served as image variants',
  403,
);
export const ImageBusy = coded('EDGEWISE_IMAGE_BUSY', 'Image transform queue is full; retry after %s s', 503);

// Serving (src/routes/serve-object.ts, src/http): RFC 9110 status codes for preconditions and
// ranges, and the transport's overload and timeout refusals.
export const PreconditionFailed = coded('EDGEWISE_PRECONDITION_FAILED', 'Precondition failed: %s', 412);
export const RangeNotSatisfiable = coded(
  'EDGEWISE_RANGE_NOT_SATISFIABLE',
  'Range not satisfiable for %s bytes',
  416,
);
export const Overloaded = coded(
  'EDGEWISE_OVERLOADED',
  'Server is over its load limits (%s); retry after %s s',
  503,
);
export const RequestTimeout = coded('EDGEWISE_REQUEST_TIMEOUT', 'Request not received in time: %s', 408);

// Local edge (src/edge): what CloudFront answers itself (502/504 for origin failures, 403 for
// the viewer protocol policy), and the invalidation API's input checks.
export const EdgeMethodForbidden = coded(
  'EDGEWISE_EDGE_METHOD_FORBIDDEN',
  "Method %s is not in the AllowedMethods of this path's behavior (class %s)",
  403,
);
export const EdgeHttpsRequired = coded(
  'EDGEWISE_EDGE_HTTPS_REQUIRED',
  'This path is served over HTTPS only',
  403,
);
export const EdgeOriginUnreachable = coded(
  'EDGEWISE_EDGE_ORIGIN_UNREACHABLE',
  'The edge could not reach the origin: %s',
  502,
);
export const EdgeOriginTimeout = coded(
  'EDGEWISE_EDGE_ORIGIN_TIMEOUT',
  'The origin did not answer in time: %s',
  504,
);
export const EdgeNotCached = coded(
  'EDGEWISE_EDGE_NOT_CACHED',
  'only-if-cached: the edge holds no fresh copy of %s',
  504,
);
export const EdgeBadInvalidation = coded('EDGEWISE_EDGE_BAD_INVALIDATION', 'Invalid invalidation: %s', 400);

// Resumable multipart uploads (src/routes/multipart-resumable.ts).
export const MultipartNotFound = coded(
  'EDGEWISE_MULTIPART_NOT_FOUND',
  'No resumable upload %s for that key (completed, aborted, cleaned up, or another key)',
  404,
);
export const MultipartBadPart = coded('EDGEWISE_MULTIPART_BAD_PART', 'Invalid upload part: %s', 400);
export const PartUrlInvalid = coded('EDGEWISE_PART_URL_INVALID', 'Invalid or expired part URL: %s', 403);
export const ResumableUnavailable = coded(
  'EDGEWISE_RESUMABLE_UNAVAILABLE',
  'Resumable uploads are not available: %s',
  501,
);

// CORS (src/routes/cors.ts): a preflight the configured origins, methods or headers do not allow.
export const CorsRejected = coded('EDGEWISE_CORS_REJECTED', 'CORS preflight refused: %s', 403);

/** Every error constructor in the catalogue, by code (for the README table test and docs). */
export const catalogue = {
  EDGEWISE_NOT_FOUND: NotFound,
  EDGEWISE_BAD_KEY: BadKey,
  EDGEWISE_METHOD_NOT_ALLOWED: MethodNotAllowed,
  EDGEWISE_INTERNAL: Internal,
  EDGEWISE_NON_CANONICAL_PATH: NonCanonicalPath,
  EDGEWISE_BAD_PATH: BadPath,
  EDGEWISE_URI_TOO_LONG: UriTooLong,
  EDGEWISE_BAD_REQUEST: BadRequest,
  EDGEWISE_HEADERS_TOO_LARGE: HeadersTooLarge,
  EDGEWISE_CHUNK_EXTENSIONS_TOO_LARGE: ChunkExtensionsTooLarge,
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
  EDGEWISE_FUNCTION_ERROR: FunctionError,
  EDGEWISE_FUNCTION_INVALID_RESULT: FunctionInvalidResult,
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
  EDGEWISE_UPLOAD_TOO_SLOW: UploadTooSlow,
  EDGEWISE_UPLOAD_GRANT_BUSY: UploadGrantBusy,
  EDGEWISE_MULTIPART_NOT_FOUND: MultipartNotFound,
  EDGEWISE_MULTIPART_BAD_PART: MultipartBadPart,
  EDGEWISE_PART_URL_INVALID: PartUrlInvalid,
  EDGEWISE_RESUMABLE_UNAVAILABLE: ResumableUnavailable,
  // Image variants
  EDGEWISE_IMAGE_BAD_PARAM: ImageBadParam,
  EDGEWISE_IMAGE_UNSUPPORTED: ImageUnsupported,
  EDGEWISE_IMAGE_CORRUPT: ImageCorrupt,
  EDGEWISE_IMAGE_TOO_LARGE: ImageTooLarge,
  EDGEWISE_IMAGE_TOO_MANY_PIXELS: ImageTooManyPixels,
  EDGEWISE_IMAGE_TIMEOUT: ImageTimeout,
  EDGEWISE_IMAGE_BUSY: ImageBusy,
  EDGEWISE_IMAGE_SIGNED_SOURCE: ImageSignedSource,
  // Serving
  EDGEWISE_PRECONDITION_FAILED: PreconditionFailed,
  EDGEWISE_RANGE_NOT_SATISFIABLE: RangeNotSatisfiable,
  EDGEWISE_OVERLOADED: Overloaded,
  EDGEWISE_REQUEST_TIMEOUT: RequestTimeout,
  // Local edge
  EDGEWISE_EDGE_HTTPS_REQUIRED: EdgeHttpsRequired,
  EDGEWISE_EDGE_METHOD_FORBIDDEN: EdgeMethodForbidden,
  EDGEWISE_EDGE_ORIGIN_UNREACHABLE: EdgeOriginUnreachable,
  EDGEWISE_EDGE_ORIGIN_TIMEOUT: EdgeOriginTimeout,
  EDGEWISE_EDGE_NOT_CACHED: EdgeNotCached,
  EDGEWISE_EDGE_BAD_INVALIDATION: EdgeBadInvalidation,
  // CORS
  EDGEWISE_CORS_REJECTED: CorsRejected,
} as const;

// Command-line errors: reported by `edgewise` on stderr with an exit status, never an HTTP answer
// (their classes live beside the code that raises them and take code and exit from here). Exit
// 2 means the input — config file, options — is wrong, as for a usage error.
export const ConfigInvalid = { code: 'EDGEWISE_CONFIG_INVALID', exit: 2 } as const;
export const CloudfrontPlanInvalid = { code: 'EDGEWISE_CLOUDFRONT_PLAN', exit: 2 } as const;
export const CloudfrontBuildFailed = { code: 'EDGEWISE_CLOUDFRONT_BUILD', exit: 2 } as const;

/** The command-line errors, by code (for the docs table test). */
export const cliCatalogue = {
  EDGEWISE_CONFIG_INVALID: ConfigInvalid,
  EDGEWISE_CLOUDFRONT_PLAN: CloudfrontPlanInvalid,
  EDGEWISE_CLOUDFRONT_BUILD: CloudfrontBuildFailed,
} as const;

export interface CodedError extends Error {
  code: string;
  statusCode?: number;
}

export function isCodedError(err: unknown): err is CodedError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}
