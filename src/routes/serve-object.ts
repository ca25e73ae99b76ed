/**
 * Sends one stored object with its validators and the Cache-Control of its content class.
 * Shared by the content route and the image route.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { cacheControlFor } from '../cache-control.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import { NotFound } from '../errors.js';
import type { StorageDriver } from '../storage/types.js';

export interface SendObjectOptions {
  storage: StorageDriver;
  key: string;
  cls: ContentClassConfig;
  /** URL path, for the fingerprint check and error messages. */
  path: string;
}

export async function sendObject(
  request: FastifyRequest,
  reply: FastifyReply,
  opts: SendObjectOptions,
): Promise<FastifyReply> {
  const { storage, key, cls, path } = opts;
  request.edgewiseClass = cls.name;
  const isHead = request.method === 'HEAD';
  const found = isHead ? await storage.head(key) : await storage.get(key);
  if (!found) throw new NotFound(path);
  const meta = 'meta' in found ? found.meta : found;
  reply
    .header('content-type', meta.contentType)
    .header('etag', meta.etag)
    .header('last-modified', meta.lastModified.toUTCString())
    .header('cache-control', cacheControlFor(cls, path))
    .header('x-content-type-options', 'nosniff')
    .header('content-length', meta.size);
  if (request.headers['if-none-match'] === meta.etag) {
    if ('body' in found) found.body.destroy();
    return reply.code(304).send();
  }
  if (isHead || !('body' in found)) return reply.send();
  return reply.send(found.body);
}
