/**
 * CloudFront path patterns: `*` matches zero or more characters (including `/`), `?` exactly
 * one; matching is case-sensitive and against the path without the query string.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#DownloadDistValuesPathPattern
 */
export function compilePathPattern(pattern: string): RegExp {
  let source = '^';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(source + '$', 's');
}

/**
 * True when every path `later` matches is already matched by `earlier`, so `later` can never
 * win under first-match ordering. Decides the cases operators write (identical patterns, a
 * catch-all, a prefix wildcard covering a longer path); other shapes are assumed reachable.
 */
export function patternShadows(earlier: string, later: string): boolean {
  if (earlier === later) return true;
  if (earlier === '*' || earlier === '/*') return earlier === '*' || later.startsWith('/');
  const star = earlier.indexOf('*');
  if (star === earlier.length - 1 && !earlier.includes('?')) {
    const prefix = earlier.slice(0, -1);
    return later.startsWith(prefix) && !later.slice(0, prefix.length).includes('?');
  }
  if (!earlier.includes('*') && !earlier.includes('?')) return false;
  // A literal later pattern is shadowed when the earlier pattern matches it as a path.
  if (!later.includes('*') && !later.includes('?')) return compilePathPattern(earlier).test(later);
  return false;
}
