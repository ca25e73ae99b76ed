/**
 * Sends one stored object with full HTTP semantics: validators, conditional requests
 * (src/http/conditional.ts), single byte ranges (src/http/range.ts), the stored Brotli/gzip
 * variant chosen by Accept-Encoding or on-the-fly compression (src/http/encoding.ts), and the
 * Cache-Control and safety headers of its content class. Shared by the content route and the
 * image route (which passes `vary: ['Accept']` for negotiated formats).
 *
 * Storage calls: a plain GET (no conditionals, no Range, no acceptable coding) is one `get`.
 * Anything that may change which bytes are sent asks for the metadata first (`head`), decides,
 * and reads only what it will send: a 304/412/416 reads no body, a range is read as a storage
 * range, never by skipping bytes.
 */
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { cacheControlFor } from '../cache-control.js';
import type { EdgewiseConfig } from '../config/schema.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import {
  type CodedError,
  NotFound,
  PreconditionFailed,
  RangeNotSatisfiable,
  StorageUnavailable,
} from '../errors.js';
import { contentSafetyHeaders } from '../http/active-content.js';
import { hasPreconditions, selectRepresentation, type Validators } from '../http/conditional.js';
import { acceptableCodings, type Coding, isCompressible } from '../http/encoding.js';
import { contentRange } from '../http/range.js';
import { encodedVariantKey } from '../storage/keys.js';
import type { ByteRange, ObjectMeta, StorageDriver, StoredObject } from '../storage/types.js';

export interface SendObjectOptions {
  storage: StorageDriver;
  key: string;
  cls: ContentClassConfig;
  /** URL path, for the fingerprint check and error messages. */
  path: string;
  /** Extra Vary tokens (e.g. 'Accept' for a negotiated image format). */
  vary?: string[];
}

/** How many times a read is retried when the object is replaced between `head` and `get`. */
const MAX_ATTEMPTS = 3;

/** Per config: which classes are user content, which are trusted with active content. */
const classSets = new WeakMap<object, { user: ReadonlySet<string>; trusted: ReadonlySet<string> }>();
function classRoles(config: Readonly<EdgewiseConfig>, cls: ContentClassConfig) {
  let sets = classSets.get(config.server);
  if (!sets) {
    sets = {
      user: new Set(config.server.userContentClasses),
      trusted: new Set(config.server.trustedActiveContentClasses),
    };
    classSets.set(config.server, sets);
  }
  return { userContent: sets.user.has(cls.name), trusted: sets.trusted.has(cls.name) };
}

// Last-Modified formatting memo: most requests hit a few hot objects.
const httpDates = new Map<number, string>();
function httpDate(d: Date): string {
  const t = d.getTime();
  let s = httpDates.get(t);
  if (s === undefined) {
    s = d.toUTCString();
    if (httpDates.size >= 4096) httpDates.clear();
    httpDates.set(t, s);
  }
  return s;
}

function mergeVary(
  existing: unknown,
  extra: string[] | undefined,
  acceptEncoding: boolean,
): string | undefined {
  if (existing === undefined && extra === undefined) return acceptEncoding ? 'accept-encoding' : undefined;
  const tokens: string[] = [];
  const add = (t: string) => {
    const v = t.trim();
    if (v && !tokens.some((x) => x.toLowerCase() === v.toLowerCase())) tokens.push(v);
  };
  if (typeof existing === 'string') for (const t of existing.split(',')) add(t);
  else if (Array.isArray(existing)) for (const e of existing) for (const t of String(e).split(',')) add(t);
  if (extra) for (const t of extra) add(t);
  // Lowercase: @fastify/compress looks for this exact spelling before adding its own.
  if (acceptEncoding) add('accept-encoding');
  return tokens.length > 0 ? tokens.join(', ') : undefined;
}

/** A coded error response that no cache should keep (it describes this request, not the object). */
function refuse(
  reply: FastifyReply,
  err: CodedError & { statusCode: number },
  body?: Readable,
): FastifyReply {
  body?.destroy();
  return reply
    .code(err.statusCode)
    .header('cache-control', 'no-store')
    .send({ statusCode: err.statusCode, code: err.code, message: err.message });
}

