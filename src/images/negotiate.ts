/**
 * `fmt=auto`: which modern formats the client takes, from its Accept header (RFC 9110 §12.5.1).
 * Only an explicit `image/avif` or `image/webp` with q > 0 counts: `*\/*` and `image/*` are sent
 * by clients that cannot decode either, so a wildcard would serve them images they cannot show,
 * and `image/avif;q=0, *\/*` is a refusal of AVIF.
 *
 * The answer is a token that goes into the variant key (`auto`, `auto-w`, `auto-a`, `auto-aw`);
 * the concrete format is picked at transform time, when the source's animation and alpha are
 * known, and is the same for every request with that token. The viewer-request function
 * computes the same token at the edge (its `acceptsExplicitly` is this file's, inlined by
 * `edgewise cloudfront build`) and sends it as `fmt=auto-…`, which the origin takes as given.
 */
import type { ImageOutputFormat } from '../config/sections/images.js';

export type AutoToken = 'auto' | 'auto-w' | 'auto-a' | 'auto-aw';
export const AUTO_TOKENS: readonly AutoToken[] = ['auto', 'auto-w', 'auto-a', 'auto-aw'];

/**
 * Whether `accept` lists `type` itself (case-insensitively, RFC 9110 §8.3.1) with q > 0. A range
 * with parameters other than q names a narrower type than ours and does not count; a malformed
 * weight counts as a refusal; a type listed twice takes its best weight. Written in the subset
 * of JavaScript CloudFront Functions run: it is inlined into the viewer-request function.
 */
export function acceptsExplicitly(accept: string, type: string): boolean {
  const want = type.toLowerCase();
  let best = 0;
  const ranges = accept.split(',');
  for (let i = 0; i < ranges.length; i++) {
    const parts = (ranges[i] as string).split(';');
    if ((parts[0] as string).trim().toLowerCase() !== want) continue;
    let q = 1;
    let narrower = false;
    for (let j = 1; j < parts.length; j++) {
      const p = (parts[j] as string).trim();
      if (p === '') continue;
      if (p.charAt(0) !== 'q' && p.charAt(0) !== 'Q') narrower = true;
      // RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
      else
        q = /^[qQ]\s*=\s*(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/.test(p)
          ? Number(p.slice(p.indexOf('=') + 1))
          : 0;
    }
    if (!narrower && q > best) best = q;
  }
  return best > 0;
}

export function autoToken(accept: string | undefined, allowed: readonly ImageOutputFormat[]): AutoToken {
  if (!accept) return 'auto';
  const a = allowed.includes('avif') && acceptsExplicitly(accept, 'image/avif');
  const w = allowed.includes('webp') && acceptsExplicitly(accept, 'image/webp');
  return a && w ? 'auto-aw' : a ? 'auto-a' : w ? 'auto-w' : 'auto';
}

/** A token the edge already negotiated, limited to the formats this origin allows. */
export function allowedToken(token: AutoToken, allowed: readonly ImageOutputFormat[]): AutoToken {
  const a = (token === 'auto-a' || token === 'auto-aw') && allowed.includes('avif');
  const w = (token === 'auto-w' || token === 'auto-aw') && allowed.includes('webp');
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
