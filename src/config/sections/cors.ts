import { type Static, Type } from '@sinclair/typebox';
import type { CrossCheck } from '../schema.js';

/**
 * CORS for the browser-facing write endpoints only: the upload endpoints, `POST /upload-urls`
 * and the dev demo's signing endpoint (src/routes/cors.ts holds the per-route methods and
 * headers). Content is fetched by `<img>`/links, which need no CORS, so GET routes stay
 * without it. No credentials mode: uploads are authorised by the signed URL or a header, never
 * by cookies, so `Access-Control-Allow-Credentials` is never sent.
 */
export const CorsSection = Type.Object(
  {
    origins: Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), {
      default: [],
      maxItems: 100,
      uniqueItems: true,
      description:
        'Web origins (scheme://host[:port], no path) whose pages may upload and ask for upload URLs, e.g. https://shop.example.com; "*" allows any origin (safe here: every write is authorised by a signature or an API key, never a cookie). Empty: no CORS at all.',
    }),
    maxAgeSeconds: Type.Integer({
      default: 600,
      minimum: 0,
      maximum: 86400,
      description:
        'Access-Control-Max-Age: how long a browser may reuse a preflight answer. Chromium caps it at 7200 s, Firefox at 86400 s (the limit here); short keeps an origin removed from the list from lingering.',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type CorsConfig = Static<typeof CorsSection>;

/**
 * The serialised origin of an entry (RFC 6454 §6.1: scheme://host[:port], default port
 * dropped, host lower-cased), or undefined when the entry is not a bare http(s) origin.
 */
export function normaliseOrigin(entry: string): string | undefined {
  if (!URL.canParse(entry)) return undefined;
  const u = new URL(entry);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== ''))
    return undefined;
  return u.origin;
}

/** Each entry must be "*" or a bare origin; "*" alongside others is a mistake worth naming. */
export const corsRules: CrossCheck = (config, report) => {
  const { origins } = config.cors;
  origins.forEach((o, i) => {
    if (o === '*') {
      if (origins.length > 1)
        report({ path: `cors.origins[${i}]`, message: '"*" allows every origin; list it alone', value: o });
      return;
    }
    if (normaliseOrigin(o) === undefined)
      report({
        path: `cors.origins[${i}]`,
        message: 'must be an http(s) origin: scheme://host[:port], without path, query or credentials',
        value: o,
      });
  });
};
