import { type Static, Type } from '@sinclair/typebox';
import type { CrossCheck } from '../schema.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A MIME type or a `type/*` family; `*\/*` allows every type. */
const MimePattern = Type.String({
  pattern: '^(\\*/\\*|[a-z0-9][a-z0-9!#$&^_.+-]*/(\\*|[a-z0-9][a-z0-9!#$&^_.+-]*))$',
  maxLength: 255,
});

export const DEFAULT_ALLOWED_TYPES = [
  'image/*',
  'video/*',
  'audio/*',
  'font/*',
  'text/plain',
  'text/css',
  'text/csv',
  'text/javascript',
  'application/javascript',
  'application/json',
  'application/pdf',
  'application/wasm',
  'application/xml',
  'application/zip',
  'application/octet-stream',
];

/**
 * Upload endpoints (PUT /uploads/<key>, POST /uploads, POST /upload-urls). Limits exist so that
 * one client cannot hold unbounded memory, sockets or storage: memory per upload is bounded by
 * the driver (fs: 1 MiB of write buffer; s3: partSizeBytes × (queueSize + 1)) and the server's
 * upload memory by `maxConcurrent` times that.
 */
export const UploadsSection = Type.Object(
  {
    maxBytes: Type.Integer({
      default: 5 * GiB,
      minimum: 1,
      maximum: 5 * 1024 * GiB,
      description:
        'Largest accepted upload (bytes), for API-key uploads and the ceiling of signed ones. Up to 5 TiB, the S3 object limit; with the s3 driver also ≤ partSizeBytes × 10,000 parts.',
    }),
    maxConcurrent: Type.Integer({
      default: 32,
      minimum: 1,
      maximum: 4096,
      description:
        'Uploads in progress at once; more get 503 EDGEWISE_UPLOADS_BUSY with Retry-After. Bounds the server’s upload memory.',
    }),
    maxConcurrentPerGrant: Type.Integer({
      default: 8,
      minimum: 1,
      maximum: 4096,
      description:
        'Uploads in progress at once with one signed upload URL (one grant: its key or prefix, types, size and expiry); more get 429 EDGEWISE_UPLOAD_GRANT_BUSY with Retry-After, so one URL cannot take every maxConcurrent slot. API-key uploads (the operator’s own backends) are bounded by maxConcurrent only.',
    }),
    slowBody: Type.Object(
      {
        idleTimeoutMs: Type.Integer({
          default: 30000,
          minimum: 100,
          maximum: 3600000,
          description:
            'An upload body that sends no byte for this long is cut with 408 EDGEWISE_UPLOAD_TOO_SLOW and its slot released; time the server itself is behind (storage backpressure) does not count.',
        }),
        minBytesPerSecond: Type.Integer({
          default: 1024,
          minimum: 0,
          maximum: 1024 * MiB,
          description:
            'Least average rate over each windowMs of an upload body (1 KiB/s is far below a 2G link); a trickle under it is cut with 408 EDGEWISE_UPLOAD_TOO_SLOW. 0 disables the rate check (the idle timeout stays).',
        }),
        windowMs: Type.Integer({
          default: 30000,
          minimum: 100,
          maximum: 3600000,
          description:
            'Window of the rate check; the first check comes one window after the body starts (the grace period), and a window in which the server was behind starts again.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    allowedTypes: Type.Array(MimePattern, {
      default: DEFAULT_ALLOWED_TYPES,
      maxItems: 100,
      uniqueItems: true,
      description:
        'Content types (or type/* families) accepted at all; a signed URL may narrow them further. text/html is left out on purpose: uploaded HTML served from our domain is stored XSS.',
    }),
    sniff: Type.Boolean({
      default: true,
      description:
        'Check the first bytes against the declared type (file-type); a type the bytes contradict is refused with 415.',
    }),
    apiKeys: Type.Array(Type.String({ minLength: 16, maxLength: 512 }), {
      default: [],
      maxItems: 64,
      uniqueItems: true,
      description:
        'Keys accepted as `Authorization: Bearer <key>` or `x-api-key` (set through the environment: EDGEWISE__UPLOADS__APIKEYS="[k1, k2]"). At least 16 characters so they cannot be guessed.',
    }),
    signing: Type.Object(
      {
        secrets: Type.Array(
          Type.Object(
            {
              id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'Key id, sent as `kid`.' }),
              secret: Type.String({
                minLength: 32,
                maxLength: 512,
                description: 'HMAC-SHA256 secret; 32+ characters (≥ 256 bits of a random string).',
              }),
            },
            { additionalProperties: false },
          ),
          {
            default: [],
            maxItems: 16,
            description:
              'Upload-URL secrets. The first signs new URLs; all verify, so a secret is rotated by adding a new one first and removing the old one after maxExpiresSeconds.',
          },
        ),
        defaultExpiresSeconds: Type.Integer({
          default: 900,
          minimum: 1,
          maximum: 604800,
          description: 'Lifetime of a signed upload URL when the request names none (15 min).',
        }),
        maxExpiresSeconds: Type.Integer({
          default: 3600,
          minimum: 1,
          maximum: 604800,
          description: 'Longest lifetime a caller may ask for; 7 days at most, as for S3 presigned URLs.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    multipart: Type.Object(
      {
        maxFiles: Type.Integer({
          default: 10,
          minimum: 1,
          maximum: 1000,
          description: 'File parts per POST /uploads request.',
        }),
        maxFields: Type.Integer({
          default: 20,
          minimum: 0,
          maximum: 1000,
          description: 'Non-file fields per request.',
        }),
        maxFieldBytes: Type.Integer({
          default: 64 * 1024,
          minimum: 1,
          maximum: MiB,
          description: 'Bytes per field value; fields are held in memory, files never are.',
        }),
        maxHeaderPairs: Type.Integer({
          default: 100,
          minimum: 1,
          maximum: 2000,
          description: 'Header lines per part (busboy headerPairs).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    precompress: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description:
            'Store Brotli (q11) and gzip (level 9) variants of compressible uploads in the background.',
        }),
        concurrency: Type.Integer({
          default: 1,
          minimum: 1,
          maximum: 16,
          description: 'Variants compressed at once; Brotli q11 takes a core for about 1 s per MB.',
        }),
        maxSourceBytes: Type.Integer({
          default: 32 * MiB,
          minimum: 1,
          maximum: GiB,
          description: 'Larger objects are not precompressed (q11 time grows with size).',
        }),
        maxQueued: Type.Integer({
          default: 1000,
          minimum: 1,
          maximum: 100000,
          description: 'Jobs waiting beyond this are dropped (logged); serving falls back to the source.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type UploadsConfig = Static<typeof UploadsSection>;

/** Cross-field rules for the uploads section (registered in src/config/checks.ts). */
export const uploadsRules: CrossCheck = (config, report) => {
  const u = config.uploads;
  if (u.signing.defaultExpiresSeconds > u.signing.maxExpiresSeconds) {
    report({
      path: 'uploads.signing.defaultExpiresSeconds',
      message: `must be ≤ uploads.signing.maxExpiresSeconds (${u.signing.maxExpiresSeconds})`,
      value: u.signing.defaultExpiresSeconds,
    });
  }
  const ids = new Set<string>();
  u.signing.secrets.forEach((s, i) => {
    if (ids.has(s.id))
      report({ path: `uploads.signing.secrets[${i}].id`, message: 'duplicate secret id', value: s.id });
    ids.add(s.id);
  });
  if (config.storage.driver === 's3') {
    // S3 multipart uploads have at most 10,000 parts.
    const ceiling = config.storage.s3.partSizeBytes * 10000;
    if (u.maxBytes > ceiling) {
      report({
        path: 'uploads.maxBytes',
        message: `must be ≤ storage.s3.partSizeBytes × 10000 (${ceiling}), the largest multipart upload`,
        value: u.maxBytes,
      });
    }
  }
};
