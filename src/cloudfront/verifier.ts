/**
 * Checks a signed URL or signed cookies the way CloudFront does, with the configured public
 * keys. The signature is checked before anything the policy says is believed (expiry, IP):
 * an unsigned claim is no claim. Signing parameters must come last in the query string
 * (CloudFront's rule); anything after them was added after signing.
 *
 * Canned policy: CloudFront rebuilds the policy from the requested URL (without the signing
 * parameters) and Expires, and verifies the signature over it — so any change to the URL,
 * its query or the expiry breaks the signature. Custom policy: the signature covers the policy
 * bytes; the policy's Resource (with * and ? wildcards) must then match the requested URL.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-signed-urls.html
 */
import { createVerify } from 'node:crypto';
import { isIP, BlockList as NetBlockList } from 'node:net';
import type { EdgewiseConfig } from '../config/schema.js';
import {
  SignatureExpired,
  SignatureExtraParam,
  SignatureInvalid,
  SignatureIpMismatch,
  SignatureMalformed,
  SignatureMissing,
  SignatureNotYetValid,
  SignatureResourceMismatch,
  SignatureUnknownKey,
} from '../errors.js';
import { resolveKeys } from './keys.js';
import { viewerBaseUrl } from './signer.js';

export type VerifyResult = { ok: true } | { ok: false; code: VerifyCode; reason: string };

/** What a rejection is, from the catalogue: always a 403, as CloudFront answers. */
type Rejection =
  | typeof SignatureMissing
  | typeof SignatureMalformed
  | typeof SignatureInvalid
  | typeof SignatureUnknownKey
  | typeof SignatureExpired
  | typeof SignatureNotYetValid
  | typeof SignatureIpMismatch
  | typeof SignatureResourceMismatch
  | typeof SignatureExtraParam;

export type VerifyCode = Rejection['code'];

export interface SignedRequest {
  /** The URL as the viewer asked for it, raw (not decoded); a path is prefixed with distribution.baseUrl. */
  url: string;
  clientIp: string;
  /** Cookie header, or parsed cookies (name → value). */
  cookies?: string | Readonly<Record<string, string | undefined>> | undefined;
}

const SIGNING_PARAMS = new Set(['Expires', 'Policy', 'Signature', 'Key-Pair-Id', 'Hash-Algorithm']);

interface Grant {
  resourceUrl: string;
  expires: string | undefined;
  policy: string | undefined;
  signature: string;
  keyPairId: string;
  hashAlgorithm: string | undefined;
}

const fail = (rejection: Rejection, reason: string): VerifyResult => ({
  ok: false,
  code: rejection.code,
  reason,
});

export function verifySignedRequest(
  config: Readonly<Pick<EdgewiseConfig, 'cloudfront' | 'server' | 'edge'>>,
  req: SignedRequest,
): VerifyResult {
  const url = req.url.startsWith('/') ? viewerBaseUrl(config) + req.url : req.url;
  const grant = fromQuery(url) ?? fromCookies(url, req.cookies);
  if (typeof grant === 'string')
    return grant.startsWith('extra:')
      ? fail(SignatureExtraParam, grant.slice(6))
      : fail(SignatureMalformed, grant);
  if (grant === undefined) return fail(SignatureMissing, 'no signed-URL parameters or CloudFront cookies');

  const key = resolveKeys(config).trusted.get(grant.keyPairId);
  if (!key) return fail(SignatureUnknownKey, `key pair id "${grant.keyPairId}" is not trusted`);
  if (grant.hashAlgorithm !== undefined && grant.hashAlgorithm !== 'SHA256' && grant.hashAlgorithm !== 'SHA1')
    return fail(SignatureMalformed, 'Hash-Algorithm must be SHA1 or SHA256');
  const algorithm = grant.hashAlgorithm === 'SHA256' ? 'RSA-SHA256' : 'RSA-SHA1';

  let policyText: string;
  if (grant.policy !== undefined) {
    const decoded = decodeCloudfrontBase64(grant.policy);
    if (decoded === undefined) return fail(SignatureMalformed, 'Policy is not CloudFront base64');
    policyText = decoded.toString('utf8');
  } else {
    if (!/^\d{1,12}$/.test(grant.expires ?? ''))
      return fail(SignatureMalformed, 'Expires must be whole epoch seconds');
    // The canned policy CloudFront reconstructs; JSON.stringify escapes as the SDK signer did.
    policyText = JSON.stringify({
      Statement: [
        {
          Resource: grant.resourceUrl,
          Condition: { DateLessThan: { 'AWS:EpochTime': Number(grant.expires) } },
        },
      ],
    });
  }
  const signature = decodeCloudfrontBase64(grant.signature);
  if (signature === undefined || signature.length === 0)
    return fail(SignatureMalformed, 'Signature is not CloudFront base64');
  const verifier = createVerify(algorithm);
  verifier.update(policyText);
  let valid = false;
  try {
    valid = verifier.verify(key, signature);
  } catch {
    valid = false;
  }
  if (!valid)
    return fail(
      SignatureInvalid,
      grant.policy === undefined
        ? 'signature does not match the URL and expiry'
        : 'signature does not match the policy',
    );
  return checkPolicy(policyText, grant.resourceUrl, req.clientIp);
}

