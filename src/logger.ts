/**
 * pino for everything: Fastify gets this instance, other modules take `logger.child({ module })`.
 * Credentials never reach a log line: auth headers and cookies are redacted, and signature
 * query parameters are cut from logged URLs (src/redact.ts, shared with the edge's access logs).
 */
import { type Logger, pino } from 'pino';
import type { LoggingConfig } from './config/sections/logging.js';
import { REDACTED, redactUrl } from './redact.js';

export function createLogger(config: LoggingConfig, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-api-key"]',
        'res.headers["set-cookie"]',
        '*.secret',
        '*.secrets',
        '*.apiKey',
        '*.apiKeys',
        '*.privateKey',
      ],
      censor: REDACTED,
    },
    serializers: {
      req(req: {
        method: string;
        url: string;
        hostname?: string;
        ip?: string;
        headers?: Record<string, unknown>;
      }) {
        return { method: req.method, url: redactUrl(req.url), host: req.hostname, remoteAddress: req.ip };
      },
    },
  };
  if (destination) return pino(options, destination);
  if (config.pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino(options);
}

export type { Logger };
