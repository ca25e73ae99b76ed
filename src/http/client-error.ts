/**
 * What the origin and the edge answer when Node's HTTP/1 parser or its timeouts refuse a
 * connection before any request handler runs (the server's `clientError` event). Node's own
 * answer is an empty `400`/`408`/`413`/`431` and Fastify's is JSON without a catalogue code;
 * both servers answer with the catalogue's `{statusCode, code, message}` instead, on the raw
 * socket, with `Connection: close` (the parser cannot continue after an error, RFC 9112 §9.6).
 *
 * The body says what was wrong with the request, never where anything lives: the message is
 * the catalogue's template filled with limits and llhttp's fixed reason strings only.
 */
import { maxHeaderSize as defaultMaxHeaderSize, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  BadRequest,
  ChunkExtensionsTooLarge,
  type CodedError,
  HeadersTooLarge,
  RequestTimeout,
  UriTooLong,
} from '../errors.js';

interface InfoLog {
  info(obj: object, msg: string): void;
}

/** Node's fixed cap on one chunk's extensions (lib/_http_common.js, CVE-2024-22019). */
const MAX_CHUNK_EXTENSIONS = 16 * 1024;
/** How long a refused connection may keep sending before it is cut (bounded, like linger.ts). */
const LINGER_MS = 2000;

type ParserError = Error & { code?: string; reason?: string; rawPacket?: Buffer };

interface Limits {
  /** The server's maxHeaderSize (request line + header fields), when it sets one. */
  maxHeaderSize?: number | undefined;
  headersTimeoutMs?: number | undefined;
  requestTimeoutMs?: number | undefined;
}

/** How often Node checks open connections against headersTimeout and requestTimeout. */
export const CONNECTION_SWEEP_MS = 1000;

const answered = new WeakSet<Duplex>();

/** The limits a node:http (or http2 allowHTTP1) server applies, for the messages. */
function limitsOf(server: unknown): Limits {
  const s = (server ?? {}) as { maxHeaderSize?: unknown; headersTimeout?: unknown; requestTimeout?: unknown };
  const n = (v: unknown) => (typeof v === 'number' && v > 0 ? v : undefined);
  return {
    maxHeaderSize: n(s.maxHeaderSize),
    headersTimeoutMs: n(s.headersTimeout),
    requestTimeoutMs: n(s.requestTimeout),
  };
}

/** The catalogue error for a parser or timeout refusal; undefined when nothing can be answered. */
export function clientErrorAnswer(err: ParserError, limits: Limits = {}): CodedError | undefined {
  const code = err.code ?? '';
  if (code === 'HPE_HEADER_OVERFLOW') {
    const max = limits.maxHeaderSize ?? defaultMaxHeaderSize;
    // RFC 9112 §3: a request-target longer than the server parses is a 414, not a 431. The
    // request line alone overflowed when the refused bytes start a request whose first line
    // ends (if at all) past the limit.
    const raw = err.rawPacket;
    const eol = raw ? raw.indexOf(0x0a) : -1;
    if (raw && /^[A-Z]+ /.test(raw.subarray(0, 16).toString('latin1')) && (eol === -1 || eol > max))
      return new UriTooLong(max);
    return new HeadersTooLarge(max);
  }
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return new ChunkExtensionsTooLarge(MAX_CHUNK_EXTENSIONS);
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const parts = [
      limits.headersTimeoutMs ? `headers within ${limits.headersTimeoutMs} ms` : '',
      limits.requestTimeoutMs ? `the whole request within ${limits.requestTimeoutMs} ms` : '',
    ].filter(Boolean);
    return new RequestTimeout(parts.length > 0 ? parts.join(', ') : 'the server time limit');
  }
  if (code.startsWith('HPE_')) {
    // llhttp's reasons are fixed strings ("Invalid method encountered"); anything else is not shown.
    const reason = err.reason && /^[A-Za-z0-9 ,.'-]{1,80}$/.test(err.reason) ? err.reason : 'unparsable';
    return new BadRequest(reason.toLowerCase());
  }
  return undefined;
}

/**
 * The raw HTTP/1.1 response for a coded error, closing the connection. A HEAD request's answer
 * has the same header fields and no body (RFC 9110 §9.3.2): a client reading a body it did
 * not ask for takes it as the next response and fails.
 */
export function rawErrorResponse(err: CodedError, head = false): string {
  const status = err.statusCode ?? 500;
  const body = JSON.stringify({ statusCode: status, code: err.code, message: err.message });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Cache-Control: no-store\r\n' +
    'X-Content-Type-Options: nosniff\r\n' +
    'Connection: close\r\n\r\n' +
    (head ? '' : body)
  );
}

/**
 * The `clientError` listener both servers install. It answers at most once per socket (a
 * parser in error state reports every later chunk again), never over a response already
 * started, and closes the socket once the answer is flushed, or LINGER_MS later at the latest.
 */
export function handleClientError(err: ParserError, socket: Duplex, log: InfoLog, server: unknown): void {
  if (answered.has(socket)) return;
  answered.add(socket);
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  const shown =
    socket.writable && !inFlight?.headersSent ? clientErrorAnswer(err, limitsOf(server)) : undefined;
  if (!shown) {
    socket.destroy();
    return;
  }
  log.info({ code: shown.code, reason: err.code }, 'request refused by the HTTP parser');
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // After a timeout the parser is still live and a handler may hold the request: nothing more
  // may be read or written once the answer is out.
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') socket.once('finish', () => socket.destroy());
  // FIN after the answer; the client closes its side when it has read it. Destroying at once
  // (Node's default) can turn unread request bytes into a RST that discards the answer.
  const head = err.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
  socket.end(rawErrorResponse(shown, head));
}
