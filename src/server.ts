/**
 * Starts a listening origin from a config: transport (HTTP/1.1, h2c, or HTTP/2 over TLS with
 * HTTP/1.1 fallback by ALPN), timeouts, storage, and graceful shutdown.
 *
 * Timeouts (README "Transport" explains each value):
 *   - keepAliveTimeout above every upstream's idle timeout (CloudFront 5 s default / 60 s max,
 *     ALB 60 s): the side that closes an idle connection first must be the client, or its next
 *     request races the close and becomes a 502 at the edge.
 *   - headersTimeout above keepAliveTimeout; requestTimeout server-wide at the upload deadline,
 *     the shorter non-upload deadline enforced per route (src/http/plugin.ts).
 *   - Fastify applies these to an HTTP/1 server only. An HTTP/2 server with `allowHTTP1`
 *     handles its HTTP/1.1 fallback connections with Node's HTTP/1 machinery, which reads
 *     `keepAliveTimeout` from the server object — unset there, so they are set here too.
 */
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Http2Session } from 'node:http2';
import type { FastifyInstance } from 'fastify';
import { buildOrigin } from './app.js';
import type { LiveConfig } from './config/live.js';
import type { ServerConfig } from './config/sections/server.js';
import { CONNECTION_SWEEP_MS } from './http/client-error.js';
import type { Logger } from './logger.js';
import { createStorage } from './storage/index.js';

export interface RunningOrigin {
  app: FastifyInstance;
  url: string;
  /** Stops accepting, lets in-flight requests finish within the deadline, then closes. */
  shutdown(deadlineMs?: number): Promise<'clean' | 'deadline'>;
}

/** How often idle HTTP/1.1 connections are reaped while draining (responses finish at any time). */
const DRAIN_REAP_MS = 100;

export function transportOptions(store: LiveConfig): Record<string, unknown> {
  const s = store.current.server;
  const common = {
    keepAliveTimeout: s.keepAliveTimeoutMs,
    // The whole-request bound must let uploads through; shorter routes are bounded per route.
    requestTimeout: Math.max(s.requestTimeoutMs, s.uploadTimeoutMs),
    connectionTimeout: 0,
    http2SessionTimeout: s.http2SessionTimeoutMs,
    // Node enforces headersTimeout/requestTimeout only on a sweep of open connections, every
    // 30 s by default (so up to 30 s late); every second keeps the 408 near its deadline.
    http: { connectionsCheckingInterval: CONNECTION_SWEEP_MS },
  };
  if (s.tls) {
    return {
      ...common,
      // Idle HTTP/1.1 fallback connections are closed at shutdown; sessions get GOAWAY (below).
      forceCloseConnections: 'idle',
      http2: true,
      https: { allowHTTP1: true, cert: readFileSync(s.tls.cert), key: readFileSync(s.tls.key) },
    };
  }
  // h2c has no HTTP/1 connections to reap; its sessions are closed by shutdown().
  if (s.h2c) return { ...common, forceCloseConnections: false, http2: true };
  return { ...common, forceCloseConnections: 'idle' };
}

type NodeServerTimeouts = Partial<Pick<HttpServer, 'keepAliveTimeout' | 'headersTimeout' | 'requestTimeout'>>;

/** HTTP/1 timeouts on whatever server Fastify built, including the HTTP/2 server's fallback path. */
export function applyServerTimeouts(server: unknown, s: ServerConfig): void {
  const target = server as NodeServerTimeouts;
  target.keepAliveTimeout = s.keepAliveTimeoutMs;
  target.requestTimeout = Math.max(s.requestTimeoutMs, s.uploadTimeoutMs);
  target.headersTimeout = s.headersTimeoutMs;
}

export async function startOrigin(
  store: LiveConfig,
  logger: Logger,
  cwd = process.cwd(),
  /** `edgewise dev`: the local edge's URL once it listens (src/uploads/public-base.ts). */
  devEdgeUrl?: () => string | undefined,
): Promise<RunningOrigin> {
  const config = store.current;
  const storage = await createStorage(config.storage, logger, cwd);
  const app = await buildOrigin({
    config: store,
    storage,
    logger,
    fastify: transportOptions(store),
    ...(devEdgeUrl ? { devEdgeUrl } : {}),
  });
  applyServerTimeouts(app.server, config.server);

  // HTTP/2 sessions, to send them GOAWAY on shutdown (Node 20's server.close waits for them).
  const sessions = new Set<Http2Session>();
  app.server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });

  await app.listen({ host: config.server.host, port: config.server.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const scheme = config.server.tls ? 'https' : 'http';
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `${scheme}://${host}:${port}`;

  let closing: Promise<'clean' | 'deadline'> | undefined;
  return {
    app,
    url,
    shutdown(deadlineMs = store.current.server.shutdownDeadlineMs) {
      closing ??= closeGracefully(app, logger, deadlineMs, sessions);
      return closing;
    },
  };
}

/**
 * Stops an origin the way a deploy needs: stop accepting, let requests in flight finish, and
 * end whatever is still open at the deadline. Used by `startOrigin` and by tests that build
 * an origin themselves, so both close alike.
 */
export function closeGracefully(
  app: FastifyInstance,
  logger: Logger,
  deadlineMs: number,
  sessions: ReadonlySet<Http2Session> = new Set(),
): Promise<'clean' | 'deadline'> {
  return new Promise((resolve) => {
    const server = app.server as unknown as {
      closeIdleConnections?: () => void;
      closeAllConnections?: () => void;
    };
    // Responses in flight when closing began leave their keep-alive connection idle when
    // they end; Node only reaps idle connections at close(), so keep reaping while draining
    // (without it such a connection holds close() open until its keep-alive timeout).
    const reaper = setInterval(() => server.closeIdleConnections?.(), DRAIN_REAP_MS);
    reaper.unref();
    const timer = setTimeout(() => {
      logger.warn({ deadlineMs }, 'shutdown deadline reached; closing remaining connections');
      server.closeAllConnections?.();
      for (const s of sessions) s.destroy();
      clearInterval(reaper);
      resolve('deadline');
    }, deadlineMs);
    timer.unref();
    // app.close: stop accepting, answer new requests on open connections with 503 +
    // Connection: close, wait for in-flight requests, run onClose hooks (storage close).
    app.close().then(
      () => {
        clearTimeout(timer);
        clearInterval(reaper);
        resolve('clean');
      },
      (err: unknown) => {
        logger.error({ err }, 'error while closing');
        clearTimeout(timer);
        clearInterval(reaper);
        resolve('deadline');
      },
    );
    // GOAWAY: no new streams on open sessions; streams in flight run to completion.
    for (const s of sessions) s.close();
  });
}
