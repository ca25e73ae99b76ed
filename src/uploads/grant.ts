/**
 * Turns a request for an upload URL (from POST /upload-urls or `edgewise sign upload`) into a
 * grant within the configured limits, and the grant into URLs. Shared so that the HTTP API and
 * the CLI print the same thing.
 */
import type { UploadsConfig } from '../config/sections/uploads.js';
import { BadUploadRequest } from '../errors.js';
import { assertUserKey, keyProblem, RESERVED_PREFIX } from '../storage/keys.js';
import { essence, patternWithin } from './content-type.js';
import { resumableEndpoint } from './multipart-token.js';
import { signUploadParams, type UploadGrant, type UploadMethod } from './signing.js';

export interface UploadUrlRequest {
  key?: string | undefined;
  prefix?: string | undefined;
  method?: UploadMethod | undefined;
  contentTypes?: string[] | undefined;
  maxBytes?: number | undefined;
  expiresInSeconds?: number | undefined;
}

export function grantFor(
  config: UploadsConfig,
  req: UploadUrlRequest,
  nowSeconds = Math.floor(Date.now() / 1000),
): UploadGrant {
  if ((req.key === undefined) === (req.prefix === undefined))
    throw new BadUploadRequest('give exactly one of key and prefix');
  if (req.key !== undefined) assertUserKey(req.key);
  if (req.prefix !== undefined) {
    // A prefix is a key without its last characters: the same rules, minus "may not be empty".
    const problem = req.prefix === '' ? undefined : keyProblem(`${req.prefix}x`);
    if (problem) throw new BadUploadRequest(`prefix: ${problem}`);
    if (RESERVED_PREFIX.startsWith(req.prefix) && req.prefix !== '')
      throw new BadUploadRequest(`prefix overlaps the reserved ${RESERVED_PREFIX}`);
  }
  const types = req.contentTypes ?? [];
  for (const t of types) {
    const family = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/\*$/.test(t);
    if (t !== '*/*' && !family && essence(t) !== t)
      throw new BadUploadRequest(`content type "${t}" is not a lowercase type/subtype or type/*`);
    if (!patternWithin(t, config.allowedTypes))
      throw new BadUploadRequest(`content type ${t} is not in uploads.allowedTypes`);
  }
  const maxBytes = req.maxBytes ?? config.maxBytes;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > config.maxBytes)
    throw new BadUploadRequest(`maxBytes must be an integer in 1..${config.maxBytes}`);
  const ttl = req.expiresInSeconds ?? config.signing.defaultExpiresSeconds;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > config.signing.maxExpiresSeconds)
    throw new BadUploadRequest(
      `expiresInSeconds must be an integer in 1..${config.signing.maxExpiresSeconds}`,
    );
  const method = req.method ?? (req.key !== undefined ? 'PUT' : 'POST');
  if (method !== 'PUT' && method !== 'POST') throw new BadUploadRequest('method must be PUT or POST');
  if (method === 'PUT' && req.key === undefined && req.prefix === undefined)
    throw new BadUploadRequest('PUT needs a key or prefix');
  return {
    method,
    scope: req.key !== undefined ? 'key' : 'prefix',
    target: (req.key ?? req.prefix)!,
    types,
    maxBytes,
    expires: nowSeconds + ttl,
  };
}

/**
 * The signed URL for a grant on the origin at `base`. A PUT URL for a prefix ends at the prefix:
 * the client appends the rest of its key (URL-encoded per segment) before the query string.
 */
export function signedUploadUrl(config: UploadsConfig, grant: UploadGrant, base: string): string {
  const params = signUploadParams(config, grant);
  const root = base.replace(/\/+$/, '');
  if (grant.method === 'POST') return `${root}/uploads?${params}`;
  const path = grant.target.split('/').map(encodeURIComponent).join('/');
  return `${root}/uploads/${path}?${params}`;
}

/** The JSON answer of POST /upload-urls (and `edgewise sign upload --json`). */
export function uploadUrlResponse(
  config: UploadsConfig,
  grant: UploadGrant,
  base: string,
  presignedPost?: { url: string; fields: Record<string, string> },
): Record<string, unknown> {
  return {
    method: grant.method,
    url: signedUploadUrl(config, grant, base),
    // Uppy's @uppy/aws-s3 `companionEndpoint` for resumable uploads with the same grant.
    resumableEndpoint: resumableEndpoint(config, grant, base),
    [grant.scope]: grant.target,
    contentTypes: grant.types.length > 0 ? grant.types : config.allowedTypes,
    maxBytes: grant.maxBytes,
    expiresAt: new Date(grant.expires * 1000).toISOString(),
    ...(presignedPost ? { presignedPost } : {}),
  };
}
