import { type Static, Type } from '@sinclair/typebox';
import type { CrossCheck } from '../schema.js';

/**
 * Image variants (`/img/<key>?w=&h=&fit=&q=&fmt=`). Widths and qualities are closed lists so
 * that the number of variants per image stays small (a high edge hit ratio) and nobody can
 * make the origin render arbitrary sizes; the CloudFront viewer-request function clamps to
 * the same lists, so these two arrays are the one source of truth.
 */

/** Next.js's `imageSizes` + `deviceSizes`: icons and thumbnails, then common device widths. */
export const DEFAULT_IMAGE_WIDTHS = [
  16, 32, 48, 64, 96, 128, 256, 384, 640, 750, 828, 1080, 1200, 1920, 2048, 3840,
];
export const DEFAULT_IMAGE_QUALITIES = [50, 75, 90];
export const IMAGE_OUTPUT_FORMATS = ['avif', 'webp', 'jpeg', 'png', 'gif'] as const;
export type ImageOutputFormat = (typeof IMAGE_OUTPUT_FORMATS)[number];
/** Loaders libvips has but that parse complex, attacker-controlled documents (XML, TIFF IFDs). */
export const RISKY_LOADERS = ['svg', 'tiff'] as const;
export type RiskyLoader = (typeof RISKY_LOADERS)[number];

const MiB = 1024 * 1024;

export const ImagesSection = Type.Object(
  {
    widths: Type.Array(Type.Integer({ minimum: 1, maximum: 16383 }), {
      default: DEFAULT_IMAGE_WIDTHS,
      minItems: 1,
      maxItems: 32,
      uniqueItems: true,
      description:
        'Allowed values of w (and of h). Each must be ≤ maxOutputDimension. Few entries keep the variant count, and so the edge miss rate, low.',
    }),
    qualities: Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), {
      default: DEFAULT_IMAGE_QUALITIES,
      minItems: 1,
      maxItems: 10,
      uniqueItems: true,
      description: 'Allowed values of q (encoder quality, 1–100).',
    }),
    defaultQuality: Type.Integer({
      default: 75,
      minimum: 1,
      maximum: 100,
      description: 'Quality used when q is omitted; must be one of `qualities`.',
    }),
    formats: Type.Array(Type.Union(IMAGE_OUTPUT_FORMATS.map((f) => Type.Literal(f))), {
      default: [...IMAGE_OUTPUT_FORMATS],
      minItems: 1,
      uniqueItems: true,
      description:
        'Output formats a client may ask for with fmt=, and that fmt=auto may pick (AVIF, then WebP, then the source format).',
    }),
    maxInputBytes: Type.Integer({
      default: 50 * MiB,
      minimum: 1024,
      maximum: 256 * MiB,
      description:
        'Largest source file that is transformed (checked before it is read); the source is held in memory while it is decoded, so this bounds memory per transform.',
    }),
    limitInputPixels: Type.Integer({
      default: 50_000_000,
      minimum: 1,
      maximum: 268_402_689,
      description:
        'Largest source in pixels, all animation frames counted, checked from the header before decoding (decompression bombs). Upper limit is libvips’ 0x3FFF².',
    }),
    maxOutputDimension: Type.Integer({
      default: 4096,
      minimum: 16,
      maximum: 16383,
      description:
        'No output side is longer than this; results that would be are scaled down to fit. 16383 is the WebP format limit.',
    }),
    transformTimeoutSeconds: Type.Integer({
      default: 20,
      minimum: 1,
      maximum: 120,
      description:
        'A transform running longer than this is abandoned (sharp timeout, whole seconds). Time waiting in the queue does not count.',
    }),
    concurrency: Type.Integer({
      default: 2,
      minimum: 1,
      maximum: 64,
      description: 'Transforms run at once; each holds a decoded image in memory, so this bounds RSS.',
    }),
    queueSize: Type.Integer({
      default: 32,
      minimum: 0,
      maximum: 10000,
      description:
        'Transforms that may wait for a free slot; beyond that a request gets 503 with Retry-After. Requests for a variant already being made join it and take no slot.',
    }),
    retryAfterSeconds: Type.Integer({
      default: 2,
      minimum: 1,
      maximum: 3600,
      description: 'Retry-After sent with the 503 of a full queue.',
    }),
    sourceCacheMs: Type.Integer({
      default: 1000,
      minimum: 0,
      maximum: 60000,
      description:
        'How long a source’s ETag is remembered, so a warm variant request reads storage once instead of twice. A replaced source may get its old variants for up to this long (the edge caches them far longer anyway); 0 always checks the source.',
    }),
    allowRiskyLoaders: Type.Array(Type.Union(RISKY_LOADERS.map((l) => Type.Literal(l))), {
      default: [],
      uniqueItems: true,
      description:
        'Source formats beyond JPEG, PNG, WebP, GIF and AVIF to accept: svg (librsvg parses untrusted XML), tiff. Off by default. PDF and camera-raw loaders are not in sharp’s prebuilt libvips and are always refused.',
    }),
    avif: Type.Object(
      {
        qualityScale: Type.Number({
          default: 0.7,
          minimum: 0.3,
          maximum: 1,
          description:
            'AVIF is encoded at round(q × qualityScale): its quality scale is stricter than JPEG’s and WebP’s (sharp’s own defaults are AVIF 50 vs 80), so the same q looks alike in every format and AVIF is not larger than WebP.',
        }),
        effort: Type.Integer({
          default: 1,
          minimum: 0,
          maximum: 9,
          description:
            'AVIF encoder CPU effort, 0 (fastest) to 9 (smallest). 1: in `npm run bench images` effort 2 was no smaller and 2.5× slower, 3 was 6% smaller at 5× the time, 4 a third smaller at 20× (too slow to make variants on request).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    webp: Type.Object(
      {
        effort: Type.Integer({
          default: 2,
          minimum: 0,
          maximum: 6,
          description:
            'WebP encoder CPU effort, 0 (fastest) to 6 (smallest). 2: in `npm run bench images` effort 4 (libwebp’s default) was 4% smaller at 3–4× the time.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type ImagesConfig = Static<typeof ImagesSection>;

/** Cross-field rules of the images section (registered in ../checks.ts). */
export const imagesRules: CrossCheck = (config, report) => {
  const img = config.images;
  img.widths.forEach((w, i) => {
    if (w > img.maxOutputDimension)
      report({
        path: `images.widths[${i}]`,
        message: `must be ≤ images.maxOutputDimension (${img.maxOutputDimension})`,
        value: w,
      });
  });
  if (!img.qualities.includes(img.defaultQuality))
    report({
      path: 'images.defaultQuality',
      message: `must be one of images.qualities (${img.qualities.join(', ')})`,
      value: img.defaultQuality,
    });
};
