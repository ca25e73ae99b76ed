/**
 * Who may upload: a signed upload URL (src/uploads/signing.ts) or an API key from
 * `uploads.apiKeys`, sent as `Authorization: Bearer <key>` or `x-api-key: <key>`.
 * API keys are compared by their SHA-256 in constant time, so timing reveals nothing about a
 * key's prefix; both headers are redacted from logs (src/logger.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { UploadsConfig } from '../config/sections/uploads.js';
import { Unauthorized, UploadSignatureMissing } from '../errors.js';
import { hasSignature, type UploadGrant, type UploadMethod, verifyUploadParams } from './signing.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The API key the request presents, if any. */
export function presentedApiKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const x = request.headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}

export function apiKeyValid(config: Pick<UploadsConfig, 'apiKeys'>, key: string): boolean {
  const given = digest(key);
  let ok = false;
  // No early exit: every configured key is compared.
  for (const k of config.apiKeys) ok = timingSafeEqual(given, digest(k)) || ok;
  return ok;
}

/** 401 EDGEWISE_UNAUTHORIZED unless the request carries a configured API key. */
export function requireApiKey(config: Pick<UploadsConfig, 'apiKeys'>, request: FastifyRequest): void {
  const key = presentedApiKey(request);
  if (key === undefined || !apiKeyValid(config, key)) throw new Unauthorized();
}

/**
 * What identifies a grant for uploads.maxConcurrentPerGrant: everything the signature covers
 * except the key id, so the same grant signed again (another kid during a rotation) is one grant.
 */
export function grantId(g: UploadGrant): string {
  return [g.method, g.scope, g.target, g.types.join(','), g.maxBytes, g.expires].join('\n');
}

export function queryOf(request: FastifyRequest): URLSearchParams {
  const q = request.url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : request.url.slice(q + 1));
}

/**
 * The grant for an upload request. With signature parameters the signature decides (an API key
 * does not rescue a bad signature); else a valid API key grants config limits; else 403.
 * `key` is checked here when known (PUT); POST checks each file's key as it arrives.
 */
export function authorizeUpload(
  config: UploadsConfig,
  request: FastifyRequest,
  method: UploadMethod,
  key: string | undefined,
): AuthorizedGrant {
  const query = queryOf(request);
  if (hasSignature(query)) return signedGrant(config, query, method, key);
  const apiKey = presentedApiKey(request);
  if (apiKey === undefined) throw new UploadSignatureMissing();
  if (!apiKeyValid(config, apiKey)) throw new Unauthorized();
  return apiKeyGrant(config, method);
}

export type AuthorizedGrant = UploadGrant & { via: 'signature' | 'apiKey'; id: string | undefined };

/** A signed grant's parameters, verified: its limits, never above the config's. */
export function signedGrant(
  config: UploadsConfig,
  query: URLSearchParams,
  method: UploadMethod,
  key?: string,
): AuthorizedGrant {
  const grant = verifyUploadParams(config, query, key === undefined ? { method } : { method, key });
  return {
    ...grant,
    maxBytes: Math.min(grant.maxBytes, config.maxBytes),
    via: 'signature',
    id: grantId(grant),
  };
}

/** What a valid API key grants: any key, the config's limits. */
export function apiKeyGrant(config: UploadsConfig, method: UploadMethod): AuthorizedGrant {
  return {
    method,
    scope: 'prefix',
    target: '',
    types: [],
    maxBytes: config.maxBytes,
    expires: Number.POSITIVE_INFINITY,
    via: 'apiKey',
    // API keys are the operator's own backends: bounded by uploads.maxConcurrent only.
    id: undefined,
  };
}
