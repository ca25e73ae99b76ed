/**
 * HTTP/2 viewers through Node's core stream API (`stream.respond()`, `stream.end()`) instead of
 * the compat objects (Http2ServerRequest/Response). The compat layer builds two stream objects
 * per request, re-validates every header name and value, reaches the socket through a Proxy,
 * forwards half a dozen events and asks every response for trailers (an extra turn of the event
 * loop per stream): measured at about a quarter of an edge h2 hit's CPU.
 *
 * Only the transport differs. The pipeline (viewer protocol, functions, the cache state
 * machine, conditionals, ranges, Vary, the access log, metrics) runs unchanged on the two small
 * adapters here, which give it the part of IncomingMessage / ServerResponse it uses:
 *
 *   - H2ViewerRequest: headers, rawHeaders, method, url, httpVersion, and a socket view of the
 *     session (address, port, TLS protocol and cipher, read once per session).
 *   - H2ViewerResponse: writeHead / setHeader / write / end / destroy and the stream's events.
 *     writeHead applies HTTP/1.1's header checks (node:http validateHeaderName/Value) and drops
 *     the connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2), as compat does. A HEAD,
 *     204, 205 or 304 answer has no body: Node ends the stream with the head, and bytes
 *     written after it are dropped, as node:http drops a HEAD response's body.
 *
 * Requests that need more than that go to Node's compat objects, as before: a request with a
 * body (uploads, invalidation POSTs), an Expect header, a method other than GET and HEAD, a
 * target that is not origin-form, and the edge's own routes (metrics, invalidations, dashboard).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import {
  constants,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { RequestTimeout } from '../errors.js';

const END_STREAM = constants.NGHTTP2_FLAG_END_STREAM;

/** RFC 9113 §8.2.2: fields HTTP/2 forbids in a message (`te` is allowed only as `trailers`). */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** What createContext reads of a viewer's socket, fixed for a session's life. */
export interface SocketView {
  encrypted: boolean;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  getProtocol(): string | null;
  getCipher(): { name: string } | undefined;
}

const views = new WeakMap<Http2Session, SocketView>();

function socketView(session: Http2Session): SocketView {
  let v = views.get(session);
  if (v) return v;
  // session.socket is Node's Proxy over the TLS socket: read it once per session, not per request.
  const s = session.socket as unknown as {
    encrypted?: boolean;
    remoteAddress?: string;
    remotePort?: number;
    getProtocol?: () => string | null;
    getCipher?: () => { name: string };
  };
  const protocol = s.getProtocol?.() ?? null;
  const cipher = s.getCipher?.();
  v = {
    encrypted: s.encrypted === true,
    remoteAddress: s.remoteAddress,
    remotePort: s.remotePort,
    getProtocol: () => protocol,
    getCipher: () => (cipher ? { name: cipher.name } : undefined),
  };
  views.set(session, v);
  return v;
}

/** A bodiless HTTP/2 request as the pipeline reads it. */
export class H2ViewerRequest {
  readonly httpVersion = '2.0';
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  /** Only requests whose HEADERS frame ended the stream come here: nothing more will arrive. */
  readonly complete = true;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly method: string;
  readonly url: string;
  readonly socket: SocketView;

  constructor(headers: IncomingHttpHeaders, rawHeaders: string[], socket: SocketView) {
    this.headers = headers;
    this.rawHeaders = rawHeaders;
    this.method = headers[':method'] as string;
    this.url = headers[':path'] as string;
    this.socket = socket;
  }
}

type Listener = (...args: unknown[]) => void;
type Done = (err?: Error | null) => void;

/** A viewer's HTTP/2 response: the ServerResponse surface the pipeline uses, over the stream. */
export class H2ViewerResponse {
  readonly stream: ServerHttp2Stream;
  #extra: OutgoingHttpHeaders | undefined;

