/**
 * Signed viewer URLs and cookies for signed content classes, with @aws-sdk/cloudfront-signer.
 * A canned policy (Expires in the URL) when only an expiry is asked for, because it keeps URLs
 * short; a custom policy (Policy in the URL) as soon as a start time, an IP range or a wildcard
 * resource is needed — the only form CloudFront accepts for those.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-canned-policy.html
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-custom-policy.html
 */
import { BlockList, isIP } from 'node:net';
import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';
import type { EdgewiseConfig } from '../config/schema.js';
import { BadSignRequest } from '../errors.js';
import { requireSigningKey } from './keys.js';

type SignerConfig = Pick<EdgewiseConfig, 'cloudfront' | 'server' | 'edge'>;

/** Where viewers reach content: distribution.baseUrl, else server.publicUrl, else the local edge. */
export function viewerBaseUrl(config: Readonly<SignerConfig>): string {
  const base =
    config.cloudfront.distribution.baseUrl ??
    config.server.publicUrl ??
    `http://127.0.0.1:${config.edge.port}`;
  return base.replace(/\/+$/, '');
}

export interface SignOptions {
  /** Lifetime from now; default cloudfront.signing.defaultExpiresSeconds, at most maxExpiresSeconds. */
  expiresInSeconds?: number;
  /** The URL is refused before this instant (custom policy). */
  notBefore?: Date;
  /** IPv4 address or CIDR the viewer must come from (custom policy; CloudFront takes no IPv6). */
  ipRange?: string;
  /** Policy resource with `*`/`?` wildcards (a path is prefixed with the distribution base URL). */
  wildcardResource?: string;
}

/**
 * Encodes a URL the way the SDK signer does (each path segment decoded then re-encoded, query
 * components percent-encoded), so the policy resource we write is byte-for-byte the URL the SDK
 * emits and CloudFront later sees. Applying it twice changes nothing.
 */
export function canonicalUrl(url: string): string {
  const protocolEnd = url.indexOf('//');
  const pathStart = protocolEnd === -1 ? -1 : url.indexOf('/', protocolEnd + 2);
  if (pathStart === -1) return url;
  const rest = url.slice(pathStart);
  const q = rest.indexOf('?');
  const rawPath = q === -1 ? rest : rest.slice(0, q);
  const rawQuery = q === -1 ? '' : rest.slice(q + 1);
  const path = rawPath.replace(/[^/]+/g, (seg) => {
    try {
      return encodeURIComponent(decodeURIComponent(seg));
    } catch {
      return encodeURIComponent(seg);
    }
  });
  const pairs = rawQuery
    .split('&')
    .filter((p) => p.length > 0)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const k = eq === -1 ? pair : pair.slice(0, eq);
      const v = eq === -1 ? '' : pair.slice(eq + 1);
      return `${encodeQueryComponent(k)}=${encodeQueryComponent(v)}`;
    });
  return url.slice(0, pathStart) + path + (pairs.length > 0 ? `?${pairs.join('&')}` : '');
}

