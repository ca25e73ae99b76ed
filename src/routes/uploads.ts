/**
 * Upload endpoints, streamed to storage and never buffered whole:
 *   PUT  /uploads/<key>   raw body (curl, mobile apps)
 *   POST /uploads         multipart/form-data (browser forms and fetch), one or more files
 * Auth: a signed upload URL (src/uploads/signing.ts) or an API key (src/uploads/auth.ts).
 *
 * This plugin is encapsulated: its catch-all content-type parser hands the untouched request
 * stream to the handlers (no bodyLimit buffering) and @fastify/multipart parses in streaming
 * mode, without affecting other routes.
 */
import { constants as http2, type ServerHttp2Stream } from 'node:http2';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  BadMultipart,
  BadUploadRequest,
  Internal,
  isCodedError,
  TooManyParts,
  UploadAborted,
  UploadGrantBusy,
  UploadSignatureWrongKey,
  UploadsBusy,
  UploadTooLarge,
} from '../errors.js';
import { lingerOnClose } from '../http/linger.js';
import type { Logger } from '../logger.js';
import { assertUserKey, keyFromUrlPath } from '../storage/keys.js';
import type { ObjectMeta } from '../storage/types.js';
import { authorizeUpload } from '../uploads/auth.js';
import { expectedSha256 } from '../uploads/checksum.js';
import { edgeUrl } from '../uploads/edge-url.js';
import { Precompressor } from '../uploads/precompress.js';
import { publicBase } from '../uploads/public-base.js';
import { receiveUpload } from '../uploads/receive.js';
import { grantCoversKey } from '../uploads/signing.js';
import { watchSlowBody } from '../uploads/slow-body.js';

export interface UploadRoutesOptions {
  /** Replaces the default background precompressor (tests observe it; null disables). */
  precompressor?: Precompressor | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The background precompressor of uploaded objects, when enabled. */
    edgewisePrecompressor: Precompressor | null;
  }
}

/** Not encapsulated, so `app.edgewisePrecompressor` is visible to the whole app (and tests). */
export const uploadRoutes = fp<UploadRoutesOptions>(async (root, opts) => {
  const pc = root.edgewise.config.current.uploads.precompress;
  const precompressor =
    opts.precompressor !== undefined
      ? opts.precompressor
      : pc.enabled
        ? new Precompressor(root.edgewise.storage, root.log as Logger, pc)
        : null;
  root.decorate('edgewisePrecompressor', precompressor);
  root.addHook('onClose', async () => {
    await precompressor?.close();
  });
  await root.register(async (app) => uploadScope(app, precompressor));
});