  constructor(stream: ServerHttp2Stream) {
    this.stream = stream;
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }
  get destroyed(): boolean {
    return this.stream.destroyed;
  }
  get writable(): boolean {
    return this.stream.writable;
  }
  get writableEnded(): boolean {
    return this.stream.writableEnded;
  }
  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }
  get writableNeedDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  /** A field for the head writeHead sends (the edge's 401 names its scheme this way). */
  setHeader(name: string, value: string | number | string[]): this {
    if (this.stream.headersSent)
      throw Object.assign(new Error('headers already sent'), { code: 'ERR_HTTP2_HEADERS_SENT' });
    validateHeaderName(name);
    checkValue(name, value);
    this.#extra ??= {};
    this.#extra[name.toLowerCase()] = value;
    return this;
  }

  writeHead(status: number, headers?: OutgoingHttpHeaders): this {
    const s = this.stream;
    // The viewer reset the stream or went away: nothing to send (compat does the same).
    if (s.destroyed || s.closed) return this;
    const out: OutgoingHttpHeaders = { [constants.HTTP2_HEADER_STATUS]: status };
    if (this.#extra) copyFields(this.#extra, out);
    if (headers) copyFields(headers, out);
    s.respond(out);
    return this;
  }

  /**
   * A head compiled once per cache entry (src/edge/hit-head.ts): a flat [name, value, …] list
   * whose every name and value node:http's checks passed when it was compiled, with the
   * per-request values (Age, the request id) filled in. Only what HTTP/2 forbids is dropped.
   */
  writeCompiledHead(status: number, fields: Array<string | string[]>): this {
    const s = this.stream;
    if (s.destroyed || s.closed) return this;
    const out: OutgoingHttpHeaders = { [constants.HTTP2_HEADER_STATUS]: status };
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i] as string;
      const v = fields[i + 1];
      if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && v !== 'trailers')) continue;
      out[name] = v;
    }
    s.respond(out);
    return this;
  }

  /** RFC 8297 103 Early Hints relayed from the origin (src/edge/interim.ts). */
  writeEarlyHints(hints: Record<string, string | string[]>): void {
    const s = this.stream;
    if (s.headersSent || s.destroyed || s.closed) return;
    const out: OutgoingHttpHeaders = { [constants.HTTP2_HEADER_STATUS]: 103 };
    copyFields(hints, out);
    s.additionalHeaders(out);
  }

  write(chunk: Buffer | string, cb?: Done): boolean {
    const s = this.stream;
    if (!s.headersSent) this.writeHead(200);
    if (s.writableEnded || s.destroyed) {
      // A bodiless answer (HEAD, 204, 205, 304: Node ended the stream with its head) or a
      // viewer that has gone: the bytes are dropped, as node:http drops a HEAD body.
      if (cb) process.nextTick(cb);
      return true;
    }
    return cb ? s.write(chunk, cb) : s.write(chunk);
  }

  end(cb?: () => void): this;
  end(chunk: Buffer | string, cb?: () => void): this;
  end(chunk?: Buffer | string | (() => void), cb?: () => void): this {
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
    }
    const s = this.stream;
    if (!s.headersSent) this.writeHead(200);
    if (s.writableEnded || s.destroyed) {
      if (cb) process.nextTick(cb);
      return this;
    }
    if (chunk === undefined) s.end(cb);
    else s.end(chunk, cb);
    return this;
  }

  destroy(err?: Error): void {
    this.stream.destroy(err);
  }

  // Events are the stream's own ('close', 'finish', 'drain', 'error'): no forwarding layer.
  on(event: string, fn: Listener): this {
    this.stream.on(event, fn);
    return this;
  }
  once(event: string, fn: Listener): this {
    this.stream.once(event, fn);
    return this;
  }
  prependListener(event: string, fn: Listener): this {
    this.stream.prependListener(event, fn);
    return this;
  }
  off(event: string, fn: Listener): this {
    this.stream.off(event, fn);
    return this;
  }
  removeListener(event: string, fn: Listener): this {
    this.stream.removeListener(event, fn);
    return this;
  }
  emit(event: string, ...args: unknown[]): boolean {
    return this.stream.emit(event, ...args);
  }
  listenerCount(event: string): number {
    return this.stream.listenerCount(event);
  }
}

/** node:http's value check (it takes numbers and arrays; its types say string). */
const checkValue = validateHeaderValue as (name: string, value: unknown) => void;

/** HTTP/1.1's checks on each field (one rule for both transports), minus what HTTP/2 forbids. */
function copyFields(from: OutgoingHttpHeaders, to: OutgoingHttpHeaders): void {
  for (const k in from) {
    const v = from[k];
    if (v === undefined) continue;
    const name = k.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && v !== 'trailers')) continue;
    validateHeaderName(k);
    checkValue(k, v);
    to[name] = v;
  }
}

/** A no-op: a viewer's stream error (a reset, a write after it closed) ends in 'close'. */
function ignore(): void {}

