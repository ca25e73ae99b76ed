/**
 * Pins the node:http internal src/edge/raw-head.ts relies on (ServerResponse#_header: the
 * serialised head, set by writeHead, sent by the first write). If a Node upgrade changes it,
 * this fails here, by name, before any hit goes out wrong.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RAW_HEADS, writeRawHead } from '../../src/edge/raw-head.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: (res: ServerResponse) => void): Promise<number> {
  const server = createServer({ keepAliveTimeout: 5000 }, (_req, res) => handler(res));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/** The bytes a server sends for `request`, until it has sent `until` or closed. */
function exchange(port: number, request: string, until: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (until(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.write(request);
  });
}

const LINES =
  'content-type: text/plain\r\ncontent-length: 5\r\ndate: Mon, 07 Dec 2026 00:00:00 GMT\r\nx-a: 1\r\n';

describe('ServerResponse#_header, as the compiled hit head uses it', () => {
  it('is probed as usable on this Node', () => {
    expect(RAW_HEADS).toBe(true);
  });

  it('sends the given lines with Node’s status line and keep-alive fields, then the body, in that order', async () => {
    let recorded = '';
    const port = await serve((res) => {
      writeRawHead(res, 200, LINES, '5', false);
      recorded = (res as unknown as { _header: string })._header;
      res.end(Buffer.from('hello'));
    });
    const text = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.endsWith('hello'));
    expect(text).toBe(
      `HTTP/1.1 200 OK\r\n${LINES}Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nhello`,
    );
    // What the access log counts as the head's bytes is what went out.
    expect(recorded.length).toBe(text.length - 5);
  });

  it('lets Node add Date when the lines have none, and close an HTTP/1.0 connection', async () => {
    const port = await serve((res) => {
      writeRawHead(res, 404, 'content-length: 2\r\n', '2', true);
      res.end('no');
    });
    const text = await exchange(port, 'GET / HTTP/1.0\r\n\r\n', () => false);
    expect(text).toMatch(
      /^HTTP\/1\.1 404 Not Found\r\ncontent-length: 2\r\nDate: [^\r]+ GMT\r\nConnection: close\r\n\r\nno$/,
    );
  });
});
