/**
 * The upload demo page (public/): `/` and its assets (scripts, style, icon) under /_dev/page/,
 * plus Uppy's browser bundle and stylesheet under /_dev/page/vendor/, served from the `uppy`
 * package in node_modules: the page loads nothing from another site. Registered by src/app.ts
 * only with dev.demoUploads on, because the page works through the demo's signing endpoint,
 * which exists only then; production sites bring their own pages.
 *
 * Our files are read per request (a few KB) so that editing public/ shows on the next reload;
 * the vendor files (600 KB) are read once, as the installed package does not change under a
 * running process. `no-cache` plus a strong ETag lets the browser and the edge keep a copy but
 * revalidate it every time, so a stale page never outlives an edit or an `npm install`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fresh from 'fresh';

export const PAGE_ASSET_PREFIX = '/_dev/page/';

const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'messages.js': 'text/javascript; charset=utf-8',
  'grants.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
} as const satisfies Record<string, string>;
type PageFile = keyof typeof FILES;

/** Uppy's prebuilt bundle (ES module) and stylesheet, by the name the page asks for. */
const VENDOR = {
  'uppy.min.mjs': { file: 'uppy/dist/uppy.min.mjs', type: 'text/javascript; charset=utf-8' },
  'uppy.min.css': { file: 'uppy/dist/uppy.min.css', type: 'text/css; charset=utf-8' },
} as const satisfies Record<string, { file: string; type: string }>;

/**
 * public/ sits at the package root: two levels above src/routes when run from source (vitest),
 * three above dist/src/routes when built; the package's `files` ship it beside dist/.
 */
export function publicDir(): string {
  const candidates = ['../../public/', '../../../public/'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  const found = candidates.find((dir) => existsSync(`${dir}index.html`));
  if (!found) throw new Error(`public/index.html not found (looked in ${candidates.join(', ')})`);
  return found;
}

/**
 * The page's Content-Security-Policy: scripts, styles and fetches only from itself, plus the
 * edge (server.publicUrl) that uploads go to and images come from. No inline script at all.
 * Not even `blob:` or `data:` images: the page turns off Uppy's thumbnails and the icons its
 * stylesheet inlines (public/app.js, app.css) rather than widen the policy.
 */
export function pagePolicy(publicUrl: string | undefined): string {
  const edge = publicUrl ? ` ${new URL(publicUrl).origin}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self'${edge}`,
    `connect-src 'self'${edge}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

export const pageRoutes: FastifyPluginAsync = async (app) => {
  const dir = publicDir();
  const { config } = app.edgewise;
  const require = createRequire(import.meta.url);

  const reply304or200 = (
    request: FastifyRequest,
    reply: FastifyReply,
    body: Buffer,
    etag: string,
    type: string,
  ) => {
    reply.header('content-type', type).header('cache-control', 'no-cache').header('etag', etag);
    // RFC 9110 §13.1.2 / §15.4.5: a matching If-None-Match gets 304 with the validators.
    if (fresh(request.headers, { etag })) return reply.code(304).send();
    return reply.send(body);
  };

  const send = (name: PageFile) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = await readFile(`${dir}${name}`);
    if (name === 'index.html') {
      reply.header('content-security-policy', pagePolicy(config.current.server.publicUrl));
      reply.header('referrer-policy', 'no-referrer');
    }
    return reply304or200(request, reply, body, etagOf(body), FILES[name]);
  };

  app.get('/', send('index.html'));
  for (const name of Object.keys(FILES) as PageFile[])
    if (name !== 'index.html') app.get(`${PAGE_ASSET_PREFIX}${name}`, send(name));

  for (const [name, { file, type }] of Object.entries(VENDOR)) {
    const path = require.resolve(file);
    let loaded: Promise<{ body: Buffer; etag: string }> | undefined;
    app.get(`${PAGE_ASSET_PREFIX}vendor/${name}`, async (request, reply) => {
      loaded ??= readFile(path).then((body) => ({ body, etag: etagOf(body) }));
      const { body, etag } = await loaded;
      return reply304or200(request, reply, body, etag, type);
    });
  }
};
