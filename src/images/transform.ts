/**
 * The sharp pipeline: one source buffer and a normalised variant spec in, one encoded
 * variant out. Every sharp call of the image subsystem is here, so the route can inject a
 * different `TransformFn` (tests count transforms through it) and the benchmark can compare
 * against sharp called with exactly these options.
 *
 * Hostile input: the pixel count of every frame is checked from the header before decoding
 * (decompression bombs), sharp's own `limitInputPixels` backs it up per frame, `failOn:
 * 'error'` refuses truncated and corrupt data instead of rendering grey, a timeout stops
 * runaway work, and output sides are capped so no request can make a huge image.
 */
import sharp, { type FitEnum, type Metadata, type Sharp } from 'sharp';
import type { ImageOutputFormat, ImagesConfig } from '../config/sections/images.js';
import { ImageCorrupt, ImageTimeout, ImageTooManyPixels, ImageUnsupported, isCodedError } from '../errors.js';
import { type AutoToken, resolveAuto, type SourceTraits } from './negotiate.js';
import type { VariantSpec } from './variant-key.js';

export const CONTENT_TYPES = {
  avif: 'image/avif',
  webp: 'image/webp',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
} as const satisfies Record<ImageOutputFormat, string>;

/** The config values a transform uses (a snapshot taken when the transform starts). */
export type TransformLimits = Pick<
  ImagesConfig,
  'limitInputPixels' | 'maxOutputDimension' | 'transformTimeoutSeconds' | 'avif' | 'webp'
>;

export interface TransformInput {
  input: Buffer;
  spec: VariantSpec;
  limits: TransformLimits;
}

export interface TransformOutput {
  data: Buffer;
  format: ImageOutputFormat;
  contentType: string;
  width: number;
  height: number;
}

export type TransformFn = (job: TransformInput) => Promise<TransformOutput>;

const ANIMATED_OUTPUTS: ReadonlySet<ImageOutputFormat> = new Set(['webp', 'gif']);

/** Reads the header only (no pixel decoding) and refuses what must not be decoded. */
export async function probe(input: Buffer, limits: TransformLimits): Promise<Metadata> {
  const meta = await sharp(input, { failOn: 'error' }).metadata();
  if (!meta.width || !meta.height || !meta.format)
    throw new ImageUnsupported('no dimensions in the image header');
  // sharp reports the height of one frame for multi-frame input; every frame is decoded for an
  // animated output, so all of them count against the limit.
  const frameHeight = meta.pageHeight ?? meta.height;
  const pixels = meta.width * frameHeight * (meta.pages ?? 1);
  if (pixels > limits.limitInputPixels) throw new ImageTooManyPixels(pixels, limits.limitInputPixels);
  return meta;
}

function traitsOf(meta: Metadata): SourceTraits {
  return { format: meta.format ?? '', animated: (meta.pages ?? 1) > 1, alpha: meta.hasAlpha === true };
}

interface Box {
  width?: number;
  height?: number;
  fit: keyof FitEnum;
}

/**
 * The resize box. Never enlarges. For results that keep the source aspect ratio (one side
 * given, inside, outside, or none) the output size is computed first; when a side would pass
 * maxOutputDimension the image is fitted inside a maxOutputDimension square instead.
 */
export function resizeBox(srcW: number, srcH: number, spec: VariantSpec, maxDim: number): Box | undefined {
  const { w, h, fit } = spec;
  if (w !== undefined && h !== undefined && (fit === 'cover' || fit === 'contain' || fit === 'fill'))
    return { width: w, height: h, fit };
  let scale = 1;
  if (w !== undefined && h !== undefined)
    scale = fit === 'inside' ? Math.min(w / srcW, h / srcH) : Math.max(w / srcW, h / srcH);
  else if (w !== undefined) scale = w / srcW;
  else if (h !== undefined) scale = h / srcH;
  scale = Math.min(1, scale);
  if (Math.round(srcW * scale) > maxDim || Math.round(srcH * scale) > maxDim)
    return { width: maxDim, height: maxDim, fit: 'inside' };
  if (w === undefined && h === undefined) return undefined;
  return { ...(w === undefined ? {} : { width: w }), ...(h === undefined ? {} : { height: h }), fit };
}

