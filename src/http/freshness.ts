/**
 * Pure parsers for the fields a cache computes freshness from. http-cache-semantics reads them
 * with `Date.parse` and `parseInt`, which accept far more than RFC 9110/9111 allow; the edge
 * normalises them here before the library sees them.
 */

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const LONG_DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// RFC 9110 §5.6.7: IMF-fixdate, obsolete RFC 850 and asctime formats, exactly as specified
// (single spaces, two-digit hours, GMT). Names compare case-insensitively (§5.6.7 says
// case-sensitive, but the cache-tests suite and every cache it lists accept other cases).
const IMF = /^([a-z]{3}), (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/i;
const RFC850 = /^([a-z]{6,9}), (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/i;
const ASCTIME = /^([a-z]{3}) ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/** An HTTP-date in milliseconds, or NaN when it is not one (RFC 9110 §5.6.7). */
export function parseHttpDate(value: string | undefined, now = Date.now()): number {
  if (value === undefined) return Number.NaN;
  const v = value.trim();
  let m = IMF.exec(v);
  if (m) {
    if (!DAYS.includes(m[1]!.toLowerCase())) return Number.NaN;
    return utc(Number(m[4]), m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!);
  }
  m = RFC850.exec(v);
  if (m) {
    if (!LONG_DAYS.includes(m[1]!.toLowerCase())) return Number.NaN;
    // §5.6.7: a two-digit year that appears to be more than 50 years in the future is the most
    // recent past year with the same last two digits.
    const yy = Number(m[4]);
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + yy;
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!);
  }
  m = ASCTIME.exec(v);
  if (m) {
    if (!DAYS.includes(m[1]!.toLowerCase())) return Number.NaN;
    return utc(Number(m[7]), m[2]!, Number(m[3]!.trim()), m[4]!, m[5]!, m[6]!);
  }
  return Number.NaN;
}

function utc(year: number, month: string, day: number, h: string, mi: string, s: string): number {
  const mon = MONTHS.indexOf(month.toLowerCase());
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (mon === -1 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return Number.NaN;
  const t = Date.UTC(year, mon, day, hour, minute, Math.min(second, 59));
  // Reject 31 Feb and the like rather than letting Date roll them over.
  return new Date(t).getUTCDate() === day ? t : Number.NaN;
}

/**
 * The Age a response states (RFC 9111 §5.1), in seconds, or undefined when there is none to
 * use. Age is a singleton, but a list-based value (or repeated lines, which Node joins with
 * ", ") counts by its first member; a value that is not a non-negative integer (text, a sign, a
 * fraction) is invalid and ignored, as the RFC allows. A parameter after the integer
 * (`7200;foo=bar`) leaves the integer. Past 2^31 it is 2^31 (§1.2.2 delta-seconds).
 */
export function parseAge(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const first = (Array.isArray(value) ? (value[0] ?? '') : value).split(',')[0]!.trim();
  const m = /^(\d+)\s*(?:;.*)?$/.exec(first);
  if (!m) return undefined;
  return Math.min(Number(m[1]), 2147483648);
}

/** The targeted cache-control fields this edge obeys, first match wins (RFC 9213 §2.2). */
export const DEFAULT_CACHE_CONTROL_TARGETS = ['edgewise-cache-control', 'cdn-cache-control'] as const;

// One Dictionary member (RFC 8941 §3.2): a key, optionally `=` an integer, token or quoted
// string, then parameters. Enough to tell a well-formed targeted field from garbage.
const MEMBER =
  /^[a-z*][a-z0-9_.*-]*(?:=(?:-?\d{1,15}(?:\.\d{1,3})?|[a-z*][!#$%&'*+\-.^_`|~:/a-z0-9]*|"(?:[^"\\]|\\.)*"))?(?:;[a-z*][a-z0-9_.*-]*(?:=[^;,]*)?)*$/;

/** Directives whose value is an Integer (RFC 9213 §2.1); another type makes the field invalid. */
const INTEGER_DIRECTIVES = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

function typed(member: string): boolean {
  const eq = member.indexOf('=');
  if (eq === -1) return true;
  const key = member.slice(0, eq);
  const value = member.slice(eq + 1).split(';')[0]!;
  return !INTEGER_DIRECTIVES.has(key) || /^\d{1,15}$/.test(value);
}

/**
 * The value of the first targeted cache-control field present (RFC 9213): it replaces
 * Cache-Control for this cache only. A field that does not parse as a Dictionary is ignored
 * (§2.1), as if it were absent.
 */
export function targetedCacheControl(
  headers: Record<string, string | string[] | undefined>,
  targets: readonly string[],
): { field: string; value: string } | undefined {
  for (const field of targets) {
    const raw = headers[field];
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    const members = value.split(',').map((m) => m.trim());
    if (members.length === 0 || !members.every((m) => MEMBER.test(m) && typed(m))) continue;
    return { field, value };
  }
  return undefined;
}
