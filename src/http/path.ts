/**
 * What a request path means, for every layer: the origin (which object it names), the local
 * edge and the generated viewer-request function (which content class, so which TTLs and
 * whether a signature is needed, it falls in).
 *
 * Why one canonical form, and why it is refused rather than fixed up: CloudFront chooses a
 * cache behavior before any function runs, and it does so on a normalised copy of the path
 * ("CloudFront normalizes URI paths consistent with RFC 3986 and then matches the path with the
 * correct cache behavior. Once the cache behavior is matched, CloudFront sends the raw URI path
 * to the origin", DownloadDistValuesCacheBehavior.html#path-normalization); path patterns are
 * case-sensitive. AWS does not list which RFC 3986 normalisations it applies, so a class chosen
 * on one spelling and an object served from another can never be ruled out by imitating it. What
 * can be ruled out: a path whose every reading is the same. The canonical form is a fixed point
 * of each normalisation anyone applies (RFC 3986 §6.2.2: hex case, decoding unreserved
 * characters, dot segments; merging `//`), so CloudFront, the edge, the function and the origin
 * all see the same bytes and choose the same class. Any other spelling is refused with a 400.
 *
 * The canonical form of a path:
 *   - starts with `/` and is ASCII (other characters are percent-encoded UTF-8);
 *   - every `%` starts a valid escape of valid UTF-8 (no overlong forms, no lone surrogates:
 *     `decodeURIComponent`'s rules);
 *   - no segment decodes to `/` or `\` (`%2F`, `%5C`), a NUL or another control character;
 *   - no empty segment (`//`) except a trailing `/`, no `.` or `..` segment, raw or encoded;
 *   - every segment is written the one way `encodeURIComponent` writes its decoded text (the
 *     way every URL edgewise builds from a key is written): letters, digits and `-._~!'()*`
 *     literal, everything else `%XX` with upper-case hex. So `/%75/` is not canonical (`/u/`
 *     is), nor is `/a%2ecss`, nor `/a+b` (`/a%2Bb` is). `;` is an ordinary character: no path
 *     parameters are stripped, so `/a.json;x.css` names the object `a.json;x.css` and is
 *     written `/a.json%3Bx.css`.
 *   - case is kept: paths, path patterns and storage keys are all case-sensitive.
 *
 * `examinePath` is written in the subset of JavaScript CloudFront Functions run (no closures
 * over module scope, no imports): `edgewise cloudfront build` inlines its source into the
 * viewer-request function, so the function and the origin run the same code.
 */

import { BadPath, NonCanonicalPath } from '../errors.js';

/** Raw result of `examinePath`: exactly one of `problem` (invalid) or `canonical` is set. */
export interface PathExamination {
  /** Why the path can never be valid (undefined when it can). */
  problem: string | undefined;
  /** The canonical spelling (undefined when invalid). */
  canonical: string | undefined;
  /** Decoded path without the leading `/`: the object key it names. */
  key: string | undefined;
}

export function examinePath(raw: string): PathExamination {
  const bad = (problem: string): PathExamination => ({ problem, canonical: undefined, key: undefined });
  if (raw.charAt(0) !== '/') return bad('the path must start with /');
  if (/[^\x21-\x7e]/.test(raw)) return bad('the path has a character that must be percent-encoded');
  const segs = raw.slice(1).split('/');
  const out: string[] = [];
  const keys: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i] as string;
    let dec = '';
    try {
      dec = decodeURIComponent(s);
    } catch (_e) {
      return bad('malformed percent-encoding or invalid UTF-8');
    }
    if (dec.indexOf('/') !== -1) return bad('an encoded / in a path segment');
    if (dec.indexOf('\\') !== -1) return bad('a backslash in the path');
    if (/[\x00-\x1f\x7f]/.test(dec)) return bad('a NUL or control character in the path');
    const last = i === segs.length - 1;
    // RFC 3986 §5.2.4 remove_dot_segments, and `//` merged as CloudFront does.
    if (dec === '.' || dec === '..' || dec === '') {
      if (dec === '..') {
        out.pop();
        keys.pop();
      }
      if (last) {
        out.push('');
        keys.push('');
      }
      continue;
    }
    // The one spelling: encodeURIComponent's (upper-case hex, UTF-8), which is also how every
    // URL edgewise builds from a key is written (signer, upload answers, srcset).
    out.push(encodeURIComponent(dec));
    keys.push(dec);
  }
  return { problem: undefined, canonical: `/${out.join('/')}`, key: keys.join('/') };
}

export type PathCheck =
  | { kind: 'canonical'; key: string }
  | { kind: 'non-canonical'; canonical: string }
  | { kind: 'invalid'; reason: string };

/** Paths with nothing to decode or resolve: canonical as they are (the common case, no allocation). */
const PLAIN = /^\/[A-Za-z0-9\-._~!'()*/]*$/;
const DOTS_OR_EMPTY = /\/\/|\/\.\.?(?:\/|$)/;

/** Whether `raw` (the path as received, no query) is canonical, and the key it names if so. */
export function checkPath(raw: string): PathCheck {
  if (PLAIN.test(raw) && !DOTS_OR_EMPTY.test(raw)) return { kind: 'canonical', key: raw.slice(1) };
  const e = examinePath(raw);
  if (e.problem !== undefined) return { kind: 'invalid', reason: e.problem };
  if (e.canonical !== raw) return { kind: 'non-canonical', canonical: e.canonical! };
  return { kind: 'canonical', key: e.key! };
}

/** The catalogue error for a path that is not canonical, or undefined when it is. */
export function pathError(
  raw: string,
): InstanceType<typeof BadPath> | InstanceType<typeof NonCanonicalPath> | undefined {
  const c = checkPath(raw);
  if (c.kind === 'canonical') return undefined;
  return c.kind === 'invalid' ? new BadPath(c.reason) : new NonCanonicalPath(c.canonical);
}
