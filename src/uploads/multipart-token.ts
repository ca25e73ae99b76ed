/**
 * Credentials of the resumable upload routes (src/routes/multipart-resumable.ts).
 *
 * Grant tokens. Uppy's @uppy/aws-s3 (v6, `companionEndpoint`) requests
 * `${companionEndpoint}/s3/...` with plain fetch: it can add neither a header nor a query string
 * of ours (it writes `?key=` itself). So a signed upload grant (src/uploads/signing.ts) travels
 * in the path, as one segment: base64url of the signed URL's query string,
 *   <base>/uploads/resumable/<token>/s3/multipart…
 * and is verified exactly as a signed upload URL is. A grant signed for PUT or for POST both
 * allow resumable uploads: either already allows putting bytes at its key or prefix.
 *
 * Part URLs (fs driver only; the s3 driver hands out S3's own presigned URLs). The origin signs
 * each part PUT it will accept: upload id, part number, key, the grant's size limit and an
 * expiry, HMAC-SHA256 with the first upload signing secret (rotation as for upload URLs):
 *   edgewise-part-v1 \n uploadId \n partNumber \n key \n max \n exp \n grant \n kid
 * (`grant` tags the signing grant, so part PUTs count toward uploads.maxConcurrentPerGrant).
 * Short-lived (PART_URL_SECONDS, and never past the grant), so a leaked part URL is worth one
 * part of one upload for minutes.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { UploadsConfig } from '../config/sections/uploads.js';
import { PartUrlInvalid, ResumableUnavailable, Unauthorized, UploadSignatureInvalid } from '../errors.js';
import {
  type AuthorizedGrant,
  apiKeyGrant,
  apiKeyValid,
  presentedApiKey,
  queryOf,
  signedGrant,
} from './auth.js';
import { hasSignature, signUploadParams, type UploadGrant } from './signing.js';

/** Where the resumable routes live: under /uploads, so they get the upload deadline and behaviors. */
export const RESUMABLE_PREFIX = '/uploads/resumable';
/** fs part URLs: under the reserved prefix, so no user key's PUT /uploads/<key> can collide. */
export const PART_PREFIX = '/uploads/.edgewise/parts';
/** Lifetime of a part URL (checked when the PUT starts, so a slow part is not cut). */
export const PART_URL_SECONDS = 15 * 60;

export type ResumableGrant = AuthorizedGrant;

/** The path segment that carries `grant` (see the header). */
export function grantToken(config: Pick<UploadsConfig, 'signing'>, grant: UploadGrant): string {
  return Buffer.from(signUploadParams(config, grant).toString(), 'utf8').toString('base64url');
}

/** Uppy's `companionEndpoint` for `grant` on the origin or edge at `base`. */
export function resumableEndpoint(
  config: Pick<UploadsConfig, 'signing'>,
  grant: UploadGrant,
  base: string,
): string {
  return `${base.replace(/\/+$/, '')}${RESUMABLE_PREFIX}/${grantToken(config, grant)}`;
}

/**
 * The grant of a resumable request: the token's when there is one (an API key does not rescue
 * a bad token), else a valid API key's (config limits, any key).
 */
export function authorizeResumable(
  config: UploadsConfig,
  request: FastifyRequest,
  token: string | undefined,
): ResumableGrant {
  if (token !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,4096}$/.test(token)) throw new UploadSignatureInvalid('malformed grant token');
    const query = new URLSearchParams(Buffer.from(token, 'base64url').toString('utf8'));
    if (!hasSignature(query)) throw new UploadSignatureInvalid('the grant token carries no signature');
    const method = query.get('method') === 'POST' ? 'POST' : 'PUT';
    return signedGrant(config, query, method);
  }
  const apiKey = presentedApiKey(request);
  if (apiKey === undefined || !apiKeyValid(config, apiKey)) throw new Unauthorized();
  return apiKeyGrant(config, 'PUT');
}

export interface PartClaim {
  uploadId: string;
  partNumber: number;
  key: string;
  maxBytes: number;
  /** Unix seconds. */
  expires: number;
  /** Which grant signed it (a digest of grantId), for uploads.maxConcurrentPerGrant; '' for API keys. */
  grant: string;
}

/** The `grant` of a PartClaim: short, and saying nothing of the grant itself. */
export function grantTag(grant: ResumableGrant): string {
  return grant.id === undefined ? '' : createHash('sha256').update(grant.id).digest('base64url').slice(0, 16);
}

function canonical(c: PartClaim, kid: string): string {
  return [
    'edgewise-part-v1',
    c.uploadId,
    String(c.partNumber),
    c.key,
    String(c.maxBytes),
    String(c.expires),
    kid,
  ].join('\n');
}

const mac = (secret: string, text: string) => createHmac('sha256', secret).update(text, 'utf8').digest();

/** The origin URL (path and query, under `base`) a client PUTs part `claim.partNumber` to. */
export function signedPartUrl(
  config: Pick<UploadsConfig, 'signing'>,
  claim: PartClaim,
  base: string,
): string {
  const signer = config.signing.secrets[0];
  if (!signer) throw new ResumableUnavailable('no uploads.signing.secrets to sign part URLs with');
  const q = new URLSearchParams({
    key: claim.key,
    max: String(claim.maxBytes),
    exp: String(claim.expires),
    g: claim.grant,
    kid: signer.id,
    sig: mac(signer.secret, canonical(claim, signer.id)).toString('base64url'),
  });
  const path = `${PART_PREFIX}/${encodeURIComponent(claim.uploadId)}/${claim.partNumber}`;
  return `${base.replace(/\/+$/, '')}${path}?${q}`;
}

/** Verifies a part PUT's query against its path; the claim it proves. */
export function verifyPartUrl(
  config: Pick<UploadsConfig, 'signing'>,
  request: FastifyRequest,
  uploadId: string,
  partNumber: number,
  nowSeconds = Math.floor(Date.now() / 1000),
): PartClaim {
  const q = queryOf(request);
  const one = (n: string) => {
    const all = q.getAll(n);
    if (all.length !== 1) throw new PartUrlInvalid(`parameter ${n} is missing or repeated`);
    return all[0]!;
  };
  const [key, max, exp, grant, kid, sig] = ['key', 'max', 'exp', 'g', 'kid', 'sig'].map(one) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!/^\d{1,16}$/.test(max) || !/^\d{1,12}$/.test(exp))
    throw new PartUrlInvalid('max and exp must be integers');
  const claim: PartClaim = { uploadId, partNumber, key, maxBytes: Number(max), expires: Number(exp), grant };
  const secret = config.signing.secrets.find((s) => s.id === kid);
  if (!secret) throw new PartUrlInvalid(`unknown key id ${kid}`);
  const given = Buffer.from(sig, 'base64url');
  const want = mac(secret.secret, canonical(claim, kid));
  if (given.length !== want.length || !timingSafeEqual(given, want))
    throw new PartUrlInvalid('signature does not match the URL');
  if (nowSeconds >= claim.expires)
    throw new PartUrlInvalid(`expired at ${new Date(claim.expires * 1000).toISOString()}`);
  return claim;
}
