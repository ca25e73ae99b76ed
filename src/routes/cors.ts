/**
 * CORS (Fetch standard, "CORS protocol") for the endpoints a web page on another origin calls:
 * the upload endpoints, POST /upload-urls and the dev demo's signing endpoint. Each has its own
 * short list of methods and request headers, so a preflight is granted exactly what that
 * endpoint needs and nothing else. Every other route stays without CORS: images and files
 * are loaded by `<img>` and links, which do not need it.
 *
 * The headers are set on the raw response in onRequest, so they ride on every answer of those
 * routes, including coded errors (413, 415, 403) and 503s from load shedding: a page can only
 * show a server's error in words if it is allowed to read the error body.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { EdgewiseConfig } from '../config/schema.js';
import { normaliseOrigin } from '../config/sections/cors.js';
import { CorsRejected, NotFound } from '../errors.js';

export interface CorsRoute {
  /** Fastify route path for the OPTIONS handler. */
  url: string;
  /** Whether a request path belongs to this route. */
  matches(path: string): boolean;
  methods: readonly string[];
  /** Request headers a page may send (lower case); CORS-safelisted ones need no listing. */
  headers: readonly string[];
  /** Response headers a page may read, when not EXPOSED_HEADERS. */
  expose?: readonly string[];
  /** Only served while this is true (the demo endpoint exists only in dev). */
  enabled?(config: Readonly<EdgewiseConfig>): boolean;
}

/** Path of the dev demo's signing endpoint (src/routes/demo-uploads.ts). */
export const DEMO_UPLOAD_URLS_PATH = '/_dev/upload-urls';

/** Response headers the upload page reads from JavaScript (Retry-After on a 503). */
export const EXPOSED_HEADERS = ['retry-after'] as const;

