/**
 * POST /upload-urls (API key required): signed upload URLs for a key or a key prefix, with
 * allowed content types, a size limit and an expiry; with `presignedPost: true` and the s3
 * driver, also an S3 presigned POST for direct-to-S3 browser uploads.
 */
import type { FastifyPluginAsync } from 'fastify';
import { BadUploadRequest } from '../errors.js';
import type { StorageDriver } from '../storage/types.js';
import { requireApiKey } from '../uploads/auth.js';
import { grantFor, type UploadUrlRequest, uploadUrlResponse } from '../uploads/grant.js';
import { presignedPost } from '../uploads/presign.js';
import { publicBase } from '../uploads/public-base.js';

export interface UploadUrlRoutesOptions {
  /** The unwrapped driver, for presigned POSTs (the context's driver may be instrumented). */
  driver?: StorageDriver;
}

const FIELDS = new Set([
  'key',
  'prefix',
  'method',
  'contentTypes',
  'maxBytes',
  'expiresInSeconds',
  'presignedPost',
]);

function parseBody(body: unknown): UploadUrlRequest & { presignedPost?: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadUploadRequest('body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const name of Object.keys(b))
    if (!FIELDS.has(name)) throw new BadUploadRequest(`unknown field ${name}`);
  const str = (n: string) => {
    if (b[n] !== undefined && typeof b[n] !== 'string') throw new BadUploadRequest(`${n} must be a string`);
    return b[n] as string | undefined;
  };
  const int = (n: string) => {
    if (b[n] !== undefined && !Number.isSafeInteger(b[n]))
      throw new BadUploadRequest(`${n} must be an integer`);
    return b[n] as number | undefined;
  };
  const types = b.contentTypes;
  if (
    types !== undefined &&
    (!Array.isArray(types) || types.length > 20 || !types.every((t) => typeof t === 'string'))
  )
    throw new BadUploadRequest('contentTypes must be an array of at most 20 strings');
  const method = str('method');
  if (method !== undefined && method !== 'PUT' && method !== 'POST')
    throw new BadUploadRequest('method must be PUT or POST');
  if (b.presignedPost !== undefined && typeof b.presignedPost !== 'boolean')
    throw new BadUploadRequest('presignedPost must be a boolean');
  return {
    key: str('key'),
    prefix: str('prefix'),
    method,
    contentTypes: types as string[] | undefined,
    maxBytes: int('maxBytes'),
    expiresInSeconds: int('expiresInSeconds'),
    presignedPost: b.presignedPost as boolean | undefined,
  };
}

export const uploadUrlRoutes: FastifyPluginAsync<UploadUrlRoutesOptions> = async (app, opts) => {
  const driver = opts.driver ?? app.edgewise.storage;
  app.post('/upload-urls', { bodyLimit: 16 * 1024 }, async (request, reply) => {
    const uploads = app.edgewise.config.current.uploads;
    requireApiKey(uploads, request);
    const req = parseBody(request.body);
    const grant = grantFor(uploads, req);
    const base = publicBase(request);
    let post: Awaited<ReturnType<typeof presignedPost>> | undefined;
    if (req.presignedPost) {
      if (!driver.presignedPost) throw new BadUploadRequest('presignedPost needs storage.driver "s3"');
      post = await presignedPost(driver.presignedPost, grant, uploads.allowedTypes);
    }
    return reply.code(201).send(uploadUrlResponse(uploads, grant, base, post));
  });
};
