/**
 * URLs for pages: `srcset` strings that use exactly the configured widths, with parameters in
 * one canonical order, so every page asks for variants the edge already caches under one key.
 */
import type { ImagesConfig } from '../config/sections/images.js';
import { assertUserKey } from '../storage/keys.js';
import { parseImageParams } from './params.js';

export interface ImageUrlParams {
  w?: number | undefined;
  h?: number | undefined;
  fit?: string | undefined;
  q?: number | undefined;
  fmt?: string | undefined;
}

/** Key segments percent-encoded, `/` kept (the route decodes the path the same way). */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** `<base>/img/<key>?w=…&h=…&fit=…&q=…&fmt=…`, parameters in the URL API's order, absent ones left out. */
export function imageUrl(key: string, params: ImageUrlParams, base = ''): string {
  const query = (['w', 'h', 'fit', 'q', 'fmt'] as const)
    .filter((name) => params[name] !== undefined)
    .map((name) => `${name}=${encodeURIComponent(String(params[name]))}`)
    .join('&');
  return `${base.replace(/\/+$/, '')}/img/${encodeKeyPath(key)}${query ? `?${query}` : ''}`;
}

export interface SrcsetOptions extends Omit<ImageUrlParams, 'w'> {
  /** Prefix of every URL (the public edge URL); empty for root-relative URLs. */
  base?: string | undefined;
  /** Leave out widths above this (the source's own width: larger ones would not be larger). */
  maxWidth?: number | undefined;
}

/**
 * `/img/k?w=16 16w, /img/k?w=32 32w, …` over the configured widths. Throws the same coded
 * errors as the route for a bad key or parameters, so a page cannot embed a URL that fails.
 */
export function srcset(key: string, cfg: Readonly<ImagesConfig>, opts: SrcsetOptions = {}): string {
  assertUserKey(key);
  const { base, maxWidth, ...rest } = opts;
  // Validate the fixed parameters exactly as the route will (with a width it accepts).
  const probe = imageUrl(key, { ...rest, w: cfg.widths[0] });
  parseImageParams(probe.slice(probe.indexOf('?') + 1), cfg);
  const sorted = [...cfg.widths].sort((a, b) => a - b);
  const fitting = maxWidth === undefined ? sorted : sorted.filter((w) => w <= maxWidth);
  const widths = fitting.length > 0 ? fitting : sorted.slice(0, 1);
  return widths.map((w) => `${imageUrl(key, { ...rest, w }, base)} ${w}w`).join(', ');
}
