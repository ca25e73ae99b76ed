/**
 * Layer (c) of the differential harness: what CloudFront does with a viewer request under the
 * plan `edgewise cloudfront plan` emits and the functions `edgewise cloudfront build` writes,
 * with no cache (every request goes to the origin). Written from AWS's documentation, not from
 * the local edge's code, so that the edge and this model can disagree:
 * - behavior selection: the ordered CacheBehaviors' PathPattern on the URI exactly as received
 *   (`*` any run of characters, `?` one character, case-sensitive), else DefaultCacheBehavior
 *   (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#DownloadDistValuesPathPattern);
 * - AllowedMethods: a method outside them is refused with 403 before anything else;
 * - TrustedKeyGroups: a request without a valid signed URL or signed cookies is refused with 403
 *   (checked here with edgewise's verifier, the same one the local edge uses: the signature
 *   rules themselves are tested against the AWS SDK's signer in test/cloudfront/signing.test.ts);
 * - the viewer-request function runs on the event CloudFront builds; a generated response is the
 *   answer and no viewer-response function runs for it;
 * - the origin request carries only what the cache policy and origin request policy name:
 *   allowlisted query strings, headers and cookies, the normalised Accept-Encoding when the policy
 *   enables compression, X-Forwarded-For and Via
 *   (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/controlling-origin-requests.html);
 *   with no cache, the viewer's conditional and Range fields are forwarded and the origin
 *   answers them (an assumption: CloudFront answers them from its cache on a hit, which is what
 *   the local edge is compared with);
 * - the viewer-response function runs only when the origin's status is below 400
 *   (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-restrictions.html).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { CacheBehavior, CachePolicyConfig } from '@aws-sdk/client-cloudfront';
import type { BuildOutput } from '../../src/cloudfront/build.js';
import { fromCfHeaders, requestEvent, responseEvent, serializeQuery } from '../../src/cloudfront/events.js';
import { MANAGED_ALL_VIEWER_EXCEPT_HOST, type Plan } from '../../src/cloudfront/plan.js';
import { type CfRequest, loadViewerFunction, type ViewerFunction } from '../../src/cloudfront/runtime.js';
import { verifySignedRequest } from '../../src/cloudfront/verifier.js';
import type { EdgewiseConfig } from '../../src/config/schema.js';
import { type RawResponse, rawRequest } from '../helpers/raw-request.js';

export interface ModelAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The behavior's class (from its cache policy's name). */
  className: string;
  /** Who answered: the behavior's checks, the viewer-request function, or the origin. */
  by: 'method' | 'signature' | 'function' | 'origin';
  /** The cache key this request has under the behavior's cache policy (GET/HEAD reaching the origin). */
  cacheKey: string | undefined;
  /** The origin request (path and query) when one was made. */
  originUrl: string | undefined;
}

