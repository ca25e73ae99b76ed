/**
 * The URL a client should use to fetch an uploaded key: `base` (src/uploads/public-base.ts) plus `/<key>` encoded per segment. Keys in a signed content class get a
 * CloudFront signed URL; with no signing key configured the URL is returned unsigned and
 * flagged `signed: false`, since the upload itself succeeded and must not turn into an error.
 */

import { classify } from '../classes.js';
import { signViewerUrl } from '../cloudfront/signer.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { isCodedError, SigningNotConfigured } from '../errors.js';

export function keyPath(key: string): string {
  return `/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export function edgeUrl(
  config: Readonly<EdgewiseConfig>,
  key: string,
  base: string,
): { url: string; signed?: boolean } {
  const path = keyPath(key);
  const url = base.replace(/\/+$/, '') + path;
  if (!classify(config, path).signed) return { url };
  try {
    return { url: signViewerUrl(config, url), signed: true };
  } catch (err) {
    if (isCodedError(err) && err.code === SigningNotConfigured.code) return { url, signed: false };
    throw err;
  }
}