async function uploadScope(app: FastifyInstance, precompressor: Precompressor | null): Promise<void> {
  const { config, storage, metrics } = app.edgewise;
  let active = 0;
  // An answer sent before the body was read (401, 413, 415, 503…): close the connection rather
  // than let Node read and discard what may be gigabytes (RFC 9110 §9.6). HTTP/2 has no
  // Connection header: once our response is flushed the stream is reset, which tells the client
  // to stop sending (RFC 9113 §8.1). CANCEL rather than NO_ERROR: Node's client keeps sending
  // after a NO_ERROR reset, which leaves the session open.
  app.addHook('onSend', async (request, reply) => {
    const raw = request.raw as typeof request.raw & { stream?: ServerHttp2Stream };
    if (raw.complete) return;
    if (raw.httpVersionMajor < 2) {
      reply.header('connection', 'close');
      lingerOnClose(raw.socket, raw);
    } else if (raw.stream) {
      const stream = raw.stream;
      stream.once('finish', () => {
        if (!stream.closed) stream.close(http2.NGHTTP2_CANCEL);
      });
    }
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  await app.register(multipart, { throwFileSizeLimit: false });

  /** Uploads running per signed grant (absent when none), for uploads.maxConcurrentPerGrant. */
  const perGrant = new Map<string, number>();

  /**
   * Runs one upload: concurrency slots (server-wide and per grant), abort on disconnect or on a
   * slow body, metrics, error shaping. An aborted upload releases its slots and is answered at
   * once; its work settles in the background (the drivers remove what they wrote).
   */
  async function track<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    route: string,
    grant: { id: string | undefined },
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const u = config.current.uploads;
    const cap = u.maxConcurrent;
    const id = grant.id;
    if (id !== undefined && (perGrant.get(id) ?? 0) >= u.maxConcurrentPerGrant) {
      reply.header('retry-after', '1');
      throw new UploadGrantBusy(`${u.maxConcurrentPerGrant} running`);
    }
    if (active >= cap) {
      reply.header('retry-after', '1');
      throw new UploadsBusy(`${cap} running`);
    }
    active++;
    if (id !== undefined) perGrant.set(id, (perGrant.get(id) ?? 0) + 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      active--;
      if (id === undefined) return;
      const n = (perGrant.get(id) ?? 1) - 1;
      if (n === 0) perGrant.delete(id);
      else perGrant.set(id, n);
    };
    const started = process.hrtime.bigint();
    const ac = new AbortController();
    const onClose = () => {
      if (!request.raw.complete) ac.abort(new UploadAborted('the client disconnected'));
    };
    request.raw.once('close', onClose);
    const stopWatch = request.raw.complete
      ? () => {}
      : watchSlowBody(request.raw, u.slowBody, (err) => ac.abort(err));
    const aborted = new Promise<never>((_resolve, reject) => {
      ac.signal.addEventListener(
        'abort',
        () => {
          release();
          reject(ac.signal.reason);
        },
        { once: true },
      );
    });
    const running = work(ac.signal);
    // After an abort the work still settles (driver cleanup); its outcome is the abort's.
    running.catch(() => {});
    try {
      const out = await Promise.race([running, aborted]);
      metrics.uploadDuration.observe({ route, outcome: 'ok' }, seconds(started));
      return out;
    } catch (raw) {
      const err = (ac.signal.aborted ? ac.signal.reason : translateMultipartError(raw)) as Error & {
        code?: string;
      };
      metrics.uploadDuration.observe({ route, outcome: 'failed' }, seconds(started));
      metrics.uploadFailures.inc({ code: isCodedError(err) ? err.code : Internal.code });
      if (ac.signal.aborted)
        request.log.info(
          { code: err.code, reason: err.message },
          err.code === UploadAborted.code
            ? 'upload aborted by the client; nothing stored'
            : 'upload body too slow: cut, nothing stored',
        );
      throw err;
    } finally {
      aborted.catch(() => {});
      stopWatch();
      release();
      request.raw.off('close', onClose);
    }
  }

  function describe(meta: ObjectMeta, request: FastifyRequest) {
    return {
      key: meta.key,
      size: meta.size,
      contentType: meta.contentType,
      etag: meta.etag,
      sha256: meta.sha256,
      ...edgeUrl(config.current, meta.key, publicBase(request)),
    };
  }

  function stored(meta: ObjectMeta, route: string): void {
    metrics.uploadBytes.inc({ route }, meta.size);
    precompressor?.schedule(meta);
  }

  app.put('/uploads/*', async (request, reply) => {
    const cfg = config.current;
    const key = keyFromUrlPath(request.url, '/uploads/');
    const grant = authorizeUpload(cfg.uploads, request, 'PUT', key);
    const declared = declaredLength(request);
    // Refuse before reading a byte when the client says up front that it is too large.
    if (declared !== undefined && declared > grant.maxBytes) throw new UploadTooLarge(grant.maxBytes);
    const sha = expectedSha256(request.headers);
    const meta = await track(request, reply, '/uploads/*', grant, (signal) =>
      receiveUpload({
        storage,
        config: cfg.uploads,
        key,
        declaredType: request.headers['content-type'],
        grantTypes: grant.types,
        maxBytes: grant.maxBytes,
        body: request.raw,
        expectedSha256: sha,
        signal,
      }),
    );
    stored(meta, '/uploads/*');
    return reply.code(201).send(describe(meta, request));
  });

  app.post('/uploads', async (request, reply) => {
    const cfg = config.current;
    const grant = authorizeUpload(cfg.uploads, request, 'POST', undefined);
    if (!request.isMultipart()) throw new BadMultipart('Content-Type must be multipart/form-data');
    const m = cfg.uploads.multipart;
    const done: ObjectMeta[] = [];
    const created: string[] = [];
    const fields: Record<string, string> = {};
    try {
      await track(request, reply, '/uploads', grant, async (signal) => {
        const parts = request.parts({
          limits: {
            files: m.maxFiles,
            fields: m.maxFields,
            parts: m.maxFiles + m.maxFields,
            fieldSize: m.maxFieldBytes,
            headerPairs: m.maxHeaderPairs,
            // One byte over our limit, so the driver (not busboy's silent truncation) says 413.
            fileSize: grant.maxBytes + 1,
          },
        });
        for await (const part of parts) {
          if (part.type === 'field') {
            if (part.valueTruncated)
              throw new BadMultipart(`field ${part.fieldname} exceeds ${m.maxFieldBytes} bytes`);
            fields[part.fieldname] = String(part.value);
            continue;
          }
          const key = multipartKey(grant, fields, part.filename, done.length);
          const existed = (await storage.head(key)) !== undefined;
          const meta = await receiveUpload({
            storage,
            config: cfg.uploads,
            key,
            declaredType: part.mimetype,
            grantTypes: grant.types,
            maxBytes: grant.maxBytes,
            body: part.file,
            signal,
          });
          if (signal.aborted) {
            // Finished just as the upload was cut: the answer says nothing was stored.
            if (!existed) await storage.delete(key).catch(() => false);
            throw signal.reason;
          }
          done.push(meta);
          if (!existed) created.push(key);
        }
        if (done.length === 0) throw new BadMultipart('no file part');
      });
    } catch (err) {
      // All or nothing: files of this request stored before the failure are removed again
      // (keys that existed before are left alone; their previous version is already replaced).
      for (const key of created) await storage.delete(key).catch(() => false);
      throw err;
    }
    for (const meta of done) stored(meta, '/uploads');
    const files = done.map((meta) => describe(meta, request));
    return reply.code(201).send({ ...files[0], files });
  });
}

/**
 * The key of the n-th file part: the signed exact key; else a `key` field sent before the
 * file; else `<prefix field or signed prefix><file name>`. An exact key takes one file only.
 */
function multipartKey(
  grant: ReturnType<typeof authorizeUpload>,
  fields: Record<string, string>,
  filename: string | undefined,
  index: number,
): string {
  const exact = grant.scope === 'key' ? grant.target : fields.key;
  if (exact !== undefined && index > 0) throw new TooManyParts('files: a single key takes one file');
  let key: string;
  if (exact !== undefined) key = exact;
  else {
    // Browsers send a bare name; some old ones a full client path (C:\fakepath\a.png).
    const name = (filename ?? '').split(/[\\/]/).pop() ?? '';
    if (name === '') throw new BadMultipart('a file part has no file name and no key field was sent');
    key = (fields.prefix ?? (grant.scope === 'prefix' ? grant.target : '')) + name;
  }
  assertUserKey(key);
  if (!grantCoversKey(grant, key)) throw new UploadSignatureWrongKey(key);
  return key;
}

function declaredLength(request: FastifyRequest): number | undefined {
  const raw = request.headers['content-length'];
  if (raw === undefined) return undefined;
  if (!/^\d{1,16}$/.test(raw)) throw new BadUploadRequest('Content-Length is not a number');
  return Number(raw);
}

/** @fastify/multipart and busboy failures → our codes (all client errors). */
function translateMultipartError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: string }).code;
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT')
    return new TooManyParts(code.slice(4).toLowerCase().replace('_limit', ''), { cause: err });
  if (code?.startsWith('FST_') && code !== 'FST_REQ_FILE_TOO_LARGE')
    return new BadMultipart(err.message, { cause: err });
  if (!isCodedError(err) || typeof (err as { statusCode?: unknown }).statusCode !== 'number') {
    // busboy's parse errors are plain Errors ("Unexpected end of form", "Malformed part header").
    if (/multipart|form|part header|boundary/i.test(err.message))
      return new BadMultipart(err.message, { cause: err });
  }
  return err;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
