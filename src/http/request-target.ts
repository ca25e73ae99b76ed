/**
 * Request-target forms at the origin (RFC 9112 §3.2). Clients send origin-form (`/path?query`)
 * to servers, but "a server MUST accept the absolute-form in requests" (§3.2.2), e.g.
 * `GET http://cdn.example/static/app.js HTTP/1.1`. Such a target becomes the origin-form request
 * it names: its path and query, byte for byte as received (no WHATWG URL parsing, which would
 * resolve `..` and decode escapes, i.e. canonicalise silently), so the canonical-path rules of
 * src/http/path.ts judge exactly the bytes that were sent, as for an origin-form target.
 * The target's authority replaces Host: §3.2.2, "the origin server MUST ignore the received
 * Host header field (if any) and instead use the host information of the request-target".
 * HTTP/2 has no absolute-form (`:path` is origin-form or `*`, RFC 9113 §8.3.1).
 */

/** What a target that is not origin-form becomes. */
export type TargetRewrite =
  | { kind: 'origin-form'; url: string; authority: string }
  | { kind: 'invalid'; reason: string };

const SCHEME = /^https?:\/\//i;

/**
 * The origin-form of an absolute-form target; `invalid` (answered 400) for any other form
 * except asterisk-form, which the caller leaves alone. Only http and https are targets we serve.
 */
export function absoluteFormTarget(target: string): TargetRewrite {
  const scheme = SCHEME.exec(target);
  if (!scheme) return { kind: 'invalid', reason: 'request target must be a path or an absolute http(s) URL' };
  const rest = target.slice(scheme[0].length);
  let end = rest.length;
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) {
      end = i;
      break;
    }
  }
  const authority = rest.slice(0, end);
  // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid; §4.2.4: userinfo in an
  // http(s) URI is to be treated as an error (it is a phishing device, never a credential here).
  if (authority === '') return { kind: 'invalid', reason: 'absolute-form target has no host' };
  if (authority.includes('@')) return { kind: 'invalid', reason: 'absolute-form target has userinfo' };
  let pathAndQuery = rest.slice(end);
  if (pathAndQuery.startsWith('#')) pathAndQuery = '';
  // §3.2.2 via RFC 9110 §4.2.3: an empty path is "/" (and the path of `http://h?q` is "/" too).
  if (!pathAndQuery.startsWith('/')) pathAndQuery = `/${pathAndQuery}`;
  return { kind: 'origin-form', url: pathAndQuery, authority };
}
