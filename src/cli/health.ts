/**
 * `edgewise health`: the Docker HEALTHCHECK. It reads the same config as `serve` and asks the
 * origin's own listener for /healthz in the protocol that listener speaks: HTTP/1.1, h2c (prior
 * knowledge: an HTTP/1.1 request would be refused) or TLS (h2 or HTTP/1.1 by ALPN, as the server
 * offers both). A `fetch()` one-liner only spoke HTTP/1.1 over cleartext, so the check failed
 * whenever the origin ran h2c or TLS.
 */
import { request as httpRequest } from 'node:http';
import { constants as h2, connect as http2Connect } from 'node:http2';
import type { EdgewiseConfig } from '../config/schema.js';
import {
  type Command,
  configOption,
  configOptionHelp,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
} from './command.js';
import { durationOption } from './duration.js';
import { loadConfigOrReport } from './load.js';

type Mode = 'http1.1' | 'h2c' | 'tls';

/** Where the origin listens, seen from the same machine (a wildcard bind is reached on loopback). */
export function healthTarget(server: Readonly<EdgewiseConfig['server']>): { mode: Mode; origin: string } {
  const host = server.host === '0.0.0.0' ? '127.0.0.1' : server.host === '::' ? '::1' : server.host;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const mode: Mode = server.tls ? 'tls' : server.h2c ? 'h2c' : 'http1.1';
  return { mode, origin: `${mode === 'tls' ? 'https' : 'http'}://${hostPart}:${server.port}` };
}

/** Status of GET `path`; rejects on a connection failure or after `timeoutMs`. */
export function probe(mode: Mode, origin: string, path: string, timeoutMs: number): Promise<number> {
  if (mode === 'http1.1') {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${origin}${path}`, { timeout: timeoutMs }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }
  return new Promise((resolve, reject) => {
    // TLS: this is a liveness probe of the process on this machine, over loopback, not a check
    // of the certificate (whose name is the public one, not 127.0.0.1): it is not verified.
    const session = http2Connect(origin, mode === 'tls' ? { rejectUnauthorized: false } : {});
    const timer = setTimeout(() => session.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    session.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const stream = session.request({ [h2.HTTP2_HEADER_PATH]: path });
    stream.on('response', (headers) => {
      clearTimeout(timer);
      resolve(Number(headers[h2.HTTP2_HEADER_STATUS]));
      stream.resume();
      session.close();
    });
    stream.on('error', () => {});
    stream.end();
  });
}

export const health: Command = {
  path: ['health'],
  summary:
    "Ask the origin configured in server.* for /healthz, in the protocol it serves (HTTP/1.1, h2c or TLS); exit 0 when it answers 2xx, 1 when not. The image's HEALTHCHECK.",
  usage: '[--config <file>] [--path /healthz|/readyz] [--timeout 2s]',
  options: { ...configOption, path: { type: 'string' }, timeout: { type: 'string' } },
  optionHelp: {
    ...configOptionHelp,
    path: 'Endpoint to ask: /healthz (the process answers, default) or /readyz (storage reachable too)',
    timeout: 'Give up after this long, a duration (default 2s: under the HEALTHCHECK --timeout of 3s)',
  },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const path = (values.path as string | undefined) ?? '/healthz';
    if (path !== '/healthz' && path !== '/readyz') throw new UsageError('--path must be /healthz or /readyz');
    const timeoutMs = durationOption(String(values.timeout ?? '2s'), '--timeout');
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const { mode, origin } = healthTarget(store.current.server);
    try {
      const status = await probe(mode, origin, path, timeoutMs);
      const ok = status >= 200 && status < 300;
      (ok ? process.stdout : process.stderr).write(
        `${ok ? 'ok' : 'unhealthy'}: ${status} from ${origin}${path} (${mode})\n`,
      );
      return ok ? EXIT_OK : EXIT_FAILURE;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      process.stderr.write(`unhealthy: ${origin}${path} (${mode}): ${e.code ?? e.message}\n`);
      return EXIT_FAILURE;
    }
  },
};
