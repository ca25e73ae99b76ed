/**
 * Builds the origin application without listening (fastify docs/Guides/Testing.md): tests
 * and the CLI call `listen` themselves.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { LiveConfig } from './config/live.js';
import './context.js';
import { BadPath, Internal, isCodedError, NotFound } from './errors.js';
import { handleClientError } from './http/client-error.js';
import { pathError } from './http/path.js';
import { servingPlugin } from './http/plugin.js';
import { lazyChildLogger } from './http/request-logger.js';
import { absoluteFormTarget } from './http/request-target.js';
import type { Logger } from './logger.js';
import { createMetrics, type EdgewiseMetrics, instrumentStorage } from './metrics.js';
import { contentRoutes } from './routes/content.js';
import { corsRoutes } from './routes/cors.js';
import { demoUploadRoutes } from './routes/demo-uploads.js';
import { healthRoutes } from './routes/health.js';
import { imageRoutes } from './routes/images.js';
import { metricsRoutes } from './routes/metrics.js';
import { resumableRoutes } from './routes/multipart-resumable.js';
import { pageRoutes } from './routes/page.js';
import { signedUrlRoutes } from './routes/signed-urls.js';
import { uploadUrlRoutes } from './routes/upload-urls.js';
import { uploadRoutes } from './routes/uploads.js';
import type { StorageDriver } from './storage/types.js';

export interface BuildOriginOptions {
  config: LiveConfig;
  storage: StorageDriver;
  logger: Logger;
  /** Extra Fastify server options (transport: http2, https, timeouts), set by src/server.ts. */
  fastify?: Partial<FastifyServerOptions> & Record<string, unknown>;
  /** Metrics registry to record into; a fresh one per app when absent. */
  metrics?: EdgewiseMetrics;
  /** Set by `edgewise dev`: the local edge's URL once it listens (upload answers point there). */
  devEdgeUrl?: () => string | undefined;
}

export async function buildOrigin(options: BuildOriginOptions): Promise<FastifyInstance> {
  let seq = 0;
  const app = fastify({
    loggerInstance: options.logger,
    // request.log is made on first use: most requests never log (src/http/request-logger.ts).
    childLoggerFactory: lazyChildLogger,
    // The request id in the origin's logs is the edge's X-Amz-Cf-Id when there is one (the local
    // edge sends it as CloudFront does), so an edge log line and an origin log line join on it.
    // Only a plausible id is taken (CloudFront's are base64url, 56 characters).
    requestIdHeader: false,
    genReqId(req: IncomingMessage): string {
      const id = req.headers['x-amz-cf-id'];
      return typeof id === 'string' && /^[A-Za-z0-9_=-]{1,128}$/.test(id)
        ? id
        : `req-${(++seq).toString(36)}`;
    },
    // Keys may be long and contain unicode; the storage layer enforces its own 1024-byte cap.
    routerOptions: { maxParamLength: 2048 },
    // The router refuses a URL it cannot decode (FST_ERR_BAD_URL: invalid UTF-8, malformed
    // escapes) before any hook runs; answer it as every other bad path is answered.
    frameworkErrors: (err: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply) => {
      const shown =
        err.code === 'FST_ERR_BAD_URL'
          ? new BadPath('malformed percent-encoding or invalid UTF-8')
          : new Internal();
      request.log.info({ code: shown.code, reason: err.message }, 'request rejected');
      void reply
        .code(shown.statusCode)
        .header('cache-control', 'no-store')
        .send({ statusCode: shown.statusCode, code: shown.code, message: shown.message });
    },
    // Absolute-form targets (RFC 9112 §3.2.2) become the origin-form request they name, before
    // routing; one that cannot (another scheme, no host, userinfo) keeps its target and is
    // refused by the path hook below. Asterisk-form (`OPTIONS *`) is left as it is.
    rewriteUrl(this: FastifyInstance, req: IncomingMessage): string {
      const url = req.url ?? '/';
      if (url.charCodeAt(0) === 0x2f /* / */ || url === '*') return url;
      const target = absoluteFormTarget(url);
      if (target.kind === 'invalid') return url;
      req.headers.host = target.authority;
      return target.url;
    },
    // Node's parser and timeout refusals, answered as the edge answers them: catalogue JSON
    // (Fastify's default has no code), Connection: close.
    clientErrorHandler(this: FastifyInstance, err: Error, socket: Duplex) {
      handleClientError(err, socket, this.log, this.server);
    },
    ...(options.fastify ?? {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;
  const metrics = options.metrics ?? createMetrics();
  app.decorate('edgewise', {
    config: options.config,
    storage: instrumentStorage(options.storage, metrics),
    metrics,
    ...(options.devEdgeUrl ? { devEdgeUrl: options.devEdgeUrl } : {}),
  });

  app.setErrorHandler((err, request, reply) => {
    const status = isCodedError(err) && typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 500) request.log.error({ err }, 'request failed');
    else
      request.log.info(
        { code: (err as { code?: string }).code, reason: (err as Error).message },
        'request rejected',
      );
    if (reply.sent || reply.raw.headersSent) {
      // Mid-stream failure: the only honest signal left is to cut the connection.
      reply.raw.destroy(err instanceof Error ? err : undefined);
      return;
    }
    const known = isCodedError(err) && typeof err.statusCode === 'number';
    const shown = known ? err : new Internal();
    const code = shown.code;
    const message = shown.message;
    void reply.code(status).send({ statusCode: status, code, message });
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new NotFound(request.url.split('?')[0]);
    void reply
      .code(err.statusCode)
      .send({ statusCode: err.statusCode, code: err.code, message: err.message });
  });

  // First of all: a path that is not canonical is refused on every route (src/http/path.ts), so
  // no spelling can reach an object under a different content class than the edge chose.
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.url;
    let err: ReturnType<typeof pathError>;
    if (url.charCodeAt(0) === 0x2f /* / */) {
      const q = url.indexOf('?');
      err = pathError(q === -1 ? url : url.slice(0, q));
    } else if (url === '*') {
      return done();
    } else {
      // Not origin-form after rewriteUrl: an absolute-form target it could not use.
      const target = absoluteFormTarget(url);
      err = new BadPath(target.kind === 'invalid' ? target.reason : 'unusable request target');
    }
    if (!err) return done();
    request.log.info({ code: err.code, reason: err.message }, 'request rejected');
    void reply
      .code(err.statusCode)
      .header('cache-control', 'no-store')
      .send({ statusCode: err.statusCode, code: err.code, message: err.message });
  });
  await app.register(metricsRoutes);
  // Before servingPlugin: CORS headers must already be on a response that load shedding ends.
  await app.register(corsRoutes);
  await app.register(servingPlugin);
  await app.register(healthRoutes);
  await app.register(uploadRoutes);
  await app.register(uploadUrlRoutes, { driver: options.storage });
  await app.register(resumableRoutes, { driver: options.storage });
  await app.register(imageRoutes);
  await app.register(signedUrlRoutes);
  // Dev only (`edgewise serve` refuses dev.demoUploads): the upload demo page and its signer.
  if (options.config.current.dev.demoUploads) {
    await app.register(pageRoutes);
    await app.register(demoUploadRoutes, { driver: options.storage });
  }
  await app.register(contentRoutes);
  app.addHook('onClose', async () => {
    await options.storage.close();
  });
  return app;
}
