/**
 * The upload demo page (public/): `/` and its assets (script, style, icon) under /_dev/page/. Registered by
 * src/app.ts only with dev.demoUploads on, because the page works through the demo's signing
 * endpoint, which exists only then; production sites bring their own pages.
 *
 * Files are read per request (a few KB) so that editing public/ shows on the next reload;
 * `no-cache` plus a strong ETag lets the browser and the edge keep a copy but revalidate it
 * every time, so a stale page never outlives an edit.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fresh from 'fresh';

export const PAGE_ASSET_PREFIX = '/_dev/page/';

const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
} as const satisfies Record<string, string>;
type PageFile = keyof typeof FILES;

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

export const pageRoutes: FastifyPluginAsync = async (app) => {
  const dir = publicDir();
  const { config } = app.edgewise;

  const send = (name: PageFile) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = await readFile(`${dir}${name}`);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    reply.header('content-type', FILES[name]).header('cache-control', 'no-cache').header('etag', etag);
    if (name === 'index.html') {
      reply.header('content-security-policy', pagePolicy(config.current.server.publicUrl));
      reply.header('referrer-policy', 'no-referrer');
    }
    // RFC 9110 §13.1.2 / §15.4.5: a matching If-None-Match gets 304 with the validators.
    if (fresh(request.headers, { etag })) return reply.code(304).send();
    return reply.send(body);
  };

  app.get('/', send('index.html'));
  app.get(`${PAGE_ASSET_PREFIX}app.js`, send('app.js'));
  app.get(`${PAGE_ASSET_PREFIX}app.css`, send('app.css'));
  app.get(`${PAGE_ASSET_PREFIX}favicon.svg`, send('favicon.svg'));
};
