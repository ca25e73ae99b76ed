/**
 * `fmt=auto`: which modern formats the client takes, from its Accept header (RFC 9110 §12.5.1,
 * q-values parsed by @fastify/accept-negotiator). Only an explicit `image/avif` or
 * `image/webp` with q > 0 counts: `*\/*` and `image/*` are sent by clients that cannot decode
 * either, so a wildcard would serve them images they cannot show.
 *
 * The answer is a token that goes into the variant key (`auto`, `auto-w`, `auto-a`, `auto-aw`);
 * the concrete format is picked at transform time, when the source's animation and alpha are
 * known, and is the same for every request with that token.
 */
import { negotiate } from '@fastify/accept-negotiator';
import type { ImageOutputFormat } from '../config/sections/images.js';

export type AutoToken = 'auto' | 'auto-w' | 'auto-a' | 'auto-aw';

function accepts(accept: string, type: string): boolean {
  return negotiate(accept, [type]) === type;
}

export function autoToken(accept: string | undefined, allowed: readonly ImageOutputFormat[]): AutoToken {
  if (!accept) return 'auto';
  const a = allowed.includes('avif') && accepts(accept, 'image/avif');
  const w = allowed.includes('webp') && accepts(accept, 'image/webp');
  return a && w ? 'auto-aw' : a ? 'auto-a' : w ? 'auto-w' : 'auto';
}

export interface SourceTraits {
  /** Source format as sharp names it (jpeg, png, gif, webp, heif, svg, tiff). */
  format: string;
  animated: boolean;
  alpha: boolean;
}

/**
 * The concrete output format: AVIF, then WebP, then the source format. AVIF is never chosen
 * for an animation (sharp encodes only its first frame); a source format browsers cannot be
 * assumed to show (WebP or AVIF not accepted, SVG, TIFF) falls back to GIF for animations,
 * PNG when there is alpha, JPEG otherwise.
 */
export function resolveAuto(token: AutoToken, src: SourceTraits): ImageOutputFormat {
  const avif = token === 'auto-a' || token === 'auto-aw';
  const webp = token === 'auto-w' || token === 'auto-aw';
  if (avif && !src.animated) return 'avif';
  if (webp) return 'webp';
  if (src.format === 'jpeg' || src.format === 'png' || src.format === 'gif') return src.format;
  if (src.animated) return 'gif';
  return src.alpha ? 'png' : 'jpeg';
}