/** Whether a request can be answered through the adapters (see the module comment). */
function coreEligible(
  headers: IncomingHttpHeaders,
  flags: number,
  isOwnRoute: (path: string) => boolean,
): boolean {
  if ((flags & END_STREAM) === 0) return false;
  const method = headers[':method'];
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (headers.expect !== undefined) return false;
  const target = headers[':path'];
  if (typeof target !== 'string' || target.charCodeAt(0) !== 47 /* / */) return false;
  const q = target.indexOf('?');
  return !isOwnRoute(q === -1 ? target : target.slice(0, q));
}

type StreamListener = (
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags: number,
  rawHeaders: string[],
) => void;

/** What serveStreams needs besides the handler. */
export interface StreamOptions {
  /** The edge's own routes (metrics, invalidations, dashboard): compat objects. */
  isOwnRoute(path: string): boolean;
  /**
   * The whole-request deadline for a stream whose request carries a body, by path: HTTP/1.1's
   * rule (src/edge/server.ts), server.uploadTimeoutMs on upload paths, requestTimeoutMs elsewhere.
   */
  deadlineMs(path: string): number;
  log: { info(obj: object, msg: string): void };
}

/**
 * Serves an HTTP/2 server's streams through the adapters where they suffice, and through Node's
 * compat objects otherwise. Call it after the 'request' listener is attached: attaching one
 * makes Node install its compat 'stream' listener (which the TLS server's HTTP/1.1 fallback
 * needs the 'request' listener for anyway); it is taken off here and called for the requests
 * the adapters do not take.
 */
export function serveStreams(
  server: Http2Server | Http2SecureServer,
  handle: (req: H2ViewerRequest, res: H2ViewerResponse) => void,
  options: StreamOptions,
): void {
  const compat = server.listeners('stream') as StreamListener[];
  for (const l of compat) server.off('stream', l);
  server.on(
    'stream',
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      if (!coreEligible(headers, flags, options.isOwnRoute)) {
        if ((flags & END_STREAM) === 0) requestDeadline(stream, headers, options);
        for (const l of compat) l.call(server, stream, headers, flags, rawHeaders);
        return;
      }
      stream.on('error', ignore);
      handle(
        new H2ViewerRequest(headers, rawHeaders, socketView(stream.session!)),
        new H2ViewerResponse(stream),
      );
    },
  );
}

/**
 * HTTP/1.1's requestTimeout for an HTTP/2 request with a body: Node enforces none on h2 streams,
 * and the session's idle timeout does not fire while a slow client trickles bytes. When the body
 * has not all arrived in time the stream gets what an HTTP/1.1 connection gets, the catalogue's
 * 408 JSON when nothing was answered yet, and then the stream is closed (RST_STREAM: NO_ERROR
 * after a complete answer, RFC 9113 §8.1; CANCEL mid-answer). The connection and its other
 * streams carry on.
 */
function requestDeadline(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options: StreamOptions,
): void {
  const target = typeof headers[':path'] === 'string' ? headers[':path'] : '/';
  const q = target.indexOf('?');
  const limitMs = options.deadlineMs(q === -1 ? target : target.slice(0, q));
  const timer = setTimeout(() => {
    if (stream.destroyed || stream.closed || receivedAll(stream)) return;
    options.log.info({ limitMs }, 'HTTP/2 request body not received in time');
    if (stream.headersSent) {
      stream.close(stream.writableFinished ? constants.NGHTTP2_NO_ERROR : constants.NGHTTP2_CANCEL);
      return;
    }
    const err = new RequestTimeout(`the whole request within ${limitMs} ms`);
    const body = Buffer.from(
      JSON.stringify({ statusCode: err.statusCode, code: err.code, message: err.message }),
    );
    stream.respond({
      [constants.HTTP2_HEADER_STATUS]: err.statusCode,
      'content-type': 'application/json; charset=utf-8',
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    stream.end(body, () => stream.close(constants.NGHTTP2_NO_ERROR));
  }, limitMs);
  timer.unref();
  const clear = () => clearTimeout(timer);
  stream.once('end', clear);
  stream.once('close', clear);
}

/** Whether the peer has ended its side (the body is all here, read or not). */
function receivedAll(stream: ServerHttp2Stream): boolean {
  return (
    stream.readableEnded ||
    (stream as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true
  );
}
