/**
 * pino for everything: Fastify gets this instance, other modules take `logger.child({ module })`.
 * Credentials never reach a log line: auth headers and cookies are redacted, and signature
 * query parameters are cut from logged URLs.
 */
import { type Logger, pino } from 'pino';
import type { LoggingConfig } from './config/sections/logging.js';

const SECRET_QUERY =
  /([?&](?:Signature|Policy|Key-Pair-Id|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|sig|token)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]');
}

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
      censor: '[redacted]',
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
