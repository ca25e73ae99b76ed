/**
 * Starts a listening origin from a config: transport (HTTP/1.1, h2c, or HTTP/2 over TLS with
 * HTTP/1.1 fallback by ALPN), timeouts, storage, and graceful shutdown.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildOrigin } from './app.js';
import type { ConfigStore } from './config/store.js';
import type { Logger } from './logger.js';
import { createStorage } from './storage/index.js';

export interface RunningOrigin {
  app: FastifyInstance;
  url: string;
  /** Stops accepting, lets in-flight requests finish within the deadline, then closes. */
  shutdown(deadlineMs?: number): Promise<'clean' | 'deadline'>;
}

export function transportOptions(store: ConfigStore): Record<string, unknown> {
  const s = store.current.server;
  const common = {
    keepAliveTimeout: s.keepAliveTimeoutMs,
    // The whole-request bound must let uploads through; shorter routes are bounded per route.
    requestTimeout: Math.max(s.requestTimeoutMs, s.uploadTimeoutMs),
    connectionTimeout: 0,
    forceCloseConnections: 'idle',
  };
  if (s.tls) {
    return {
      ...common,
      http2: true,
      http2SessionTimeout: s.http2SessionTimeoutMs,
      https: { allowHTTP1: true, cert: readFileSync(s.tls.cert), key: readFileSync(s.tls.key) },
    };
  }
  if (s.h2c) return { ...common, http2: true, http2SessionTimeout: s.http2SessionTimeoutMs };
  return common;
}

export async function startOrigin(
  store: ConfigStore,
  logger: Logger,
  cwd = process.cwd(),
): Promise<RunningOrigin> {
  const config = store.current;
  const storage = await createStorage(config.storage, logger, cwd);
  const app = await buildOrigin({ config: store, storage, logger, fastify: transportOptions(store) });
  await app.listen({ host: config.server.host, port: config.server.port });
  const server = app.server as unknown as { headersTimeout?: number };
  if ('headersTimeout' in server) server.headersTimeout = config.server.headersTimeoutMs;
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
      closing ??= new Promise((resolve) => {
        const timer = setTimeout(() => {
          app.server.closeAllConnections?.();
          resolve('deadline');
        }, deadlineMs);
        timer.unref();
        app.close().then(
          () => {
            clearTimeout(timer);
            resolve('clean');
          },
          () => resolve('deadline'),
        );
      });
      return closing;
    },
  };
}
