/**
 * Starts a listening edge: HTTP/1.1, cleartext HTTP/2 (h2c), or HTTPS with HTTP/2 and
 * HTTP/1.1 negotiated by ALPN. Raw node:http rather than a framework: the hit path is the
 * product, and every layer between the socket and the cached buffer costs throughput.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createH2Server,
  createSecureServer,
  type Http2SecureServer,
  type Http2Server,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import { isUploadPath } from '../cloudfront/methods.js';
import type { LiveConfig } from '../config/live.js';
import { CONNECTION_SWEEP_MS, handleClientError } from '../http/client-error.js';
import { hasRequestBody } from '../http/request-body.js';
import type { Logger } from '../logger.js';
import { isAdminPath } from './admin.js';
import { buildEdge, type EdgeApp } from './app.js';
import type { WorkerLink } from './cluster/worker.js';
import { serveStreams } from './h2-stream.js';

export interface RunningEdge {
  app: EdgeApp;
  url: string;
  server: Server | Http2Server | Http2SecureServer;
  shutdown(deadlineMs?: number): Promise<'clean' | 'deadline'>;
}

type NodeServerTimeouts = Partial<Pick<Server, 'headersTimeout' | 'requestTimeout'>>;

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

/**
 * Node's own request timeout, for one request with a shorter limit: when the body has not
 * arrived in `limitMs`, the connection gets what Node's sweep would give it, a clientError
 * ERR_HTTP_REQUEST_TIMEOUT (answered 408 with the catalogue's JSON, then closed).
 */
function bodyDeadline(
  req: IncomingMessage,
  limitMs: number,
  expire: (err: Error & { code: string }) => void,
) {
  const timer = setTimeout(() => {
    if (req.complete) return;
    expire(Object.assign(new Error('request body timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }));
  }, limitMs);
  timer.unref();
  const clear = () => clearTimeout(timer);
  req.once('end', clear);
  req.once('close', clear);
}

export async function startEdge(
  config: LiveConfig,
  logger: Logger,
  opts: {
    cwd?: string;
    port?: number;
    host?: string;
    originUrl?: string;
    functionsDir?: string;
    cluster?: WorkerLink;
    /** `edgewise dev` (BuildEdgeOptions.loopbackOperators). */
    loopbackOperators?: boolean;
  } = {},
): Promise<RunningEdge> {
  const e = config.current.edge;
  const app = buildEdge({
    config,
    logger,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.originUrl ? { originUrl: opts.originUrl } : {}),
    ...(opts.functionsDir ? { functionsDir: opts.functionsDir } : {}),
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
    ...(opts.loopbackOperators ? { loopbackOperators: true } : {}),
  });
  const log = logger.child({ module: 'edge' });
  // Request deadlines, as at the origin (src/server.ts): Node's requestTimeout is one value per
  // server, so it is the upload deadline (server.uploadTimeoutMs: upload routes legitimately
  // last long; Node's default of 300 s cut them), and the shorter server.requestTimeoutMs is
  // enforced here for the bodies of every other path. Upload paths are the upload behaviors'
  // (src/cloudfront/methods.ts), the same rule that sends them through uncached.
  const s = config.current.server;
  const headersTimeout = e.keepAliveTimeoutMs + 1000;
  const requestTimeout = Math.max(s.requestTimeoutMs, s.uploadTimeoutMs, headersTimeout);
  const edgeHandle = app.edge.handle as unknown as (req: IncomingMessage, res: ServerResponse) => void;
  const timeouts: NodeServerTimeouts = { headersTimeout, requestTimeout };
  const shortDeadline = { headersTimeout, requestTimeout: s.requestTimeoutMs };
  // One listener for both APIs: the pipeline only uses what http and http2 compat share.
  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersionMajor < 2 && hasRequestBody(req) && !isUploadPath(pathOf(req.url), config.current.dev))
      bodyDeadline(req, s.requestTimeoutMs, (err) => handleClientError(err, req.socket, log, shortDeadline));
    edgeHandle(req, res);
  }) as unknown as (req: never, res: never) => void;
  let server: Server | Http2Server | Http2SecureServer;
  if (e.tls) {
    server = createSecureServer(
      { allowHTTP1: true, cert: readFileSync(e.tls.cert), key: readFileSync(e.tls.key) },
      handler as never,
    );
  } else if (e.h2c) {
    server = createH2Server({}, handler as never);
  } else {
    const s = createServer(
      {
        keepAliveTimeout: e.keepAliveTimeoutMs,
        ...timeouts,
        // Node enforces headersTimeout/requestTimeout only on this sweep (default every 30 s,
        // so a slow client got up to 30 s more); one sweep a second keeps them within 1 s.
        connectionsCheckingInterval: CONNECTION_SWEEP_MS,
      },
      handler as never,
    );
    server = s;
  }
  if (e.tls || e.h2c) {
    // Bodiless GET/HEAD streams through the core stream API (src/edge/h2-stream.ts), the rest
    // through the compat objects `handler` was given above.
    serveStreams(server as Http2Server | Http2SecureServer, edgeHandle as never, {
      isOwnRoute: (path) => isAdminPath(path, config.current.edge.metricsPath),
      // The deadlines HTTP/1.1 requests get above: the upload deadline on upload paths.
      deadlineMs: (path) =>
        isUploadPath(path, config.current.dev)
          ? Math.max(s.requestTimeoutMs, s.uploadTimeoutMs)
          : s.requestTimeoutMs,
      log,
    });
  }
  if ('setTimeout' in server && (e.tls || e.h2c)) server.setTimeout(e.keepAliveTimeoutMs);
  // The TLS server's HTTP/1.1 fallback connections run on Node's HTTP/1 machinery, which reads
  // these from the server object (Node 20 sets 300 s there otherwise).
  if (e.tls) Object.assign(server, { keepAliveTimeout: e.keepAliveTimeoutMs, ...timeouts });
  // What Node's parser refuses (malformed, headers too large, too slow) gets the catalogue's
  // JSON like every other edge answer, not Node's empty 400/408/431 (src/http/client-error.ts).
  server.on('clientError', (err: Error, socket: Duplex) => handleClientError(err, socket, log, server));
  const host = opts.host ?? e.host;
  const port = opts.port ?? e.port;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const h = host.includes(':') ? `[${host}]` : host;
  const url = `${e.tls ? 'https' : 'http'}://${h}:${bound}`;
  let closing: Promise<'clean' | 'deadline'> | undefined;
  return {
    app,
    url,
    server,
    shutdown(deadlineMs = config.current.edge.shutdownDeadlineMs) {
      closing ??= new Promise((resolve) => {
        const timer = setTimeout(() => {
          (server as Server).closeAllConnections?.();
          resolve('deadline');
        }, deadlineMs);
        timer.unref();
        (server as Server).closeIdleConnections?.();
        server.close(() => {
          clearTimeout(timer);
          app.close().then(
            () => resolve('clean'),
            () => resolve('clean'),
          );
        });
      });
      return closing;
    },
  };
}
