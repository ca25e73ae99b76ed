/**
 * GET/HEAD /img/<key>?w=&h=&fit=&q=&fmt= — resized, re-encoded variants of stored images.
 *
 * Order of work, cheapest refusal first: query validated against the configured lists (400),
 * key validated (400), source HEAD (404, 413 by declared size), then the stored variant is
 * served if it exists; only a miss reaches the image service (sniff, queue, transform, store).
 * The variant is then served through `sendObject` like any object, so validators,
 * conditional requests and HEAD behave identically; its Cache-Control is that of the
 * `/img/<key>` path's content class.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import sharp from 'sharp';
import { classify } from '../classes.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { ImageBusy, ImageSignedSource, ImageTooLarge, isCodedError, NotFound } from '../errors.js';
import { type AutoToken, allowedToken, autoToken } from '../images/negotiate.js';
import { parseImageParams, rawQuery } from '../images/params.js';
import { ImageService } from '../images/service.js';
import { applyLoaderPolicy } from '../images/source-type.js';
import type { TransformFn } from '../images/transform.js';
import { imageVariantKey, type VariantSpec } from '../images/variant-key.js';
import { keyFromUrlPath } from '../storage/keys.js';
import type { ObjectMeta } from '../storage/types.js';
import { sendObject } from './serve-object.js';

export const IMAGE_MOUNT = '/img/';

declare module 'fastify' {
  interface FastifyInstance {
    /** The image variant service (stats, queue, and the transform seam). */
    images: ImageService;
  }
}

export interface ImageRoutesOptions {
  transform?: TransformFn;
}

const plugin: FastifyPluginAsync<ImageRoutesOptions> = async (app, opts) => {
  const { config, storage } = app.edgewise;
  const service = new ImageService({
    storage,
    config: () => config.current.images,
    transform: opts.transform,
  });
  app.decorate('images', service);
  // libvips' operation cache only helps when the same pixels are processed again, which stored
  // variants already prevent; off, it does not hold up to 50 MB per process (process-wide).
  sharp.cache(false);

  // sharp.block is process-wide; re-applied whenever a reload changes the allowed loaders.
  applyLoaderPolicy(config.current.images.allowRiskyLoaders);
  const onChange = (next: Readonly<EdgewiseConfig>) => applyLoaderPolicy(next.images.allowRiskyLoaders);
  config.on('change', onChange);
  app.addHook('onClose', async () => {
    config.off('change', onChange);
  });

  async function headSource(key: string, path: string, ttl: number): Promise<ObjectMeta> {
    const meta = await storage.head(key);
    if (!meta) {
      service.sources.delete(key);
      throw new NotFound(path);
    }
    service.sources.set(key, meta, ttl);
    return meta;
  }

  app.route({
    method: ['GET', 'HEAD'],
    url: `${IMAGE_MOUNT}*`,
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const cfg = config.current;
      const params = parseImageParams(rawQuery(request.url), cfg.images);
      const key = keyFromUrlPath(request.url, IMAGE_MOUNT);
      const path = `${IMAGE_MOUNT}${key}`;
      const cls = classify(cfg, path);
      // /img/* is a public class; an object whose own path needs a signature (user content)
      // must not become reachable without one through its variants.
      const sourceClass = classify(cfg, `/${key}`);
      if (sourceClass.signed) throw new ImageSignedSource(sourceClass.name);
      const ttl = cfg.images.sourceCacheMs;
      const remembered = service.sources.get(key, ttl);
      let source = remembered ?? (await headSource(key, path, ttl));
      if (source.size > cfg.images.maxInputBytes) throw new ImageTooLarge(cfg.images.maxInputBytes);

      const negotiated = params.fmt.startsWith('auto');
      const spec: VariantSpec = {
        ...params,
        fmt:
          params.fmt === 'auto'
            ? autoToken(request.headers.accept, cfg.images.formats)
            : negotiated
              ? allowedToken(params.fmt as AutoToken, cfg.images.formats)
              : params.fmt,
      };
      // RFC 9110 §12.5.5: the representation of an auto variant depends on Accept, also when the
      // viewer-request function negotiated it (the viewer's URL had no token).
      const vary = negotiated ? ['Accept'] : undefined;

      const storedKey = imageVariantKey(key, source.etag, spec);
      try {
        return await sendObject(request, reply, { storage, key: storedKey, cls, path, vary });
      } catch (err) {
        if (!(isCodedError(err) && err.code === NotFound.code) || reply.sent) throw err;
      }
      // About to do real work: never on the strength of a remembered ETag.
      if (remembered) {
        source = await headSource(key, path, ttl);
        if (source.size > cfg.images.maxInputBytes) throw new ImageTooLarge(cfg.images.maxInputBytes);
      }
      let madeKey: string;
      try {
        madeKey = await service.ensureVariant(source, spec);
      } catch (err) {
        if (isCodedError(err) && err.code === ImageBusy.code)
          reply.header('retry-after', String(cfg.images.retryAfterSeconds));
        throw err;
      }
      return sendObject(request, reply, { storage, key: madeKey, cls, path, vary });
    },
  });
};

export const imageRoutes = fp(plugin, { name: 'edgewise-images', fastify: '5.x' });
