/**
 * Child process for bench/edge.ts's HTTP/2 cell: bare node:http2 over TLS answering every
 * request with the same 1 KiB buffer through the core stream API (`stream.respond()` and
 * `stream.end()`, no compat objects), the same headers as bench/bare-server.ts. It is the
 * ceiling for the edge's h2 hits: what Node itself costs per HTTP/2 stream.
 *
 *   node dist/bench/bare-h2-server.js <port> <cert.pem> <key.pem> [workers]
 *
 * With workers > 1 it forks that many processes sharing the port (node:cluster), as the edge
 * does with edge.workers.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { constants, createSecureServer } from 'node:http2';

const [port, cert, key, workers] = [
  Number(process.argv[2] ?? 0),
  process.argv[3] ?? '',
  process.argv[4] ?? '',
  Number(process.argv[5] ?? 1),
];

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const body = Buffer.alloc(1024, 120);
  const headers = {
    [constants.HTTP2_HEADER_STATUS]: 200,
    'content-type': 'application/octet-stream',
    'content-length': body.length,
    'cache-control': 'max-age=3600',
  };
  // h2 only (no HTTP/1.1 fallback): a 'request' listener would switch Node to compat objects.
  const server = createSecureServer({ cert: readFileSync(cert), key: readFileSync(key) });
  server.on('stream', (stream) => {
    stream.respond(headers);
    stream.end(body);
  });
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
