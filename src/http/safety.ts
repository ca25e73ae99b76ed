/**
 * Headers that keep a stored file from running script on the origin's domain (user content).
 *
 * `X-Content-Type-Options: nosniff` goes on every response (set globally in src/http/plugin.ts):
 * without it a browser may sniff a text/plain upload as HTML. For classes holding user uploads,
 * every response also carries `Content-Security-Policy: sandbox` (a unique opaque origin, no
 * script, no forms, no same-origin access), and types a browser would render as an active
 * document are forced to download with `Content-Disposition: attachment`.
 */

/** Types a browser renders as a document able to run script or fetch with our origin's cookies. */
const ACTIVE =
  /^(?:text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|[a-z]+\/[a-z0-9.+-]*\+xml|text\/xsl|application\/xslt\+xml|text\/javascript|application\/(?:x-)?javascript|application\/ecmascript|application\/pdf|application\/x-shockwave-flash|multipart\/x-mixed-replace|text\/vnd\.wap\.wml|text\/cache-manifest)(?:\s*;|$)/i;

const cache = new Map<string, boolean>();

export function isActiveType(contentType: string): boolean {
  let v = cache.get(contentType);
  if (v === undefined) {
    v = ACTIVE.test(contentType.trim());
    if (cache.size > 1024) cache.clear();
    cache.set(contentType, v);
  }
  return v;
}

export const USER_CONTENT_CSP = 'sandbox';
export const ATTACHMENT = 'attachment';