export const CORS_ROUTES: readonly CorsRoute[] = [
  // Before /uploads/*, which would match them too. The resumable routes (Uppy's S3 protocol,
  // src/routes/multipart-resumable.ts) take JSON and an API key; fs part URLs take the bytes.
  {
    url: '/uploads/resumable/*',
    matches: (p) => p.startsWith('/uploads/resumable/'),
    methods: ['GET', 'POST', 'DELETE'],
    headers: ['content-type', 'authorization', 'x-api-key'],
  },
  {
    url: '/uploads/.edgewise/parts/*',
    matches: (p) => p.startsWith('/uploads/.edgewise/parts/'),
    methods: ['PUT'],
    headers: ['content-type'],
    // The client names each stored part by its ETag at completion.
    expose: [...EXPOSED_HEADERS, 'etag'],
  },
  {
    url: '/uploads/*',
    matches: (p) => p.startsWith('/uploads/'),
    methods: ['PUT'],
    // Content-Type: the file's type (image/jpeg is not a safelisted value, hence the preflight);
    // Content-Digest: the RFC 9530 checksum the endpoint verifies.
    headers: ['content-type', 'content-digest'],
  },
  {
    url: '/uploads',
    matches: (p) => p === '/uploads',
    methods: ['POST'],
    headers: ['content-type'],
  },
  {
    url: '/upload-urls',
    matches: (p) => p === '/upload-urls',
    methods: ['POST'],
    // The endpoint takes JSON and an API key in either of its two headers.
    headers: ['content-type', 'authorization', 'x-api-key'],
  },
  {
    url: DEMO_UPLOAD_URLS_PATH,
    matches: (p) => p === DEMO_UPLOAD_URLS_PATH,
    methods: ['POST'],
    headers: ['content-type'],
    enabled: (config) => config.dev.demoUploads,
  },
];

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Dev demo: a page on any loopback origin may call in, since that page is ours. */
function isLoopback(origin: string): boolean {
  const host = new URL(origin).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

/**
 * The Access-Control-Allow-Origin value for `origin`, or undefined when it is not allowed.
 * Origins are compared in serialised form (RFC 6454 §6.1), so `https://A.example:443` in the
 * config matches the `https://a.example` a browser sends.
 */
export function allowOrigin(config: Readonly<EdgewiseConfig>, origin: string): string | undefined {
  const { origins } = config.cors;
  if (origins.includes('*')) return '*';
  // Short of "*", the origin "null" (sandboxed frames, file: pages) is never allowed: unrelated
  // pages share it. normaliseOrigin refuses it.
  const given = normaliseOrigin(origin);
  if (given === undefined) return undefined;
  if (origins.some((o) => normaliseOrigin(o) === given)) return given;
  if (config.dev.demoUploads && isLoopback(given)) return given;
  return undefined;
}

function addVary(reply: FastifyReply, names: string[]): void {
  const current = String(reply.raw.getHeader('vary') ?? '');
  const have = new Set(
    current
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const add = names.filter((n) => !have.has(n.toLowerCase()));
  if (add.length > 0) reply.raw.setHeader('vary', [current, ...add].filter(Boolean).join(', '));
}

function routeFor(config: Readonly<EdgewiseConfig>, path: string): CorsRoute | undefined {
  return CORS_ROUTES.find((r) => r.matches(path) && (r.enabled?.(config) ?? true));
}

const plugin: FastifyPluginAsync = async (app) => {
  const { config } = app.edgewise;

  // Actual (non-preflight) requests: the Allow-Origin and Expose-Headers go on whatever the
  // route answers. The answer depends on Origin, so it says so (Fetch §3.2.5 "CORS protocol
  // and HTTP caches").
  app.addHook('onRequest', (request, reply, done) => {
    if (request.method === 'OPTIONS') return done();
    const cfg = config.current;
    const route = routeFor(cfg, pathOf(request.url));
    if (!route) return done();
    addVary(reply, ['Origin']);
    const origin = request.headers.origin;
    const allowed = typeof origin === 'string' ? allowOrigin(cfg, origin) : undefined;
    if (allowed !== undefined) {
      reply.raw.setHeader('access-control-allow-origin', allowed);
      reply.raw.setHeader('access-control-expose-headers', (route.expose ?? EXPOSED_HEADERS).join(', '));
    }
    done();
  });

  const preflight = (route: CorsRoute) => async (request: FastifyRequest, reply: FastifyReply) => {
    const cfg = config.current;
    if (!(route.enabled?.(cfg) ?? true)) throw new NotFound(pathOf(request.url));
    const allow = [...route.methods, 'OPTIONS'].join(', ');
    const origin = request.headers.origin;
    const method = request.headers['access-control-request-method'];
    // Not a CORS preflight (no Origin, or no requested method): a plain OPTIONS (RFC 9110 §9.3.7).
    if (typeof origin !== 'string' || typeof method !== 'string') {
      return reply.code(204).header('allow', allow).send();
    }
    addVary(reply, ['Origin', 'Access-Control-Request-Method', 'Access-Control-Request-Headers']);
    // A shared cache that ignored Vary would hand one origin's answer to another.
    reply.header('cache-control', 'no-store');
    const allowed = allowOrigin(cfg, origin);
    if (allowed === undefined) throw new CorsRejected(`origin ${origin} is not in cors.origins`);
    // Methods are case-sensitive in CORS except the ones fetch normalises; browsers send them
    // upper-case (Fetch §2.2.1 "normalize").
    if (!route.methods.includes(method))
      throw new CorsRejected(
        `method ${method} is not allowed on ${route.url}; allowed: ${route.methods.join(', ')}`,
      );
    const requested = String(request.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    const refused = requested.filter((h) => !route.headers.includes(h));
    if (refused.length > 0)
      throw new CorsRejected(
        `header ${refused.join(', ')} is not allowed on ${route.url}; allowed: ${route.headers.join(', ')}`,
      );
    return reply
      .code(204)
      .header('access-control-allow-origin', allowed)
      .header('access-control-allow-methods', route.methods.join(', '))
      .header('access-control-allow-headers', route.headers.join(', '))
      .header('access-control-max-age', String(cfg.cors.maxAgeSeconds))
      .send();
  };

  for (const route of CORS_ROUTES) app.options(route.url, preflight(route));
};

export const corsRoutes = fp(plugin, { name: 'edgewise-cors', fastify: '5.x' });
