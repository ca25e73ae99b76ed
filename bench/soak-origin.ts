/**
 * Child process for bench/soak.ts: the origin behind the soaked edge, node:http answering
 * object paths of bench/soak-mix.ts from one preallocated buffer.
 *
 *   node dist/bench/soak-origin.js <port>
 *
 * /t/s/<id>-<bytes>.bin: <bytes> bytes, max-age an hour, a strong ETag and Last-Modified;
 * If-None-Match → 304 (checked before Range, RFC 9110 §13.2.2); one Range → 206 (the edge
 * forwards a viewer's range on a miss). /t/s/absent/*: 404 without freshness (the edge caches it
 * edge.errorCachingMinTtl). /t/1k: 1 KiB (the start-up probe). /__count: requests served so far.
 */
import { createServer } from 'node:http';
import rangeParser from 'range-parser';
import { etagOf } from './soak-mix.js';

const port = Number(process.argv[2] ?? 0);
/** Larger than the largest object of the mix (1.5 × the 1 MiB disk threshold by default). */
const buffer = Buffer.alloc(8 * 1024 * 1024);
for (let i = 0; i < buffer.length; i++) buffer[i] = 97 + (i % 26);
let served = 0;

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const url = req.url ?? '/';
  if (url === '/__count') {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end(String(served));
    return;
  }
  served++;
  const m = /^\/t\/s\/([a-z0-9]+)-(\d+)\.bin$/.exec(url);
  const bytes = m ? Number(m[2]) : url === '/t/1k' ? 1024 : -1;
  if (bytes < 0 || bytes > buffer.length) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
    return;
  }
  const etag = etagOf(m?.[1] ?? '1k', bytes);
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'cache-control': 'max-age=3600',
    etag,
    'last-modified': 'Mon, 07 Dec 2026 11:00:00 GMT',
    'accept-ranges': 'bytes',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const range = req.headers.range === undefined ? undefined : rangeParser(bytes, req.headers.range);
  if (Array.isArray(range) && range.type === 'bytes' && range.length === 1) {
    const { start, end } = range[0]!;
    res.writeHead(206, {
      ...headers,
      'content-range': `bytes ${start}-${end}/${bytes}`,
      'content-length': end - start + 1,
    });
    res.end(buffer.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': bytes });
  res.end(buffer.subarray(0, bytes));
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
