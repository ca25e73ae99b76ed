/**
 * POST /_edgewise/signed-urls: an application server (holding cloudfront.apiKey) asks the origin
 * for CloudFront signed URLs or cookies, so the private key never leaves the origin.
 * Body: { keys: string[] (≤ 100), expiresInSeconds?, notBefore?, ipRange?, wildcardResource?, cookies? }.
 * Answer: { urls: [{ key, url }], expiresAt } — or, with cookies: true, Set-Cookie headers for
 * the resource plus { cookies: [{name, value}], expiresAt }.
 * Without cloudfront.apiKey the route answers 404, as if it did not exist.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Ajv } from 'ajv';
import type { FastifyPluginAsync } from 'fastify';
import { classify } from '../classes.js';
import { setCookieHeaders, signViewerCookies, signViewerUrl, viewerUrlForKey } from '../cloudfront/signer.js';
import { BadSignRequest, NotFound, Unauthorized } from '../errors.js';
import { keyProblem } from '../storage/keys.js';
import { presentedApiKey } from '../uploads/auth.js';

export const SIGNED_URLS_PATH = '/_edgewise/signed-urls';

interface Body {
  keys?: string[];
  expiresInSeconds?: number;
  notBefore?: string;
  ipRange?: string;
  wildcardResource?: string;
  cookies?: boolean;
}

const bodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    keys: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 1024 } },
    expiresInSeconds: { type: 'integer', minimum: 1 },
    notBefore: { type: 'string', maxLength: 64 },
    ipRange: { type: 'string', maxLength: 64 },
    wildcardResource: { type: 'string', maxLength: 2048 },
    cookies: { type: 'boolean' },
  },
} as const;

// Our own validator: Fastify's default strips unknown properties, and a misspelt option
// (expiresInSecond) silently falling back to the default lifetime is worse than a 400.
const validateBody = new Ajv({ allErrors: false, coerceTypes: false }).compile<Body>(bodySchema);

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export const signedUrlRoutes: FastifyPluginAsync = async (app) => {
  app.post<{ Body: Body }>(SIGNED_URLS_PATH, { bodyLimit: 256 * 1024 }, async (request, reply) => {
    const config = app.edgewise.config.current;
    const expected = config.cloudfront.apiKey;
    if (expected === undefined) throw new NotFound(SIGNED_URLS_PATH);
    const given = presentedApiKey(request);
    // Compared as SHA-256 digests in constant time: timing reveals nothing about the key.
    if (given === undefined || !timingSafeEqual(digest(given), digest(expected))) throw new Unauthorized();
    const body: unknown = request.body ?? {};
    if (!validateBody(body)) {
      const e = validateBody.errors?.[0];
      throw new BadSignRequest(`body${e?.instancePath ?? ''} ${e?.message ?? 'is invalid'}`);
    }
    if (body.notBefore !== undefined && Number.isNaN(Date.parse(body.notBefore)))
      throw new BadSignRequest('notBefore must be an ISO-8601 date');
    const opts = {
      expiresInSeconds: body.expiresInSeconds,
      notBefore: body.notBefore === undefined ? undefined : new Date(body.notBefore),
      ipRange: body.ipRange,
      wildcardResource: body.wildcardResource,
    };
    const ttl = body.expiresInSeconds ?? config.cloudfront.signing.defaultExpiresSeconds;
    const expiresAt = new Date((Math.floor(Date.now() / 1000) + ttl) * 1000).toISOString();
    if (body.cookies) {
      const cookies = signViewerCookies(config, { ...opts, resource: body.wildcardResource ?? '/*' });
      void reply.header('set-cookie', setCookieHeaders(config, cookies, ttl));
      return { cookies, expiresAt };
    }
    const keys = body.keys ?? [];
    if (keys.length === 0) throw new BadSignRequest('keys must list at least one key');
    // Validate every key before signing any: a bad batch signs nothing.
    for (const key of keys) {
      const problem = keyProblem(key);
      if (problem) throw new BadSignRequest(`key ${JSON.stringify(key)}: ${problem}`);
      if (!classify(config, `/${key.split('/').map(encodeURIComponent).join('/')}`).signed)
        throw new BadSignRequest(`key ${JSON.stringify(key)} is not in a signed content class`);
    }
    return {
      urls: keys.map((key) => ({ key, url: signViewerUrl(config, viewerUrlForKey(config, key), opts) })),
      expiresAt,
    };
  });
};
