/**
 * Lingering close (what Apache httpd does; RFC 9112 §9.6): a server that answers before it has
 * read the request body (413, 415, 403…) and then closes a socket that still holds unread
 * bytes makes the kernel send a RST, and a client still writing its body loses the answer
 * before reading it — undici reports EPIPE, so an edge in front turns the origin's 413 into a
 * 502, and a viewer behind the edge sees a hang or a reset. So: send the response with
 * `Connection: close`, then FIN, keep reading and discarding for a bounded time and byte
 * count, then close. HTTP/2 needs none of this (a stream reset ends one request).
 */
import type { Socket } from 'node:net';

const LINGER_MS = 2000;
const LINGER_MAX_BYTES = 8 * 1024 * 1024;

/** Call before the response is sent, for an HTTP/1.x request whose body is not fully read. */
export function lingerOnClose(socket: Socket, request: NodeJS.ReadableStream): void {
  // Node's server calls destroySoon() once a `Connection: close` response is written.
  socket.destroySoon = () => {
    let discarded = 0;
    const close = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(close, LINGER_MS);
    timer.unref();
    socket.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > LINGER_MAX_BYTES) close();
    });
    socket.once('end', close);
    socket.once('close', () => clearTimeout(timer));
    request.resume();
    socket.resume();
    socket.end();
  };
}
