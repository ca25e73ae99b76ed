/**
 * An HTTP/1.1 request whose path goes on the request line byte for byte. fetch and undici
 * parse the URL first (WHATWG), which resolves `..` and rewrites escapes: the very spellings
 * the canonical-path tests must send.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export function rawRequest(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? 'GET',
        path,
        headers: opts.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${path} within 10 s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface RawExchange extends RawResponse {
  /** Everything the server wrote before closing, as text. */
  raw: string;
}

/**
 * Writes bytes as they are on a fresh TCP connection (a malformed request line, an oversized
 * header, a request that never finishes) and reads until the server closes the connection.
 * Nothing is parsed on the way in: the HTTP parser under test is the server's.
 */
export function rawExchange(
  base: string,
  bytes: string | Buffer,
  opts: { timeoutMs?: number } = {},
): Promise<RawExchange> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(
      () => socket.destroy(new Error(`server did not close within ${opts.timeoutMs ?? 10_000} ms`)),
      opts.timeoutMs ?? 10_000,
    );
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      const head = end === -1 ? raw : raw.slice(0, end);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: IncomingHttpHeaders = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const body = Buffer.from(end === -1 ? '' : raw.slice(end + 4), 'latin1');
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body, text: body.toString(), raw });
    });
    socket.write(bytes);
  });
}
