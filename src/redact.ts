/**
 * What never reaches a log line, for every log edgewise writes: the origin's pino logs
 * (src/logger.ts) and the edge's CloudFront access logs (src/edge/access-record.ts).
 *
 * - Query parameters that are credentials: CloudFront signed URLs (`Signature`, `Policy`,
 *   `Key-Pair-Id`), S3 presigned URLs (`X-Amz-*`), edgewise's signed upload URLs (`sig`, the
 *   bearer value of the URL: whoever holds it may upload) and `token`. The value is replaced,
 *   the name kept, so a log still shows that a signed URL was used.
 * - The grant token of the resumable upload routes, which rides in the path
 *   (`/uploads/resumable/<token>/s3/…`, src/uploads/multipart-token.ts says why): the segment is
 *   replaced.
 * - Cookies that are credentials: CloudFront signed cookies (`CloudFront-Policy`,
 *   `CloudFront-Signature`, `CloudFront-Key-Pair-Id`) and any names the operator adds.
 */

export const REDACTED = '[redacted]';

const SECRET_QUERY =
  /([?&](?:Signature|Policy|Key-Pair-Id|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|sig|token)=)[^&#]*/gi;

/** `/uploads/resumable/<token>/…`, wherever it starts (a path, or a whole URL in a Referer). */
const RESUMABLE_TOKEN = /(\/uploads\/resumable\/)(?!s3(?:[/?#]|$))[^/?#]+/g;

/** A URL or path-with-query with the values of credential query parameters replaced. */
export function redactUrl(url: string): string {
  const out = url.replace(SECRET_QUERY, `$1${REDACTED}`);
  return out.includes('/uploads/resumable/') ? out.replace(RESUMABLE_TOKEN, `$1${REDACTED}`) : out;
}

/** A path (cs-uri-stem) with a resumable grant token replaced; other paths as they are. */
export function redactPath(path: string): string {
  return path.startsWith('/uploads/resumable/') ? path.replace(RESUMABLE_TOKEN, `$1${REDACTED}`) : path;
}

/** A query string without its `?` (CloudFront's cs-uri-query), redacted as redactUrl does. */
export function redactQuery(query: string): string {
  return query === '' ? query : redactUrl(`?${query}`).slice(1);
}

/** The cookies of CloudFront's signed-cookie scheme (they are the signature, like the query's). */
export const SIGNED_COOKIES = [
  'CloudFront-Policy',
  'CloudFront-Signature',
  'CloudFront-Key-Pair-Id',
] as const;

/**
 * A Cookie header (RFC 6265 §5.4: `name=value` pairs joined by `; `) with the value of every
 * cookie named in `secret` (case-insensitive) replaced. Pairs are kept in order; anything that
 * is not a pair is kept as sent.
 */
export function redactCookies(cookie: string, secret: readonly string[]): string {
  const names = new Set(secret.map((n) => n.toLowerCase()));
  return cookie
    .split(';')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      return names.has(pair.slice(0, eq).trim().toLowerCase()) ? `${pair.slice(0, eq + 1)}${REDACTED}` : pair;
    })
    .join(';');
}
