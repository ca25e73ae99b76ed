import { type Static, Type } from '@sinclair/typebox';

export const StorageSection = Type.Object(
  {
    driver: Type.Union([Type.Literal('fs'), Type.Literal('s3')], {
      default: 'fs',
      description: 'fs: local directory (embedded default); s3: any S3-compatible store.',
    }),
    fs: Type.Object(
      {
        dataDir: Type.String({ default: './data', minLength: 1, description: 'Root of stored objects.' }),
        hotCache: Type.Object(
          {
            maxBytes: Type.Integer({
              default: 64 * 1024 * 1024,
              minimum: 0,
              maximum: 16 * 1024 * 1024 * 1024,
              description:
                'Memory for small objects (bytes and metadata) and absent keys, served without touching the disk; 0 = off. Origin writes invalidate at once (docs/serving.md#hot-cache).',
            }),
            objectMaxBytes: Type.Integer({
              default: 64 * 1024,
              minimum: 0,
              maximum: 1024 * 1024,
              description: 'Objects with larger bodies are always read from disk.',
            }),
            validMs: Type.Integer({
              default: 1000,
              minimum: 0,
              maximum: 3_600_000,
              description:
                'An entry is re-checked with one stat after this long: edits to the data dir by other processes are served at most this late.',
            }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    s3: Type.Object(
      {
        bucket: Type.Optional(
          Type.String({
            minLength: 3,
            maxLength: 63,
            description: 'Bucket name (S3 naming limits 3–63); required for the s3 driver.',
          }),
        ),
        region: Type.String({
          default: 'us-east-1',
          minLength: 1,
          description: 'Bucket region (SigV4 signing region).',
        }),
        endpoint: Type.Optional(Type.String({ format: 'uri', description: 'For S3-compatible stores.' })),
        forcePathStyle: Type.Boolean({
          default: false,
          description: 'Path-style addressing (most S3-compatible stores).',
        }),
        prefix: Type.String({ default: '', maxLength: 512, description: 'Key prefix inside the bucket.' }),
        checksumMode: Type.Union([Type.Literal('WHEN_SUPPORTED'), Type.Literal('WHEN_REQUIRED')], {
          default: 'WHEN_SUPPORTED',
          description:
            'requestChecksumCalculation / responseChecksumValidation; WHEN_REQUIRED for S3-compatible stores.',
        }),
        maxSockets: Type.Integer({
          default: 64,
          minimum: 1,
          maximum: 1024,
          description: 'Keep-alive socket pool.',
        }),
        partSizeBytes: Type.Integer({
          default: 8 * 1024 * 1024,
          minimum: 5 * 1024 * 1024,
          maximum: 512 * 1024 * 1024,
          description: 'Multipart part size (S3 minimum 5 MiB).',
        }),
        queueSize: Type.Integer({
          default: 4,
          minimum: 1,
          maximum: 32,
          description: 'Parts uploaded in parallel.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type StorageConfig = Static<typeof StorageSection>;
