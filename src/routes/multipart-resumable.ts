/**
 * Resumable uploads in the protocol of Uppy's @uppy/aws-s3 (v6, `companionEndpoint`), the
 * "Companion-compatible" S3 routes, mapped onto the driver's ResumableStorage
 * (src/storage/types.ts). Relative to E = <base>/uploads/resumable/<grant token> (signed grant,
 * src/uploads/multipart-token.ts) or E = <base>/uploads/resumable (API key in a header):
 *   POST   E/s3/multipart                           {filename, type, metadata, key?} → {uploadId, key}
 *   GET    E/s3/multipart/:uploadId/:partNumber?key  → {url, expires}: where to PUT the part
 *   GET    E/s3/multipart/:uploadId?key              → [{PartNumber, Size, ETag, LastModified}]
 *   POST   E/s3/multipart/:uploadId/complete?key     {parts:[{PartNumber, ETag}]} → {location, key, …}
 *   DELETE E/s3/multipart/:uploadId?key              → {}
 *   GET    E/s3/params?filename&type                 → {method: 'POST', url, fields} (one request)
 * and, for the fs driver, the part URLs themselves: PUT /uploads/.edgewise/parts/:uploadId/:n.
 * The grant is checked on every request (key under it, part numbers within its size, and at
 * completion the total size and the sniffed type); the key is the client's to keep with the
 * upload id, which is what lets it resume after a reload (list parts, send the missing ones).
 * Shapes as @uppy/aws-s3 6.x's CompanionS3 client sends and reads them, and as @uppy/companion's
 * s3 controller answers them; docs/uploads.md has the flow.
 */
import { constants as http2, type ServerHttp2Stream } from 'node:http2';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  BadUploadRequest,
  MultipartBadPart,
  MultipartNotFound,
  ResumableUnavailable,
  UploadAborted,
  UploadGrantBusy,
  UploadsBusy,
  UploadTooLarge,
} from '../errors.js';
import { lingerOnClose } from '../http/linger.js';
import { MAX_PART_BYTES } from '../storage/parts.js';
import type { ResumableStorage, StorageDriver } from '../storage/types.js';
import { queryOf } from '../uploads/auth.js';
import { essence } from '../uploads/content-type.js';
import { edgeUrl } from '../uploads/edge-url.js';
import { signedUploadUrl } from '../uploads/grant.js';
import {
  assertGrantCovers,
  completionChecks,
  declaredType,
  parsePartNumber,
  resumableKey,
} from '../uploads/multipart.js';
import {
  authorizeResumable,
  grantTag,
  PART_PREFIX,
  PART_URL_SECONDS,
  RESUMABLE_PREFIX,
  type ResumableGrant,
  signedPartUrl,
  verifyPartUrl,
} from '../uploads/multipart-token.js';
import { presignedPost } from '../uploads/presign.js';
import { publicBase } from '../uploads/public-base.js';
import { watchSlowBody } from '../uploads/slow-body.js';

export interface ResumableRoutesOptions {
  /** The unwrapped driver (its capabilities), as for POST /upload-urls. */
  driver?: StorageDriver;
}

/** Completion bodies name up to 10,000 parts (~60 bytes each). */
const COMPLETE_BODY_BYTES = 1024 * 1024;

type Params = { grant?: string; uploadId?: string; partNumber?: string };

