/**
 * Signed upload URLs for our own endpoints (HMAC-SHA256, secrets rotated by id).
 *
 * A signed URL is the upload endpoint plus these query parameters:
 *   method  PUT (raw body to /uploads/<key>) or POST (multipart to /uploads)
 *   key     the exact key the URL allows, or
 *   prefix  a key prefix: any key starting with it is allowed
 *   types   comma-separated allowed content types / type/* families (empty: the server's list)
 *   max     largest body in bytes
 *   exp     expiry, Unix seconds
 *   kid     id of the secret that signed
 *   sig     base64url HMAC-SHA256 over the canonical string below
 *
 * Canonical string (one field per line, in this order, UTF-8):
 *   edgewise-upload-v1 \n method \n key|prefix \n <key or prefix> \n types \n max \n exp \n kid
 * Every parameter that limits the upload is inside the MAC, so changing any of them (a larger
 * max, a later exp, another key) makes the signature fail. `sig` is compared in constant time.
 * `sig` is also one of the query parameters the logger redacts (src/logger.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { UploadsConfig } from '../config/sections/uploads.js';
import {
  BadUploadRequest,
  UploadSignatureExpired,
  UploadSignatureInvalid,
  UploadSignatureWrongKey,
  UploadSignatureWrongMethod,
} from '../errors.js';

export type UploadMethod = 'PUT' | 'POST';

/** What a signed URL (or an API key, within config limits) allows. */
export interface UploadGrant {
  method: UploadMethod;
  scope: 'key' | 'prefix';
  /** The exact key, or the prefix ('' allows any key). */
  target: string;
  /** Allowed content-type patterns; empty means the server's uploads.allowedTypes. */
  types: string[];
  maxBytes: number;
  /** Unix seconds. */
  expires: number;
}

export const SIGNATURE_PARAMS = ['method', 'key', 'prefix', 'types', 'max', 'exp', 'kid', 'sig'] as const;

function canonical(g: UploadGrant, kid: string): string {
  return [
    'edgewise-upload-v1',
    g.method,
    g.scope,
    g.target,
    g.types.join(','),
    String(g.maxBytes),
    String(g.expires),
    kid,
  ].join('\n');
}

function mac(secret: string, text: string): Buffer {
  return createHmac('sha256', secret).update(text, 'utf8').digest();
}

/** Query parameters that make an upload URL carry `grant`, signed with the first secret. */
export function signUploadParams(
  config: Pick<UploadsConfig, 'signing'>,
  grant: UploadGrant,
): URLSearchParams {
  const signer = config.signing.secrets[0];
  if (!signer) throw new BadUploadRequest('no upload signing secret is configured (uploads.signing.secrets)');
  const params = new URLSearchParams();
  params.set('method', grant.method);
  params.set(grant.scope, grant.target);
  if (grant.types.length > 0) params.set('types', grant.types.join(','));
  params.set('max', String(grant.maxBytes));
  params.set('exp', String(grant.expires));
  params.set('kid', signer.id);
  params.set('sig', mac(signer.secret, canonical(grant, signer.id)).toString('base64url'));
  return params;
}

/** True when the query carries any upload-signature parameter (so it is judged as a signed URL). */
export function hasSignature(query: URLSearchParams): boolean {
  return query.has('sig') || query.has('kid');
}

/**
 * Verifies the signature, then expiry, method and key, in that order: a tampered URL is
 * reported as tampered even when it has also expired.
 */
export function verifyUploadParams(
  config: Pick<UploadsConfig, 'signing'>,
  query: URLSearchParams,
  request: { method: UploadMethod; key?: string | undefined; nowSeconds?: number },
): UploadGrant {
  const one = (name: string): string | undefined => {
    const all = query.getAll(name);
    if (all.length > 1) throw new UploadSignatureInvalid(`parameter ${name} is repeated`);
    return all[0];
  };
  const sig = one('sig');
  const kid = one('kid');
  const method = one('method');
  const key = one('key');
  const prefix = one('prefix');
  const types = one('types') ?? '';
  const max = one('max');
  const exp = one('exp');
  if (!sig || !kid || !method || !max || !exp)
    throw new UploadSignatureInvalid('incomplete signature parameters');
  if ((key === undefined) === (prefix === undefined))
    throw new UploadSignatureInvalid('exactly one of key and prefix is required');
  if (method !== 'PUT' && method !== 'POST') throw new UploadSignatureInvalid('method must be PUT or POST');
  if (!/^\d{1,16}$/.test(max) || !/^\d{1,12}$/.test(exp))
    throw new UploadSignatureInvalid('max and exp must be integers');
  const grant: UploadGrant = {
    method,
    scope: key !== undefined ? 'key' : 'prefix',
    target: (key ?? prefix)!,
    types: types === '' ? [] : types.split(','),
    maxBytes: Number(max),
    expires: Number(exp),
  };
  const secret = config.signing.secrets.find((s) => s.id === kid);
  if (!secret) throw new UploadSignatureInvalid(`unknown key id ${kid}`);
  const given = Buffer.from(sig, 'base64url');
  const want = mac(secret.secret, canonical(grant, kid));
  if (given.length !== want.length || !timingSafeEqual(given, want))
    throw new UploadSignatureInvalid('signature does not match the parameters');
  const now = request.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (now >= grant.expires) throw new UploadSignatureExpired(new Date(grant.expires * 1000).toISOString());
  if (request.method !== grant.method) throw new UploadSignatureWrongMethod(grant.method, request.method);
  if (request.key !== undefined && !grantCoversKey(grant, request.key))
    throw new UploadSignatureWrongKey(request.key);
  return grant;
}

export function grantCoversKey(grant: UploadGrant, key: string): boolean {
  return grant.scope === 'key' ? key === grant.target : key.startsWith(grant.target);
}