function checkPolicy(policyText: string, resourceUrl: string, clientIp: string): VerifyResult {
  let statement: Record<string, unknown>;
  try {
    const parsed = JSON.parse(policyText) as { Statement?: unknown };
    if (!Array.isArray(parsed.Statement) || parsed.Statement.length !== 1) throw new Error('one Statement');
    statement = parsed.Statement[0] as Record<string, unknown>;
    if (typeof statement !== 'object' || statement === null) throw new Error('Statement');
  } catch {
    return fail(SignatureMalformed, 'policy must be JSON with exactly one Statement');
  }
  const condition = statement.Condition as Record<string, Record<string, unknown> | undefined> | undefined;
  const dlt = condition?.DateLessThan?.['AWS:EpochTime'];
  if (typeof dlt !== 'number') return fail(SignatureMalformed, 'policy has no DateLessThan');
  for (const k of Object.keys(condition ?? {}))
    if (!['DateLessThan', 'DateGreaterThan', 'IpAddress'].includes(k))
      return fail(SignatureMalformed, `unsupported condition ${k}`);
  const resource = statement.Resource;
  // No Resource: CloudFront lets the grant cover every URL of the distribution.
  if (resource !== undefined) {
    if (typeof resource !== 'string') return fail(SignatureMalformed, 'Resource must be a string');
    if (!resourcePattern(resource).test(resourceUrl))
      return fail(SignatureResourceMismatch, `policy covers ${resource}`);
  }
  const now = Date.now();
  if (now >= dlt * 1000) return fail(SignatureExpired, `expired at ${new Date(dlt * 1000).toISOString()}`);
  const dgt = condition?.DateGreaterThan?.['AWS:EpochTime'];
  if (dgt !== undefined) {
    if (typeof dgt !== 'number') return fail(SignatureMalformed, 'DateGreaterThan must be a number');
    if (now < dgt * 1000)
      return fail(SignatureNotYetValid, `valid from ${new Date(dgt * 1000).toISOString()}`);
  }
  const range = condition?.IpAddress?.['AWS:SourceIp'];
  if (range !== undefined) {
    if (typeof range !== 'string') return fail(SignatureMalformed, 'AWS:SourceIp must be a string');
    const allowed = ipAllowed(range, clientIp);
    if (allowed === undefined) return fail(SignatureMalformed, `bad AWS:SourceIp ${range}`);
    if (!allowed) return fail(SignatureIpMismatch, `${clientIp} is not in ${range}`);
  }
  return { ok: true };
}

/** Signed-URL parameters from the query; undefined when there are none, a string when malformed. */
function fromQuery(url: string): Grant | string | undefined {
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  const parts = url.slice(q + 1).split('&');
  const first = parts.findIndex((p) => SIGNING_PARAMS.has(p.split('=', 1)[0] ?? ''));
  if (first === -1) return undefined;
  const values = new Map<string, string>();
  for (const part of parts.slice(first)) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (!SIGNING_PARAMS.has(name)) return `extra:"${name}" follows the signature parameters`;
    if (values.has(name)) return `${name} appears twice`;
    values.set(name, eq === -1 ? '' : decodeParam(part.slice(eq + 1)));
  }
  const kept = parts.slice(0, first);
  const resourceUrl = url.slice(0, q) + (kept.length > 0 ? `?${kept.join('&')}` : '');
  return toGrant(resourceUrl, (n) => values.get(n));
}

function fromCookies(url: string, cookies: SignedRequest['cookies']): Grant | string | undefined {
  const jar = typeof cookies === 'string' ? parseCookieHeader(cookies) : (cookies ?? {});
  const get = (n: string) => jar[`CloudFront-${n}`];
  if (get('Signature') === undefined && get('Key-Pair-Id') === undefined) return undefined;
  return toGrant(url, get);
}

function toGrant(resourceUrl: string, get: (name: string) => string | undefined): Grant | string {
  const signature = get('Signature');
  const keyPairId = get('Key-Pair-Id');
  const expires = get('Expires');
  const policy = get('Policy');
  if (!signature || !keyPairId) return 'Signature and Key-Pair-Id are both required';
  if ((expires === undefined) === (policy === undefined))
    return 'exactly one of Expires or Policy is required';
  return { resourceUrl, expires, policy, signature, keyPairId, hashAlgorithm: get('Hash-Algorithm') };
}

function decodeParam(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

function parseCookieHeader(header: string): Record<string, string> {
  const jar: Record<string, string> = {};
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (name && !(name in jar)) jar[name] = part.slice(eq + 1).trim();
  }
  return jar;
}

/** CloudFront's URL-safe base64: `-` for `+`, `_` for `=`, `~` for `/`. */
function decodeCloudfrontBase64(text: string): Buffer | undefined {
  const std = text.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(std) || std.length % 4 !== 0) return undefined;
  return Buffer.from(std, 'base64');
}

const patterns = new Map<string, RegExp>();
/** Policy Resource wildcards: `*` any run of characters, `?` exactly one. */
function resourcePattern(resource: string): RegExp {
  let re = patterns.get(resource);
  if (!re) {
    let src = '^';
    for (const ch of resource)
      src += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    re = new RegExp(`${src}$`, 's');
    if (patterns.size > 1000) patterns.clear();
    patterns.set(resource, re);
  }
  return re;
}

function ipAllowed(range: string, clientIp: string): boolean | undefined {
  const [addr = '', bits] = range.split('/');
  const family = isIP(addr);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  const list = new NetBlockList();
  try {
    list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return undefined;
  }
  // Node reports IPv4 clients on dual-stack sockets as ::ffff:a.b.c.d.
  const ip = clientIp.startsWith('::ffff:') && isIP(clientIp.slice(7)) === 4 ? clientIp.slice(7) : clientIp;
  const clientFamily = isIP(ip);
  if (clientFamily === 0) return false;
  return list.check(ip, clientFamily === 4 ? 'ipv4' : 'ipv6');
}
