/**
 * The image URL API's query: `w`, `h`, `fit`, `q`, `fmt`, each at most once, nothing else.
 * Parsing validates against the configured lists before any I/O and normalises, so that every
 * request asking for the same pixels maps to one variant (and one edge cache entry).
 */
import type { ImageOutputFormat, ImagesConfig } from '../config/sections/images.js';
import { ImageBadParam } from '../errors.js';
import { AUTO_TOKENS, type AutoToken } from './negotiate.js';

export const IMAGE_PARAMS = ['w', 'h', 'fit', 'q', 'fmt'] as const;
export const FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
export type Fit = (typeof FITS)[number];
export const DEFAULT_FIT: Fit = 'cover';

export interface ImageParams {
  w: number | undefined;
  h: number | undefined;
  fit: Fit;
  q: number;
  /**
   * An explicit output format, `auto` (negotiated from Accept; also what an absent fmt means),
   * or a token the viewer-request function negotiated already (`auto-a`, `auto-w`, `auto-aw`).
   */
  fmt: ImageOutputFormat | AutoToken;
}

/** Query string of a request URL (`?…` part, without the `?`), or '' when there is none. */
export function rawQuery(url: string): string {
  const i = url.indexOf('?');
  return i === -1 ? '' : url.slice(i + 1);
}

const DIGITS = /^[1-9][0-9]{0,5}$/;

function oneOf<T extends string | number>(name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value))
    throw new ImageBadParam(`${name}=${value} is not allowed; allowed: ${allowed.join(', ')}`);
  return value;
}

function integer(name: string, raw: string, allowed: readonly number[]): number {
  // Only canonical decimal integers: `w=0640`, `w=640.0` or `w=+640` would be distinct cache
  // keys for the same variant.
  if (!DIGITS.test(raw))
    throw new ImageBadParam(`${name}=${raw} is not allowed; allowed: ${allowed.join(', ')}`);
  return oneOf(name, Number(raw), allowed);
}

export function parseImageParams(query: string, cfg: Readonly<ImagesConfig>): ImageParams {
  const seen = new Map<string, string>();
  if (query.length > 0) {
    for (const [name, value] of new URLSearchParams(query)) {
      if (!(IMAGE_PARAMS as readonly string[]).includes(name))
        throw new ImageBadParam(`unknown parameter "${name}"; allowed: ${IMAGE_PARAMS.join(', ')}`);
      if (seen.has(name)) throw new ImageBadParam(`parameter "${name}" given more than once`);
      seen.set(name, value);
    }
  }
  const rawW = seen.get('w');
  const rawH = seen.get('h');
  const rawFit = seen.get('fit');
  const rawQ = seen.get('q');
  const rawFmt = seen.get('fmt');
  const w = rawW === undefined ? undefined : integer('w', rawW, cfg.widths);
  // h shares the widths list: one list of sizes keeps the variant space small.
  const h = rawH === undefined ? undefined : integer('h', rawH, cfg.widths);
  const fit = rawFit === undefined ? DEFAULT_FIT : oneOf('fit', rawFit as Fit, FITS);
  const q = rawQ === undefined ? cfg.defaultQuality : integer('q', rawQ, cfg.qualities);
  const fmt =
    rawFmt === undefined
      ? 'auto'
      : // The auto-… tokens come from the viewer-request function; people write fmt=auto.
        (AUTO_TOKENS as readonly string[]).includes(rawFmt)
        ? (rawFmt as AutoToken)
        : oneOf('fmt', rawFmt as ImageParams['fmt'], ['auto', ...cfg.formats]);
  return {
    w,
    h,
    // With fewer than two dimensions every fit gives the same pixels (aspect ratio kept).
    fit: w !== undefined && h !== undefined ? fit : DEFAULT_FIT,
    q,
    fmt,
  };
}