export async function sendObject(
  request: FastifyRequest,
  reply: FastifyReply,
  opts: SendObjectOptions,
): Promise<FastifyReply> {
  const { storage, key, cls, path } = opts;
  request.edgewiseClass = cls.name;
  const config = request.server.edgewise.config.current;
  const headers = request.headers;
  const isHead = request.method === 'HEAD';
  // RFC 9110 §14.2: Range is defined for GET only; HEAD ignores it.
  const rangeHeader = isHead ? undefined : headers.range;
  const conditional = hasPreconditions(headers);
  const codings: Coding[] = cls.compress ? acceptableCodings(headers['accept-encoding']) : [];
  const varyBase = reply.getHeader('vary');

  for (let attempt = 1; ; attempt++) {
    // 1. Metadata (and, on the fast path, the body in the same call).
    let src: StoredObject | undefined;
    let meta: ObjectMeta | undefined;
    if (!isHead && rangeHeader === undefined && codings.length === 0 && !conditional) {
      src = await storage.get(key);
      meta = src?.meta;
    } else {
      meta = await storage.head(key);
    }
    if (!meta) throw new NotFound(path);

    // 2. Which representation: a stored variant, on-the-fly compression, or the object itself.
    const compressible =
      cls.compress && meta.contentEncoding === undefined && isCompressible(meta.contentType);
    let rep = meta;
    let coding: Coding | undefined;
    let onTheFly = false;
    if (compressible && codings.length > 0) {
      // Any acceptable stored variant beats compressing now: it costs no CPU and is smaller.
      for (const c of codings) {
        const v = await storage.head(encodedVariantKey(key, c));
        // A variant is only valid for the exact source bytes it was made from.
        if (v && v.metadata['source-etag'] === meta.etag && (v.contentEncoding ?? c) === c) {
          rep = v;
          coding = c;
          break;
        }
      }
      if (
        coding === undefined &&
        rangeHeader === undefined && // never compress a 206: Content-Range counts identity bytes
        meta.size > config.server.compression.thresholdBytes &&
        headers['x-no-compression'] === undefined &&
        typeof reply.compress === 'function' // routes registered before the serving plugin lack it
      ) {
        coding = codings[0];
        onTheFly = true;
      }
    }

    // 3. Validators. A stored variant has its own strong ETag (its own bytes); bytes compressed
    // now are not byte-identical across zlib versions/levels, so their ETag is weak (§8.8.1).
    const etag = onTheFly ? `W/${meta.etag}` : rep.etag;
    const lastModifiedHttp = httpDate(meta.lastModified);
    const validators: Validators = { etag, lastModified: meta.lastModified.getTime() };
    const vary = mergeVary(varyBase, opts.vary, compressible);
    const roles = classRoles(config, cls);
    const userContent = roles.userContent;
    reply
      .header('etag', etag)
      .header('last-modified', lastModifiedHttp)
      .header('cache-control', cacheControlFor(cls, path, userContent));
    if (vary !== undefined) reply.header('vary', vary);

    // 4–5. Preconditions (RFC 9110 §13.2.2), then Range with If-Range: the rules the edge's
    // cache hits follow too (src/http/conditional.ts). HEAD ignores Range (§14.2).
    const selection = selectRepresentation(request.method, headers, validators, rep.size);
    if (selection.kind === 'failed')
      return refuse(reply, new PreconditionFailed('If-Match/If-Unmodified-Since'), src?.body);
    if (selection.kind === 'not-modified') {
      src?.body.destroy();
      // §15.4.5: a 304 carries the validators and caching fields of the 200, no content.
      return reply.code(304).send();
    }
    if (selection.kind === 'unsatisfiable') {
      reply.header('content-range', `bytes */${rep.size}`);
      return refuse(reply, new RangeNotSatisfiable(rep.size), src?.body);
    }
    let range: ByteRange | undefined = selection.kind === 'partial' ? selection.range : undefined;

    // 6. Representation headers.
    reply.header('content-type', meta.contentType);
    // Active types are sandboxed in every class, not only user content (src/http/active-content.ts).
    const safety = contentSafetyHeaders(meta.contentType, roles);
    for (const [name, value] of Object.entries(safety)) reply.header(name, value);
    const storedEncoding = coding && !onTheFly ? coding : meta.contentEncoding;
    if (storedEncoding) reply.header('content-encoding', storedEncoding);
    if (!onTheFly) reply.header('accept-ranges', 'bytes');

    if (isHead) {
      if (onTheFly) reply.header('content-encoding', coding!);
      else reply.header('content-length', rep.size);
      return reply.code(200).send();
    }

    // 7. Body: reuse the fast-path read, or read exactly the chosen bytes. A driver that holds
    // the bytes in memory (fs hot cache) hands them over as a Buffer: sent as is, no stream.
    let body: StoredObject;
    if (src && rep === meta && range === undefined) {
      body = src;
    } else {
      src?.body.destroy();
      const got = await storage.get(rep.key, range ? { range } : undefined);
      if (!got || got.meta.etag !== rep.etag) {
        // Replaced or deleted between head and get: decide again against the new object.
        got?.body.destroy();
        for (const h of [
          'content-encoding',
          'content-disposition',
          'content-security-policy',
          'accept-ranges',
        ])
          reply.removeHeader(h);
        if (attempt >= MAX_ATTEMPTS) throw new StorageUnavailable('object kept changing while being read');
        continue;
      }
      body = got;
      if (range) range = got.range ?? range;
    }

    if (range) {
      reply
        .code(206)
        .header('content-range', contentRange(range, rep.size))
        .header('content-length', range.end - range.start + 1);
      return reply.send(body.bytes ?? body.body);
    }
    if (onTheFly) {
      // @fastify/compress negotiates with the same library and list, sets Content-Encoding
      // and Vary, and streams through zlib (encodings pinned to br, gzip in src/http/plugin.ts).
      reply.removeHeader('content-length');
      reply.code(200).compress(body.body);
      return reply;
    }
    reply.header('content-length', rep.size);
    return reply.code(200).send(body.bytes ?? body.body);
  }
}
