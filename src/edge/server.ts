/**
 * Starts a listening edge: HTTP/1.1, cleartext HTTP/2 (h2c), or HTTPS with HTTP/2 and
 * HTTP/1.1 negotiated by ALPN. Raw node:http rather than a framework: the hit path is the
 * product, and every layer between the socket and the cached buffer costs throughput.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import {
  createServer as createH2Server,
  createSecureServer,
  type Http2SecureServer,
  type Http2Server,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import type { ConfigStore } from '../config/store.js';
import { CONNECTION_SWEEP_MS, handleClientError } from '../http/client-error.js';
import type { Logger } from '../logger.js';
import { buildEdge, type EdgeApp } from './app.js';
import type { WorkerLink } from './cluster/worker.js';

export interface RunningEdge {
  app: EdgeApp;
  url: string;
  server: Server | Http2Server | Http2SecureServer;
  shutdown(deadlineMs?: number): Promise<'clean' | 'deadline'>;
}

export async function startEdge(
  config: ConfigStore,
  logger: Logger,
  opts: {
    cwd?: string;
    port?: number;
    host?: string;
    originUrl?: string;
    functionsDir?: string;
    cluster?: WorkerLink;
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
  });
  // One listener for both APIs: the pipeline only uses what http and http2 compat share.
  const handler = app.edge.handle as unknown as (req: never, res: never) => void;
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
        headersTimeout: e.keepAliveTimeoutMs + 1000,
        // Node enforces headersTimeout/requestTimeout only on this sweep (default every 30 s,
        // so a slow client got up to 30 s more); one sweep a second keeps them within 1 s.
        connectionsCheckingInterval: CONNECTION_SWEEP_MS,
      },
      handler as never,
    );
    server = s;
  }
  if ('setTimeout' in server && (e.tls || e.h2c)) server.setTimeout(e.keepAliveTimeoutMs);
  // What Node's parser refuses (malformed, headers too large, too slow) gets the catalogue's
  // JSON like every other edge answer, not Node's empty 400/408/431 (src/http/client-error.ts).
  const log = logger.child({ module: 'edge' });
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
