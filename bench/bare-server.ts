/**
 * Child process for bench/edge.ts: bare node:http answering from preallocated buffers. It is
 * both the baseline (what serving a buffer costs Node with no cache in between) and the
 * origin behind the edge, Varnish and nginx.
 *
 *   node dist/bench/bare-server.js <port>
 *
 * /t/1k, /t/100k, /t/1m: the objects (max-age an hour); /t/cold/* answer after 50 ms (the
 * collapse test); any other /t/* path is 1 KiB; /__count: requests served so far (not counted).
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const bodies = new Map([
  ['/t/1k', Buffer.alloc(1024, 120)],
  ['/t/100k', Buffer.alloc(100 * 1024, 120)],
  ['/t/1m', Buffer.alloc(1024 * 1024, 120)],
]);
const small = bodies.get('/t/1k')!;
let served = 0;

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const url = req.url ?? '/';
  if (url === '/__count') {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end(String(served));
    return;
  }
  served++;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const body = bodies.get(path) ?? small;
  const send = () => {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'max-age=3600',
    });
    res.end(body);
  };
  if (path.startsWith('/t/cold/')) setTimeout(send, 50);
  else send();
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
