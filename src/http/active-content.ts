/**
 * Headers that keep a stored file from running script on our domain, decided in one place for
 * every object the origin serves (src/routes/serve-object.ts), whatever its content class.
 *
 * Uploads can land under any class (an API key may write any key, and `image/*` and
 * `application/xml` are allowed upload types), so a class that is not a user-content class is
 * no proof that a file is the operator's own: an SVG with `<script>` at /static/x.svg opened in
 * a browser runs on our origin (stored XSS). Hence:
 *   - documents a browser renders with script (HTML, XHTML, SVG, XML and every `+xml` type, XSLT,
 *     multipart/x-mixed-replace) get `Content-Security-Policy: ACTIVE_CONTENT_CSP` in every class:
 *     `sandbox` gives the document a unique opaque origin with no script, forms or popups, and the
 *     fetch directives let an SVG or a page still draw its inline styles and images, nothing else.
 *     The CSP does not matter where the file is used as an image (`<img>`, CSS): browsers never run
 *     script in those; it applies exactly when the file is opened as a document.
 *   - classes listed in server.trustedActiveContentClasses are exempt: the operator's own site
 *     pages must run their scripts. Whoever may write keys in such a class can publish script.
 *   - user-content classes (server.userContentClasses) keep their stricter rule: `sandbox` on
 *     every response, and every type able to act as a document or program (the list above plus
 *     JavaScript, PDF, Flash) forced to download with `Content-Disposition: attachment`.
 * `X-Content-Type-Options: nosniff` goes on every response (src/http/plugin.ts), so a browser
 * never upgrades a text/plain or image/png file to one of these types by sniffing.
 * https://www.w3.org/TR/CSP3/#directive-sandbox, https://html.spec.whatwg.org/#attr-iframe-sandbox
 */

/** Documents a browser renders able to run script when opened directly (navigation). */
const SCRIPTABLE_DOCUMENT =
  /^(?:text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|[a-z]+\/[a-z0-9.+-]*\+xml|text\/xsl|application\/xslt\+xml|multipart\/x-mixed-replace)(?:\s*;|$)/i;

/** In user content, also downloaded: types that act as programs or plugin documents. */
const ATTACHMENT_ONLY =
  /^(?:text\/javascript|application\/(?:x-)?javascript|application\/ecmascript|application\/pdf|application\/x-shockwave-flash|text\/vnd\.wap\.wml|text\/cache-manifest)(?:\s*;|$)/i;

/**
 * The policy for scriptable documents: sandboxed, nothing fetched but the document's own inline
 * styles and images (data: URIs, or same-origin ones), so a plain SVG still looks right.
 */
export const ACTIVE_CONTENT_CSP =
  "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; font-src data:; media-src 'self' data:";
/** Every response of a user-content class: an opaque origin even for types thought passive. */
export const USER_CONTENT_CSP = 'sandbox';
export const ATTACHMENT = 'attachment';

export interface ContentSafetyHeaders {
  'content-security-policy'?: string;
  'content-disposition'?: string;
}

const scriptable = new Map<string, boolean>();
export function isScriptableDocument(contentType: string): boolean {
  let v = scriptable.get(contentType);
  if (v === undefined) {
    v = SCRIPTABLE_DOCUMENT.test(contentType.trim());
    if (scriptable.size > 1024) scriptable.clear();
    scriptable.set(contentType, v);
  }
  return v;
}

/** Types a user-content class forces to download. */
export function isActiveType(contentType: string): boolean {
  return isScriptableDocument(contentType) || ATTACHMENT_ONLY.test(contentType.trim());
}

const NONE: ContentSafetyHeaders = Object.freeze({});
const SANDBOX_ONLY: ContentSafetyHeaders = Object.freeze({ 'content-security-policy': USER_CONTENT_CSP });
const SANDBOXED_DOCUMENT: ContentSafetyHeaders = Object.freeze({
  'content-security-policy': ACTIVE_CONTENT_CSP,
});
const USER_DOCUMENT: ContentSafetyHeaders = Object.freeze({
  'content-security-policy': ACTIVE_CONTENT_CSP,
  'content-disposition': ATTACHMENT,
});
const USER_PROGRAM: ContentSafetyHeaders = Object.freeze({
  'content-security-policy': USER_CONTENT_CSP,
  'content-disposition': ATTACHMENT,
});

/** The safety headers for one served object (see the header for the rules). */
export function contentSafetyHeaders(
  contentType: string,
  cls: { userContent: boolean; trusted: boolean },
): ContentSafetyHeaders {
  const document = isScriptableDocument(contentType);
  if (cls.userContent) {
    if (document) return USER_DOCUMENT;
    return isActiveType(contentType) ? USER_PROGRAM : SANDBOX_ONLY;
  }
  if (cls.trusted) return NONE;
  return document ? SANDBOXED_DOCUMENT : NONE;
}

/** Header names contentSafetyHeaders may set (cleared when a read is retried). */
export const SAFETY_HEADER_NAMES = ['content-security-policy', 'content-disposition'] as const;