function encode(img: Sharp, format: ImageOutputFormat, q: number, limits: TransformLimits): Sharp {
  switch (format) {
    case 'avif':
      // 4:2:0 like every JPEG and WebP: photos lose nothing visible, encoding is faster and smaller.
      return img.avif({
        quality: Math.max(1, Math.round(q * limits.avif.qualityScale)),
        effort: limits.avif.effort,
        chromaSubsampling: '4:2:0',
      });
    case 'webp':
      return img.webp({ quality: q, effort: limits.webp.effort });
    case 'jpeg':
      return img.jpeg({ quality: q, progressive: true });
    case 'png':
      // No `quality`: for PNG it turns on lossy palette quantisation.
      return img.png();
    case 'gif':
      return img.gif();
  }
}

export function outputFormat(fmt: ImageOutputFormat | AutoToken, traits: SourceTraits): ImageOutputFormat {
  return fmt.startsWith('auto') ? resolveAuto(fmt as AutoToken, traits) : (fmt as ImageOutputFormat);
}

/** The sharp pipeline for a probed source; exported so the benchmark calls sharp identically. */
export function pipelineFor(input: Buffer, meta: Metadata, spec: VariantSpec, limits: TransformLimits) {
  const traits = traitsOf(meta);
  const format = outputFormat(spec.fmt, traits);
  // Explicit still formats (AVIF, JPEG, PNG) of an animation take its first frame.
  const animated = traits.animated && ANIMATED_OUTPUTS.has(format);
  let img = sharp(input, {
    failOn: 'error',
    limitInputPixels: limits.limitInputPixels,
    animated,
    // EXIF orientation applied to the pixels; the tag goes with the rest of the metadata.
    autoOrient: true,
    sequentialRead: true,
  }).timeout({ seconds: limits.transformTimeoutSeconds });
  const oriented = meta.autoOrient ?? { width: meta.width ?? 1, height: meta.height ?? 1 };
  const box = resizeBox(oriented.width, oriented.height, spec, limits.maxOutputDimension);
  if (box) {
    const opaque = format === 'jpeg';
    img = img.resize({
      ...box,
      withoutEnlargement: true,
      background: { r: 255, g: 255, b: 255, alpha: opaque ? 1 : 0 },
    });
  }
  // JPEG has no alpha: flatten onto white rather than libvips' default black.
  if (format === 'jpeg' && traits.alpha) img = img.flatten({ background: '#ffffff' });
  // No withMetadata/keepExif: sharp strips EXIF (GPS, camera), XMP and IPTC and converts to
  // sRGB through the embedded ICC profile, which is then dropped too.
  img = encode(img.toColourspace('srgb'), format, spec.q, limits);
  return { img, format };
}

/** Maps a sharp/libvips failure to the coded 4xx it stands for (the input caused it). */
export function translateSharpError(err: unknown, limits: TransformLimits): Error {
  if (isCodedError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/timeout/i.test(message)) return new ImageTimeout(limits.transformTimeoutSeconds);
  if (/unsupported image format|is not a known image format|not in a known format/i.test(message))
    return new ImageUnsupported(message);
  if (/pixel limit/i.test(message)) return new ImageTooManyPixels('more', limits.limitInputPixels);
  return new ImageCorrupt(message.split('\n')[0] ?? message, { cause: err });
}

export const sharpTransform: TransformFn = async ({ input, spec, limits }) => {
  try {
    const meta = await probe(input, limits);
    const { img, format } = pipelineFor(input, meta, spec, limits);
    const { data, info } = await img.toBuffer({ resolveWithObject: true });
    const pages = (info as { pages?: number }).pages ?? 1;
    return {
      data,
      format,
      contentType: CONTENT_TYPES[format],
      width: info.width,
      height: pages > 1 ? Math.round(info.height / pages) : info.height,
    };
  } catch (err) {
    throw translateSharpError(err, limits);
  }
};