function encodeQueryComponent(component: string): string {
  return component
    .replace(/[\uD800-\uDFFF]/gu, '\uFFFD')
    .split(/(%[0-9A-Fa-f]{2}|\+)/g)
    .map((part, i) =>
      i % 2 === 1 ? (part === '+' ? '+' : part.toUpperCase()) : encodeURIComponent(part).replace(/'/g, '%27'),
    )
    .join('');
}

/** The viewer URL of a storage key: each `/`-separated segment percent-encoded. */
export function viewerUrlForKey(config: SignerConfig, key: string): string {
  return `${viewerBaseUrl(config)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function absolute(config: SignerConfig, url: string): string {
  if (url.startsWith('/')) return viewerBaseUrl(config) + url;
  if (!/^https?:\/\//.test(url)) throw new BadSignRequest(`URL must be absolute http(s) or a path: ${url}`);
  return url;
}

/**
 * Validates an IPv4 address or CIDR and returns it in `addr/bits` form. CloudFront's policy
 * condition AWS:SourceIp takes IPv4 only (its API reference for IsIPV6Enabled: with a custom
 * policy that includes IpAddress, do not enable IPv6), so an IPv6 range is refused here rather
 * than signed into a URL no viewer could use.
 */
export function normaliseIpRange(range: string): string {
  const [addr = '', bits, extra] = range.split('/');
  const family = isIP(addr);
  if (family === 6)
    throw new BadSignRequest(
      `IPv6 range "${range}" cannot be signed: CloudFront policies restrict by IPv4 address or CIDR only (AWS:SourceIp)`,
    );
  if (family === 0 || extra !== undefined) throw new BadSignRequest(`invalid IP range "${range}"`);
  const prefix = bits === undefined ? 32 : Number(bits);
  if (!/^\d{1,2}$/.test(bits ?? '32') || prefix > 32)
    throw new BadSignRequest(`invalid prefix length in "${range}"`);
  // BlockList throws on what it cannot represent; checking here keeps the verifier total.
  new BlockList().addSubnet(addr, prefix, 'ipv4');
  return `${addr}/${prefix}`;
}

interface Validity {
  dateLessThan: number;
  dateGreaterThan: number | undefined;
}

function validity(config: SignerConfig, opts: SignOptions): Validity {
  const s = config.cloudfront.signing;
  const ttl = opts.expiresInSeconds ?? s.defaultExpiresSeconds;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > s.maxExpiresSeconds)
    throw new BadSignRequest(`expiresInSeconds must be an integer in 1..${s.maxExpiresSeconds} (got ${ttl})`);
  const now = Math.floor(Date.now() / 1000);
  const dateLessThan = now + ttl;
  let dateGreaterThan: number | undefined;
  if (opts.notBefore !== undefined) {
    if (Number.isNaN(opts.notBefore.getTime())) throw new BadSignRequest('notBefore is not a valid date');
    dateGreaterThan = Math.floor(opts.notBefore.getTime() / 1000);
    if (dateGreaterThan >= dateLessThan) throw new BadSignRequest('notBefore must be before the expiry');
  }
  return { dateLessThan, dateGreaterThan };
}

/** The custom policy JSON, in the key order of the CloudFront documentation, without whitespace. */
export function customPolicy(resource: string, w: Validity, ipRange: string | undefined): string {
  const condition: Record<string, unknown> = { DateLessThan: { 'AWS:EpochTime': w.dateLessThan } };
  if (w.dateGreaterThan !== undefined) condition.DateGreaterThan = { 'AWS:EpochTime': w.dateGreaterThan };
  if (ipRange !== undefined) condition.IpAddress = { 'AWS:SourceIp': ipRange };
  return JSON.stringify({ Statement: [{ Resource: resource, Condition: condition }] });
}

/** Signs a viewer URL (absolute, or a path under cloudfront.distribution.baseUrl). */
export function signViewerUrl(config: SignerConfig, url: string, opts: SignOptions = {}): string {
  const key = requireSigningKey(config);
  const target = canonicalUrl(absolute(config, url));
  const w = validity(config, opts);
  const creds = { keyPairId: key.keyPairId, privateKey: key.privateKeyPem, algorithm: key.algorithm };
  const ip = opts.ipRange === undefined ? undefined : normaliseIpRange(opts.ipRange);
  if (w.dateGreaterThan === undefined && ip === undefined && opts.wildcardResource === undefined)
    return getSignedUrl({ ...creds, url: target, dateLessThan: new Date(w.dateLessThan * 1000) });
  const resource =
    opts.wildcardResource === undefined ? target : absoluteResource(config, opts.wildcardResource);
  return getSignedUrl({ ...creds, url: target, policy: customPolicy(resource, w, ip) });
}

function absoluteResource(config: SignerConfig, resource: string): string {
  const abs = resource.startsWith('/') ? viewerBaseUrl(config) + resource : resource;
  if (!/^(https?|\*):\/\//.test(abs))
    throw new BadSignRequest(`resource must be a path or an http(s)/*:// URL: ${resource}`);
  // Encode like the URL the viewer will send; a `?` may be a wildcard, so leave those as written.
  return abs.includes('?') ? abs : canonicalUrl(abs);
}

export interface SignedCookie {
  name: string;
  value: string;
}

/**
 * Signed cookies for every URL under `resource` (wildcards allowed; default: all of the
 * distribution). Always a custom policy: a canned-policy cookie would cover one URL only.
 */
export function signViewerCookies(
  config: SignerConfig,
  opts: SignOptions & { resource?: string } = {},
): SignedCookie[] {
  const key = requireSigningKey(config);
  const w = validity(config, opts);
  const ip = opts.ipRange === undefined ? undefined : normaliseIpRange(opts.ipRange);
  const resource = absoluteResource(config, opts.resource ?? opts.wildcardResource ?? '/*');
  const out = getSignedCookies({
    keyPairId: key.keyPairId,
    privateKey: key.privateKeyPem,
    algorithm: key.algorithm,
    policy: customPolicy(resource, w, ip),
  });
  return Object.entries(out)
    .filter(([, v]) => v !== undefined)
    .map(([name, v]) => ({ name, value: String(v) }));
}

/**
 * Complete Set-Cookie header values for signed cookies, in the form AWS documents for them
 * (private-content-setting-signed-cookie-custom-policy): `Domain` when
 * cloudfront.signing.cookieDomain is set (so a page on www.example.com can set cookies the
 * distribution on cdn.example.com receives), `Path=/`, `Secure` (left out only when the viewer
 * base URL is plain http, the local edge, where a browser would drop a Secure cookie), and
 * `HttpOnly`. No Max-Age unless asked for: AWS recommends session cookies, which the browser
 * forgets on close; the policy's DateLessThan ends them anyway.
 */
export function setCookieHeaders(
  config: SignerConfig,
  cookies: SignedCookie[],
  maxAgeSeconds?: number,
): string[] {
  const domain = config.cloudfront.signing.cookieDomain;
  const attrs = [
    ...(domain === undefined ? [] : [`Domain=${domain}`]),
    'Path=/',
    ...(maxAgeSeconds === undefined ? [] : [`Max-Age=${maxAgeSeconds}`]),
    ...(viewerBaseUrl(config).startsWith('http:') ? [] : ['Secure']),
    'HttpOnly',
  ];
  return cookies.map((c) => [`${c.name}=${c.value}`, ...attrs].join('; '));
}
