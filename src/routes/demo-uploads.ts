/**
 * POST /_dev/upload-urls — the upload demo's signing endpoint (dev.demoUploads; registered by
 * src/app.ts only when it is on, and `edgewise serve` refuses to start with it on).
 *
 * A browser page cannot hold an API key, so in development this endpoint stands in for the
 * application backend that would normally call POST /upload-urls: it asks for nothing but a
 * file name and returns a URL signed with the same code (src/uploads/grant.ts), narrowed to
 * one fresh key under dev.demo.prefix, the demo's types, its size limit and a short expiry.
 * Everything else (type sniffing, 413/415/403) is the real upload endpoint's work.
 * GET on the same path tells the page the limits, so it can say them before a file is picked,
 * and, when the storage driver takes resumable uploads, the part size the page should use.
 * Each grant also carries its `resumableEndpoint` (src/uploads/multipart-token.ts): the same
 * grant, for the multipart protocol of Uppy's @uppy/aws-s3 (src/routes/multipart-resumable.ts),
 * which the page uses for files of more than one part.
 *
 * URLs point at the edge: server.publicUrl when set; else the page's own origin (the Origin
 * header, trusted only for loopback pages, which the demo serves), since in `edgewise dev` the
 * page is opened through the edge; else publicBase (the dev edge, else the origin; never Host).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { EdgewiseConfig } from '../config/schema.js';
import type { ImagesConfig } from '../config/sections/images.js';
import { BadUploadRequest, UnsupportedType, UploadTooLarge } from '../errors.js';
import { imageUrl, srcset } from '../images/srcset.js';
import type { StorageDriver } from '../storage/types.js';
import { essence, typeAllowed } from '../uploads/content-type.js';
import { grantFor, signedUploadUrl } from '../uploads/grant.js';
import { resumableEndpoint } from '../uploads/multipart-token.js';
import { publicBase } from '../uploads/public-base.js';
import { allowOrigin, DEMO_UPLOAD_URLS_PATH } from './cors.js';

/** Where the page should send uploads and load images from (see the header). */
export function demoBase(cfg: Readonly<EdgewiseConfig>, request: FastifyRequest): string {
  if (cfg.server.publicUrl) return cfg.server.publicUrl.replace(/\/+$/, '');
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== '*' && allowOrigin(cfg, origin) === origin) return origin;
  return publicBase(request);
}

/**
 * `<img srcset>` over the configured widths (the image service's helper), so the page asks only
 * for variants the edge caches; `src`, for browsers without srcset, is the middle width.
 */
export function demoImage(
  base: string,
  key: string,
  images: Readonly<ImagesConfig>,
): { srcset: string; src: string } {
  const sorted = [...images.widths].sort((a, b) => a - b);
  const middle = sorted[Math.floor(sorted.length / 2)] ?? sorted[0]!;
  return { srcset: srcset(key, images, { base }), src: imageUrl(key, { w: middle }, base) };
}

/** A file name reduced to a safe last key segment: `../My Photo (1).JPG` → `My-Photo-1-.JPG`. */
export function demoFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const safe = base
    // Decomposed, then accents dropped: "Ünïcödé" keeps its letters as "Unicode".
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(-100);
  return safe === '' ? 'file' : safe;
}

interface DemoRequest {
  name: string;
  size: number | undefined;
  type: string | undefined;
}

/** `{ name, size?, type? }`: the file as the page sees it; nothing else is accepted. */
export function parseDemoRequest(body: unknown): DemoRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadUploadRequest('body must be {"name": "<file name>", "size": <bytes>, "type": "<type>"}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (!['name', 'size', 'type'].includes(k)) throw new BadUploadRequest(`unknown field ${k}`);
  if (typeof b.name !== 'string' || b.name.length === 0 || b.name.length > 1024)
    throw new BadUploadRequest('name must be a string of 1 to 1024 characters');
  if (b.size !== undefined && !(Number.isSafeInteger(b.size) && (b.size as number) >= 0))
    throw new BadUploadRequest('size must be a non-negative integer');
  let type: string | undefined;
  if (b.type !== undefined) {
    if (typeof b.type !== 'string' || b.type.length > 255)
      throw new BadUploadRequest('type must be a string');
    type = essence(b.type);
    if (type === undefined) throw new UnsupportedType(b.type === '' ? '(none)' : b.type);
  }
  return { name: b.name, size: b.size as number | undefined, type };
}

/**
 * Part size of the page's resumable uploads: S3's smallest part (every part but the last must be
 * at least 5 MiB), so a cut loses as little as S3 allows and a demo-sized file has a few parts.
 */
export const DEMO_PART_BYTES = 5 * 1024 * 1024;

export interface DemoUploadRoutesOptions {
  /** The unwrapped driver (its capabilities), as for POST /upload-urls. */
  driver?: StorageDriver;
}

export const demoUploadRoutes: FastifyPluginAsync<DemoUploadRoutesOptions> = async (app, opts) => {
  const { config } = app.edgewise;
  const resumable = Boolean((opts.driver ?? app.edgewise.storage).resumable);
  app.get(DEMO_UPLOAD_URLS_PATH, async (_request, reply) => {
    const cfg = config.current;
    const { demo } = cfg.dev;
    reply.header('cache-control', 'no-store');
    return {
      maxBytes: demo.maxBytes,
      contentTypes: demo.contentTypes,
      expiresSeconds: demo.expiresSeconds,
      ...(resumable ? { multipart: { partBytes: DEMO_PART_BYTES } } : {}),
    };
  });
  app.post(DEMO_UPLOAD_URLS_PATH, { bodyLimit: 4 * 1024 }, async (request, reply) => {
    const { name, size, type } = parseDemoRequest(request.body);
    const cfg = config.current;
    const { demo } = cfg.dev;
    // What the page declares is checked before signing, so a file that cannot succeed is
    // refused with the upload endpoint's own codes before a byte is sent; the upload endpoint
    // still enforces the same limits for a client that declared less than it sends.
    if (size !== undefined && size > demo.maxBytes) throw new UploadTooLarge(demo.maxBytes);
    if (type !== undefined && !typeAllowed(type, cfg.uploads.allowedTypes, demo.contentTypes))
      throw new UnsupportedType(type);
    const key = `${demo.prefix}${randomBytes(6).toString('hex')}/${demoFileName(name)}`;
    const grant = grantFor(cfg.uploads, {
      key,
      method: 'PUT',
      contentTypes: demo.contentTypes,
      maxBytes: demo.maxBytes,
      expiresInSeconds: demo.expiresSeconds,
    });
    const base = demoBase(cfg, request);
    // A signed URL must never be reused from a cache.
    reply.header('cache-control', 'no-store');
    return reply.code(201).send({
      key,
      method: grant.method,
      url: signedUploadUrl(cfg.uploads, grant, base),
      ...(resumable ? { resumableEndpoint: resumableEndpoint(cfg.uploads, grant, base) } : {}),
      contentTypes: grant.types,
      maxBytes: grant.maxBytes,
      expiresAt: new Date(grant.expires * 1000).toISOString(),
      // Used by the page if the stored file turns out to be an image.
      image: demoImage(base, key, cfg.images),
    });
  });
};