export const resumableRoutes: FastifyPluginAsync<ResumableRoutesOptions> = async (app, opts) => {
  const driver = opts.driver ?? app.edgewise.storage;
  const uploadsConfig = () => app.edgewise.config.current.uploads;
  const store = (): ResumableStorage => {
    if (!driver.resumable) throw new ResumableUnavailable(`storage driver ${driver.name} has none`);
    return driver.resumable;
  };
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  function grantOf(request: FastifyRequest): ResumableGrant {
    return authorizeResumable(uploadsConfig(), request, (request.params as Params).grant);
  }
  function keyOf(request: FastifyRequest, grant: ResumableGrant): string {
    const key = queryOf(request).get('key');
    assertGrantCovers(grant, key);
    return key;
  }
  function uploadIdOf(request: FastifyRequest): string {
    const id = (request.params as Params).uploadId ?? '';
    if (!/^[A-Za-z0-9._~-]{1,1024}$/.test(id)) throw new MultipartNotFound(JSON.stringify(id));
    return id;
  }

  await app.register(async (api: FastifyInstance) => {
    api.removeAllContentTypeParsers();
    // JSON whatever the Content-Type says (Uppy sends application/json), refused in our words.
    api.addContentTypeParser('*', (_request, payload, done) => {
      const chunks: Buffer[] = [];
      let size = 0;
      payload.on('data', (c: Buffer) => {
        size += c.length;
        if (size > COMPLETE_BODY_BYTES) {
          payload.removeAllListeners('data');
          done(new BadUploadRequest(`body over ${COMPLETE_BODY_BYTES} bytes`), undefined);
          return;
        }
        chunks.push(c);
      });
      payload.once('end', () => {
        if (size > COMPLETE_BODY_BYTES) return;
        const text = Buffer.concat(chunks).toString('utf8');
        if (text.trim() === '') return done(null, undefined);
        try {
          done(null, JSON.parse(text));
        } catch {
          done(new BadUploadRequest('body is not JSON'), undefined);
        }
      });
      payload.once('error', (err) => done(err, undefined));
    });
    api.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
    });

    for (const base of [`${RESUMABLE_PREFIX}/s3`, `${RESUMABLE_PREFIX}/:grant/s3`]) {
      api.post(`${base}/multipart`, async (request) => {
        const cfg = uploadsConfig();
        const grant = grantOf(request);
        const body = object(request.body);
        const key = resumableKey(grant, body.filename, body.key);
        const contentType = declaredType(cfg, grant, body.type);
        // Uppy's metadata (file name, relative path…) is not stored: S3 metadata is ASCII-only
        // and 2 KB at most, and nothing downstream reads it.
        const uploadId = await store().create(key, { contentType, metadata: {} });
        request.log.info({ key, uploadId }, 'resumable upload created');
        return { uploadId, key };
      });

      api.get(`${base}/multipart/:uploadId/:partNumber`, async (request) => {
        const cfg = uploadsConfig();
        const grant = grantOf(request);
        const key = keyOf(request, grant);
        const uploadId = uploadIdOf(request);
        const n = parsePartNumber((request.params as Params).partNumber ?? '', grant.maxBytes);
        const s = store();
        const expires = Math.min(grant.expires, nowSeconds() + PART_URL_SECONDS);
        const ttl = Math.max(1, expires - nowSeconds());
        if (s.presignPart) {
          // The s3 driver: S3 itself checks the upload exists when the part arrives.
          return { url: await s.presignPart(key, uploadId, n, ttl), expires: ttl };
        }
        if (!(await s.listParts(key, uploadId))) throw new MultipartNotFound(uploadId);
        const claim = {
          uploadId,
          partNumber: n,
          key,
          maxBytes: grant.maxBytes,
          expires,
          grant: grantTag(grant),
        };
        return { url: signedPartUrl(cfg, claim, publicBase(request)), expires: ttl };
      });

      api.get(`${base}/multipart/:uploadId`, async (request) => {
        const grant = grantOf(request);
        const key = keyOf(request, grant);
        const uploadId = uploadIdOf(request);
        const parts = await store().listParts(key, uploadId);
        if (!parts) throw new MultipartNotFound(uploadId);
        return parts.map((p) => ({
          PartNumber: p.partNumber,
          Size: p.size,
          ETag: p.etag,
          LastModified: p.lastModified.toISOString(),
        }));
      });

      api.post(`${base}/multipart/:uploadId/complete`, async (request) => {
        const cfg = app.edgewise.config.current;
        const grant = grantOf(request);
        const key = keyOf(request, grant);
        const uploadId = uploadIdOf(request);
        const parts = partList(object(request.body).parts);
        const meta = await store().complete(key, uploadId, parts, completionChecks(cfg.uploads, grant));
        if (!meta) throw new MultipartNotFound(uploadId);
        app.edgewise.metrics.uploadBytes.inc({ route: 'resumable' }, meta.size);
        app.edgewisePrecompressor?.schedule(meta);
        request.log.info({ key, uploadId, size: meta.size }, 'resumable upload completed');
        const public_ = edgeUrl(cfg, meta.key, publicBase(request));
        return {
          location: public_.url,
          key: meta.key,
          size: meta.size,
          contentType: meta.contentType,
          etag: meta.etag,
          ...(meta.sha256 ? { sha256: meta.sha256 } : {}),
          ...public_,
        };
      });

      api.delete(`${base}/multipart/:uploadId`, async (request) => {
        const grant = grantOf(request);
        const key = keyOf(request, grant);
        const uploadId = uploadIdOf(request);
        if (!(await store().abort(key, uploadId))) throw new MultipartNotFound(uploadId);
        request.log.info({ key, uploadId }, 'resumable upload aborted');
        return {};
      });

      // One request for a small file: a form POST (what Uppy v6 sends to the answer).
      api.get(`${base}/params`, async (request) => {
        const cfg = uploadsConfig();
        const grant = grantOf(request);
        const q = queryOf(request);
        const key = resumableKey(grant, q.get('filename'));
        const type = essence(declaredType(cfg, grant, q.get('type')))!;
        const narrowed = {
          method: 'POST' as const,
          scope: 'key' as const,
          target: key,
          types: [type],
          maxBytes: grant.maxBytes,
          expires: Math.min(grant.expires, nowSeconds() + PART_URL_SECONDS),
        };
        if (driver.presignedPost) {
          // Straight to S3, whose policy enforces key, size and type (no sniffing: docs/uploads.md).
          const post = await presignedPost(driver.presignedPost, narrowed, cfg.allowedTypes);
          return {
            method: 'POST',
            url: post.url,
            fields: post.fields,
            expires: narrowed.expires - nowSeconds(),
          };
        }
        if (cfg.signing.secrets.length === 0)
          throw new ResumableUnavailable('no uploads.signing.secrets to sign the upload URL with');
        return {
          method: 'POST',
          url: signedUploadUrl(cfg, narrowed, publicBase(request)),
          fields: { key },
          expires: narrowed.expires - nowSeconds(),
        };
      });
    }
  });

  // Part bytes (fs driver): the request stream goes to the driver untouched.
  await app.register(async (raw: FastifyInstance) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_request, _payload, done) => done(null));
    // Answered before the body was read (403, 413, 404): close rather than read what may be
    // gigabytes; the same rule as src/routes/uploads.ts (RFC 9110 §9.6, RFC 9113 §8.1).
    raw.addHook('onSend', async (request, reply) => {
      const r = request.raw as typeof request.raw & { stream?: ServerHttp2Stream };
      reply.header('cache-control', 'no-store');
      if (r.complete) return;
      if (r.httpVersionMajor < 2) {
        reply.header('connection', 'close');
        lingerOnClose(r.socket, r);
      } else if (r.stream) {
        const stream = r.stream;
        stream.once('finish', () => {
          if (!stream.closed) stream.close(http2.NGHTTP2_CANCEL);
        });
      }
    });

    // Part PUTs hold a write buffer and a socket each: bounded like uploads, by their own
    // pool of uploads.maxConcurrent slots and uploads.maxConcurrentPerGrant per signing grant.
    let active = 0;
    const perGrant = new Map<string, number>();

    raw.put(`${PART_PREFIX}/:uploadId/:partNumber`, async (request, reply) => {
      const cfg = uploadsConfig();
      const uploadId = uploadIdOf(request);
      const rawNumber = (request.params as Params).partNumber ?? '';
      if (!/^\d{1,5}$/.test(rawNumber))
        throw new MultipartBadPart(`part number ${rawNumber} is not a number`);
      const claim = verifyPartUrl(cfg, request, uploadId, Number(rawNumber));
      const n = parsePartNumber(rawNumber, claim.maxBytes);
      const s = store();
      if (!s.putPart) throw new ResumableUnavailable(`storage driver ${driver.name} takes parts itself`);
      // Counted before any await, so the slot is the first thing a part takes.
      const tag = claim.grant;
      if (tag !== '' && (perGrant.get(tag) ?? 0) >= cfg.maxConcurrentPerGrant) {
        reply.header('retry-after', '1');
        throw new UploadGrantBusy(`${cfg.maxConcurrentPerGrant} running`);
      }
      if (active >= cfg.maxConcurrent) {
        reply.header('retry-after', '1');
        throw new UploadsBusy(`${cfg.maxConcurrent} running`);
      }
      active++;
      if (tag !== '') perGrant.set(tag, (perGrant.get(tag) ?? 0) + 1);
      const ac = new AbortController();
      const onClose = () => {
        if (!request.raw.complete) ac.abort(new UploadAborted('the client disconnected'));
      };
      request.raw.once('close', onClose);
      // Cut before this handler ran: 'close' is already past, and nothing would end the write.
      if (request.raw.destroyed) onClose();
      const stopWatch = watchSlowBody(request.raw, cfg.slowBody, (err) => ac.abort(err));
      try {
        const stored = await s.listParts(claim.key, uploadId);
        if (!stored) throw new MultipartNotFound(uploadId);
        // The grant's size is the whole upload's: this part gets what the other parts left.
        const others = stored.reduce((sum, p) => (p.partNumber === n ? sum : sum + p.size), 0);
        const room = Math.min(MAX_PART_BYTES, claim.maxBytes - others);
        const declared = request.headers['content-length'];
        if (room < 0 || (declared !== undefined && Number(declared) > room))
          throw new UploadTooLarge(claim.maxBytes);
        const part = await s.putPart(claim.key, uploadId, n, request.raw, {
          maxBytes: room,
          signal: ac.signal,
        });
        if (!part) throw new MultipartNotFound(uploadId);
        app.edgewise.metrics.uploadBytes.inc({ route: 'resumable-part' }, part.size);
        return reply.header('etag', part.etag).send({ partNumber: n, size: part.size, etag: part.etag });
      } finally {
        stopWatch();
        request.raw.off('close', onClose);
        active--;
        if (tag !== '') {
          const left = (perGrant.get(tag) ?? 1) - 1;
          if (left === 0) perGrant.delete(tag);
          else perGrant.set(tag, left);
        }
      }
    });
  });
};

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadUploadRequest('body must be a JSON object');
  return body as Record<string, unknown>;
}

/** `[{PartNumber, ETag}]` as Uppy sends it (numbers may come as strings from other clients). */
function partList(raw: unknown): Array<{ partNumber: number; etag: string }> {
  if (!Array.isArray(raw) || raw.length === 0) throw new MultipartBadPart('parts must be a non-empty array');
  if (raw.length > 10_000) throw new MultipartBadPart('more than 10000 parts');
  return raw.map((p: unknown, i) => {
    const o = (typeof p === 'object' && p !== null ? p : {}) as { PartNumber?: unknown; ETag?: unknown };
    const n = typeof o.PartNumber === 'string' ? Number(o.PartNumber) : o.PartNumber;
    if (typeof n !== 'number' || typeof o.ETag !== 'string' || o.ETag === '')
      throw new MultipartBadPart(`parts[${i}] needs a PartNumber and an ETag`);
    return { partNumber: n, etag: o.ETag };
  });
}