/** CloudFront path pattern → RegExp (only `*` and `?` are special). */
export function pathPatternRegExp(pattern: string): RegExp {
  const src = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${src}$`);
}

function normalisedEncoding(header: string | undefined): string {
  // CloudFront's documented normalisation: gzip and br only, q=0 excludes (as in cache-key.ts's
  // contract; written separately here so the two can be compared).
  if (!header) return '';
  const codings = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.toLowerCase().startsWith('q='));
    codings.set((name ?? '').trim().toLowerCase(), q ? Number(q.slice(2)) : 1);
  }
  const ok = (c: string) => {
    const q = codings.get(c) ?? codings.get('*');
    return q !== undefined && q > 0;
  };
  const br = ok('br');
  const gzip = ok('gzip');
  return br && gzip ? 'br,gzip' : gzip ? 'gzip' : br ? 'br' : '';
}

const CONDITIONAL = [
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  'range',
];

export class CloudFrontModel {
  readonly #plan: Plan;
  readonly #config: Readonly<EdgewiseConfig>;
  readonly #originUrl: string;
  readonly #request: ViewerFunction;
  readonly #response: ViewerFunction;
  readonly #behaviors: Array<{ re: RegExp; b: Omit<CacheBehavior, 'PathPattern'> }>;

  constructor(config: Readonly<EdgewiseConfig>, plan: Plan, built: BuildOutput, originUrl: string) {
    this.#config = config;
    this.#plan = plan;
    this.#originUrl = originUrl;
    this.#request = loadViewerFunction(built.viewerRequest.code);
    this.#response = loadViewerFunction(built.viewerResponse.code);
    const dc = plan.distributionConfig;
    this.#behaviors = (dc.CacheBehaviors?.Items ?? []).map((b) => ({
      re: pathPatternRegExp(b.PathPattern ?? ''),
      b,
    }));
    this.#behaviors.push({ re: /^/, b: dc.DefaultCacheBehavior as Omit<CacheBehavior, 'PathPattern'> });
  }

  #policyOf(b: Omit<CacheBehavior, 'PathPattern'>): {
    className: string;
    policy: CachePolicyConfig | undefined;
  } {
    const found = this.#plan.cachePolicies.find(
      (p) => b.CachePolicyId === `{{CachePolicyId:${p.CachePolicyConfig.Name}}}`,
    );
    return { className: found?.className ?? '(managed policy)', policy: found?.CachePolicyConfig };
  }

  async send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body?: Buffer,
  ): Promise<ModelAnswer> {
    const q = url.indexOf('?');
    const uri = q === -1 ? url : url.slice(0, q);
    const { b } = this.#behaviors.find((x) => x.re.test(uri))!;
    const { className, policy } = this.#policyOf(b);
    const base = { className, cacheKey: undefined, originUrl: undefined };
    const refuse = (by: ModelAnswer['by']): ModelAnswer => ({
      ...base,
      status: 403,
      headers: {},
      body: Buffer.alloc(0),
      by,
    });
    if (!(b.AllowedMethods?.Items ?? []).includes(method as never)) return refuse('method');
    if (b.TrustedKeyGroups?.Enabled) {
      const v = verifySignedRequest(this.#config, { url, clientIp: '127.0.0.1', cookies: headers.cookie });
      if (!v.ok) return refuse('signature');
    }
    const event = requestEvent({
      method,
      url,
      headers: { host: 'cdn.example.com', ...headers },
      clientIp: '127.0.0.1',
    });
    const associated = (type: string) =>
      (b.FunctionAssociations?.Items ?? []).some((f) => f.EventType === type);
    if (b.OriginRequestPolicyId === MANAGED_ALL_VIEWER_EXCEPT_HOST) {
      // Upload behaviors: no functions, nothing cached, every viewer field but Host forwarded.
      const forwarded = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'host'));
      const res = await rawRequest(this.#originUrl, url, {
        method,
        headers: forwarded,
        ...(body ? { body } : {}),
      });
      return {
        ...base,
        status: res.status,
        headers: { ...res.headers },
        body: res.body,
        by: 'origin',
        originUrl: url,
      };
    }
    const r = associated('viewer-request')
      ? await this.#request.run(event)
      : { kind: 'request' as const, request: event.request };
    if (r.kind === 'error')
      return { ...base, status: r.status, headers: {}, body: Buffer.alloc(0), by: 'function' };
    if (r.kind === 'response') {
      const body = r.response.body;
      return {
        ...base,
        status: r.response.statusCode,
        headers: fromCfHeaders(r.response.headers),
        body: Buffer.from(
          typeof body === 'string' ? body : (body?.data ?? ''),
          typeof body === 'object' && body.encoding === 'base64' ? 'base64' : 'utf8',
        ),
        by: 'function',
      };
    }
    const rq = r.request;
    const forward = this.#originRequest(rq, policy, headers, b);
    const res = await rawRequest(this.#originUrl, forward.url, {
      method,
      headers: forward.headers,
      ...(body ? { body } : {}),
    });
    const answer: ModelAnswer = {
      ...base,
      status: res.status,
      headers: { ...res.headers },
      body: res.body,
      by: 'origin',
      cacheKey: forward.cacheKey,
      originUrl: forward.url,
    };
    if (res.status >= 400 || !associated('viewer-response')) return answer;
    return this.#viewerResponse(rq, res, answer);
  }

  async #viewerResponse(rq: CfRequest, res: RawResponse, answer: ModelAnswer): Promise<ModelAnswer> {
    const r = await this.#response.run(
      responseEvent(rq, '127.0.0.1', { statusCode: res.status, headers: res.headers as OutgoingHttpHeaders }),
    );
    if (r.kind === 'error') return { ...answer, status: r.status, headers: {}, body: Buffer.alloc(0) };
    if (r.kind !== 'response') return answer;
    const headers: ModelAnswer['headers'] = fromCfHeaders(r.response.headers);
    // Read-only in viewer-response events: the body's own framing.
    for (const k of ['content-length', 'content-encoding', 'transfer-encoding'])
      if (res.headers[k] !== undefined) headers[k] = res.headers[k];
    return { ...answer, status: r.response.statusCode, headers };
  }

  /** The path, query and headers CloudFront sends the origin, and the request's cache key. */
  #originRequest(
    rq: CfRequest,
    policy: CachePolicyConfig | undefined,
    viewer: Record<string, string>,
    b: Omit<CacheBehavior, 'PathPattern'>,
  ): { url: string; headers: Record<string, string>; cacheKey: string | undefined } {
    const p = policy?.ParametersInCacheKeyAndForwardedToOrigin;
    const fnHeaders = fromCfHeaders(rq.headers);
    const headerOf = (name: string) => {
      const v = fnHeaders[name.toLowerCase()];
      return Array.isArray(v) ? v.join(',') : v;
    };
    // Query strings: the allowlist (or all of them), in the order the (possibly rewritten)
    // request has them.
    const allowQ =
      p?.QueryStringsConfig?.QueryStringBehavior === 'whitelist'
        ? (p.QueryStringsConfig.QueryStrings?.Items ?? [])
        : [];
    const allQ = p?.QueryStringsConfig?.QueryStringBehavior === 'all';
    const kept: Record<string, (typeof rq.querystring)[string]> = {};
    for (const [k, v] of Object.entries(rq.querystring)) if (allQ || allowQ.includes(k)) kept[k] = v;
    const query = serializeQuery(kept);
    const headers: Record<string, string> = {};
    const keyHeaders: string[] = [];
    const allowH =
      p?.HeadersConfig?.HeaderBehavior === 'whitelist' ? (p.HeadersConfig.Headers?.Items ?? []) : [];
    for (const h of allowH) {
      const v = headerOf(h);
      if (v !== undefined) {
        headers[h.toLowerCase()] = v;
        keyHeaders.push(`${h.toLowerCase()}:${v}\u0001`);
      }
    }
    const orp = this.#plan.originRequestPolicies.find(
      (x) => b.OriginRequestPolicyId === `{{OriginRequestPolicyId:${x.OriginRequestPolicyConfig.Name}}}`,
    );
    for (const h of orp?.OriginRequestPolicyConfig.HeadersConfig?.Headers?.Items ?? []) {
      const v = headerOf(h);
      if (v !== undefined) headers[h.toLowerCase()] = v;
    }
    const allowC =
      p?.CookiesConfig?.CookieBehavior === 'whitelist' ? (p.CookiesConfig.Cookies?.Items ?? []) : [];
    const cookies = [...allowC]
      .sort()
      .filter((c) => rq.cookies[c] !== undefined)
      .map((c) => `${c}=${rq.cookies[c]!.value}`);
    if (cookies.length > 0) headers.cookie = cookies.join('; ');
    const compress = p?.EnableAcceptEncodingGzip || p?.EnableAcceptEncodingBrotli;
    const encoding = compress ? normalisedEncoding(headerOf('accept-encoding')) : '';
    if (encoding) headers['accept-encoding'] = encoding === 'br,gzip' ? 'br, gzip' : encoding;
    for (const h of CONDITIONAL) if (viewer[h] !== undefined) headers[h] = viewer[h];
    headers['x-forwarded-for'] = '127.0.0.1';
    headers.via = '1.1 model.cloudfront.net (CloudFront)';
    // The key holds the kept parameters decoded and re-encoded one way, sorted by name, so
    // `?w=1&h=2` and `?h=2&w=1` (or `%31` and `1`) are one entry.
    const sortedQuery = new URLSearchParams(
      [...new URLSearchParams(query)].sort((a, b2) => (a[0] < b2[0] ? -1 : a[0] > b2[0] ? 1 : 0)),
    ).toString();
    const cacheKey =
      policy && (policy.MaxTTL ?? 0) > 0
        ? `${rq.uri}\n${sortedQuery}\n${keyHeaders.join('')}\n${cookies.join('; ')}\n${encoding}`
        : undefined;
    return { url: query ? `${rq.uri}?${query}` : rq.uri, headers, cacheKey };
  }
}
