/**
 * Whether a request carries a body: the one rule the origin's body deadline, the edge's body
 * deadline and the edge's pass-through use.
 *
 * HTTP/1.1 (RFC 9112 §6.3): a body is framed by Transfer-Encoding or a Content-Length; a
 * Content-Length of 0 is no body. HTTP/2 (RFC 9113 §8.1): Content-Length is optional, and a
 * request has a body exactly when its HEADERS frame did not end the stream. Reading only the
 * headers there missed a POST sent without Content-Length, whose body then never reached the
 * origin.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface BodyFraming {
  httpVersionMajor: number;
  headers: IncomingHttpHeaders;
  /** Node's Http2ServerRequest#stream; absent on HTTP/1 and on the edge's bodiless h2 requests. */
  stream?: { endAfterHeaders: boolean };
  /** Node's `complete`: true once the whole message is in (the edge's bodiless h2 requests). */
  complete?: boolean;
}

export function hasRequestBody(req: BodyFraming): boolean {
  if (req.httpVersionMajor >= 2) {
    if (req.stream !== undefined) return !req.stream.endAfterHeaders;
    if (req.complete === true) return false;
  }
  const h = req.headers;
  return (
    h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0')
  );
}
