/**
 * Object keys. User keys are validated here before any I/O; keys under RESERVED_PREFIX
 * belong to edgewise itself (encoded and image variants) and are refused from users.
 */
import { BadKey } from '../errors.js';

export const RESERVED_PREFIX = '.edgewise/';
export const MAX_KEY_BYTES = 1024;

/** Why `key` is unsafe as a storage key, or undefined when it is fine. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'key is empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `key is longer than ${MAX_KEY_BYTES} bytes`;
  // Control characters break logs, headers and some filesystems; S3 also advises against them.
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'key contains a control character';
  if (key.startsWith('/')) return 'key must not start with /';
  if (key.includes('\\')) return 'key must not contain a backslash';
  if (!key.isWellFormed()) return 'key is not valid UTF-8';
  for (const segment of key.split('/')) {
    if (segment === '') return 'key has an empty path segment';
    if (segment === '.' || segment === '..') return 'key has a . or .. segment';
  }
  return undefined;
}

/** Throws EDGEWISE_BAD_KEY for a key a user may not use. */
export function assertUserKey(key: string): void {
  const problem =
    keyProblem(key) ??
    (key.startsWith(RESERVED_PREFIX) ? `keys under ${RESERVED_PREFIX} are reserved` : undefined);
  if (problem) throw new BadKey(problem);
}

/** Key of the stored Content-Encoding variant of `key` (br, gzip). */
export function encodedVariantKey(key: string, encoding: 'br' | 'gzip'): string {
  return `${RESERVED_PREFIX}enc/${encoding}/${key}`;
}

/** The object key a URL path names (`/static/a%20b.css` → `static/a b.css`); malformed escapes are a 400. */
export function keyFromUrlPath(rawUrl: string, mountPrefix = '/'): string {
  const rawPath = rawUrl.split('?', 1)[0] ?? '';
  if (!rawPath.startsWith(mountPrefix)) throw new BadKey('path outside the route');
  let key: string;
  try {
    key = decodeURIComponent(rawPath.slice(mountPrefix.length));
  } catch {
    throw new BadKey('malformed percent-encoding');
  }
  assertUserKey(key);
  return key;
}
