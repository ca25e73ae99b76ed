/**
 * Transport-level behaviour of the origin app, as one plugin registered by src/app.ts:
 *   - `X-Content-Type-Options: nosniff` on every response (content safety);
 *   - @fastify/compress for on-the-fly compression, used by sendObject through
 *     `reply.compress` (never as a global hook, so sendObject alone decides what is compressed);
 *   - @fastify/under-pressure: 503 + Retry-After with EDGEWISE_OVERLOADED past the configured
 *     load limits; /healthz and /metrics stay answerable so operators can see the overload;
 *   - the per-route request-body deadline (Node's requestTimeout is server-wide and must be the
 *     long upload deadline, so the short one is enforced here for every other route).
 */
import { constants as zlib } from 'node:zlib';
import compress from '@fastify/compress';
import underPressure from '@fastify/under-pressure';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Overloaded, RequestTimeout } from '../errors.js';
import { isCompressible } from './encoding.js';
import { type BodyFraming, hasRequestBody } from './request-body.js';

/** Routes that answer even under overload: liveness must not fail because the process is busy. */
const PRESSURE_EXEMPT = new Set(['/healthz', '/metrics']);
/** Upload routes live under this prefix and get server.uploadTimeoutMs instead. */
export const UPLOAD_PREFIX = '/uploads';

const plugin: FastifyPluginAsync = async (app) => {
  const { config, metrics } = app.edgewise;
  const server = config.current.server; // restart-only section: read once

  await app.register(compress, {
    global: false,
    // Pinned: with no list, @fastify/compress offers zstd first on Node ≥ 22.15, which this
    // origin neither stores nor wants the edge to cache separately.
    encodings: ['br', 'gzip'],
    brotliOptions: { params: { [zlib.BROTLI_PARAM_QUALITY]: server.compression.brotliQuality } },
    zlibOptions: { level: server.compression.gzipLevel },
    threshold: server.compression.thresholdBytes,
    customTypes: (type: string) => isCompressible(type),
  });

  const { overload } = server;
  const retryAfter = overload.retryAfterSeconds;
  await app.register(underPressure, {
    maxEventLoopDelay: overload.maxEventLoopDelayMs,
    maxEventLoopUtilization: overload.maxEventLoopUtilization,
    maxHeapUsedBytes: overload.maxHeapUsedBytes,
    maxRssBytes: overload.maxRssBytes,
    sampleInterval: overload.sampleIntervalMs,
    retryAfter,
    pressureHandler: (request: FastifyRequest, reply: FastifyReply, type: string, value?: number) => {
      if (PRESSURE_EXEMPT.has(request.url.split('?', 1)[0] ?? '')) return;
      metrics.overloadRejections.inc();
      const err = new Overloaded(value === undefined ? type : `${type}=${round(value)}`, retryAfter);
      request.log.warn({ code: err.code, type, value }, 'shedding load');
      // Sent here rather than returned: Fastify stops the request once the reply is sent.
      void reply
        .code(err.statusCode)
        .header('retry-after', String(retryAfter))
        .header('cache-control', 'no-store')
        .send({ statusCode: err.statusCode, code: err.code, message: err.message });
    },
  });

  // One hook for both per-request duties (a hook per duty costs a call each on the hot path):
  // nosniff on every response, and the body deadline outside upload routes. GET/HEAD have no
  // body and are bounded by headersTimeout; a slow body elsewhere (slowloris) is cut at
  // requestTimeoutMs.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-content-type-options', 'nosniff');
    const raw = request.raw;
    if (!hasRequestBody(raw as BodyFraming) || isUploadPath(request.url)) return done();
    const limit = config.current.server.requestTimeoutMs;
    const timer = setTimeout(() => {
      if (raw.readableEnded) return;
      const err = new RequestTimeout(`body not received within ${limit} ms`);
      request.log.info({ code: err.code }, 'request body too slow');
      if (reply.sent) {
        // Answered already (e.g. 404) while the body still trickles in: just drop it.
        raw.destroy(); // HTTP/1: the socket; HTTP/2: only this stream
        return;
      }
      // HTTP/1.1: Connection: close makes Node end the socket once the 408 is flushed. HTTP/2
      // forbids connection-specific headers (RFC 9113 §8.2.2); ending the stream is enough there.
      if (raw.httpVersionMajor < 2) reply.header('connection', 'close');
      else {
        // RFC 9113 §8.1: after a complete response the server may RST_STREAM(NO_ERROR) to
        // tell the client to stop sending the body; without it the stream (and the session's
        // graceful close) waits for a body that is not coming.
        // The compat response's 'finish' waits for the whole stream to close, so listen on
        // the stream's own writable side.
        const stream = (raw as unknown as { stream?: NodeJS.EventEmitter & { close(code?: number): void } })
          .stream;
        stream?.once('finish', () => stream.close(0));
      }
      void reply
        .code(err.statusCode)
        .header('cache-control', 'no-store')
        .send({ statusCode: err.statusCode, code: err.code, message: err.message });
    }, limit);
    timer.unref();
    raw.once('end', () => clearTimeout(timer));
    raw.once('close', () => clearTimeout(timer));
    done();
  });
};

function isUploadPath(url: string): boolean {
  if (!url.startsWith(UPLOAD_PREFIX)) return false;
  const next = url.charCodeAt(UPLOAD_PREFIX.length);
  return Number.isNaN(next) || next === 0x2f /* / */ || next === 0x3f /* ? */;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

export const servingPlugin = fp(plugin, { name: 'edgewise-serving', fastify: '5.x' });
