/**
 * Where a variant is stored. Deterministic from the source key, the source's ETag and the
 * normalised parameters, so the same request always finds the same object, and a new upload
 * of the source (new ETag) makes every old variant unreachable without deleting anything.
 *
 * Layout: `.edgewise/img/<ab>/<sha256(key)>/<etag digest>/<params>` — hashed because a source
 * key may be 1024 bytes (the storage key limit) and filesystem segments stop at 255; the
 * per-source folder lets an operator list or delete one image's variants by prefix.
 */
import { hash } from 'node:crypto';
import type { ImageOutputFormat } from '../config/sections/images.js';
import { RESERVED_PREFIX } from '../storage/keys.js';
import type { AutoToken } from './negotiate.js';
import type { Fit } from './params.js';

export const IMAGE_VARIANT_PREFIX = `${RESERVED_PREFIX}img/`;

export interface VariantSpec {
  w: number | undefined;
  h: number | undefined;
  fit: Fit;
  q: number;
  /** An explicit format, or the negotiated auto token. */
  fmt: ImageOutputFormat | AutoToken;
}

/** `w640_h0_cover_q75_auto-aw`: the canonical text of a normalised parameter set. */
export function variantParams(spec: VariantSpec): string {
  return `w${spec.w ?? 0}_h${spec.h ?? 0}_${spec.fit}_q${spec.q}_${spec.fmt}`;
}

/** Folder holding every variant of `sourceKey`, whatever its ETag. */
export function imageVariantPrefix(sourceKey: string): string {
  // crypto.hash: one-shot, several times cheaper than createHash for short inputs (hot path).
  const digest = hash('sha256', sourceKey, 'hex');
  return `${IMAGE_VARIANT_PREFIX}${digest.slice(0, 2)}/${digest}/`;
}

export function imageVariantKey(sourceKey: string, sourceEtag: string, spec: VariantSpec): string {
  const etag = hash('sha256', sourceEtag, 'base64url').slice(0, 22);
  return `${imageVariantPrefix(sourceKey)}${etag}/${variantParams(spec)}`;
}
