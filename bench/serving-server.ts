/**
 * Child process for bench/serving.ts: starts one server and prints `{"port":N}` on stdout, so
 * the load generator never shares an event loop with the server it measures.
 *
 *   node dist/bench/serving-server.js edgewise <dataDir> [cert key]
 *   node dist/bench/serving-server.js edgewise-nohot <dataDir> [cert key]   (storage.fs.hotCache off)
 *   node dist/bench/serving-server.js static <rootDir> [cert key]
 *   node dist/bench/serving-server.js bare <rootDir>     (node:http answering from buffers)
 *
 * With cert and key, the server is HTTP/2 over TLS (HTTP/1.1 fallback by ALPN).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastify from 'fastify';
import { LiveConfig } from '../src/config/live.js';
import { buildConfig } from '../src/config/load.js';
import { createLogger } from '../src/logger.js';
import { startOrigin } from '../src/server.js';

async function main(): Promise<void> {
  const [kind, dir, cert, key] = process.argv.slice(2);
  if (!dir || !['edgewise', 'edgewise-nohot', 'static', 'bare'].includes(kind ?? '')) {
    process.stderr.write('usage: serving-server edgewise|edgewise-nohot|static|bare <dir> [cert key]\n');
    process.exit(2);
  }
  const tls = cert && key ? { cert, key } : undefined;
  let port: number;
  if (kind === 'edgewise' || kind === 'edgewise-nohot') {
    const loaded = buildConfig(
      {
        server: { host: '127.0.0.1', port: 0, ...(tls ? { tls } : {}) },
        storage: {
          driver: 'fs',
          fs: { dataDir: dir, ...(kind === 'edgewise-nohot' ? { hotCache: { maxBytes: 0 } } : {}) },
        },
        logging: { level: 'warn' },
      },
      undefined,
    );
    const store = new LiveConfig(loaded);
    const origin = await startOrigin(store, createLogger(store.current.logging));
    port = Number(new URL(origin.url).port);
    process.on('SIGTERM', () => void origin.shutdown(1000).then(() => process.exit(0)));
  } else if (kind === 'bare') {
    // The floor: what Node itself costs to answer with these bytes from memory (no file system,
    // no framework), with the headers a cache needs.
    const bodies = new Map<string, Buffer>();
    for (const f of readdirSync(dir)) bodies.set(`/static/${f}`, readFileSync(join(dir, f)));
    const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      const body = bodies.get(req.url ?? '');
      if (!body) {
        res.writeHead(404, { 'content-length': 0 });
        res.end();
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': body.length,
        etag: '"bare"',
        'cache-control': 'public, max-age=3600',
      });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    port = typeof addr === 'object' && addr ? addr.port : 0;
    process.on('SIGTERM', () => {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    });
  } else {
    // Same plugin, same root; only the transport differs between the two shapes.
    const app = (tls
      ? fastify({
          logger: false,
          http2: true,
          https: { allowHTTP1: true, cert: readFileSync(tls.cert), key: readFileSync(tls.key) },
        })
      : fastify({ logger: false, keepAliveTimeout: 65_000 })) as unknown as ReturnType<typeof fastify>;
    await app.register(fastifyStatic, { root: dir, prefix: '/static/' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    port = typeof addr === 'object' && addr ? addr.port : 0;
    process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
  }
  // CPU time on request over IPC: the parent measures CPU per request, which — unlike req/s —
  // does not depend on how much of the machine other processes happen to be using.
  process.on('message', (m) => {
    if (m === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  });
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

await main();
