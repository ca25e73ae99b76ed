/**
 * The one duration syntax of edgewise, for CLI options and config values alike: one or more
 * whole numbers each with a unit — `500ms`, `90s`, `30m`, `1h`, `7d`, `1h30m`. A bare number
 * means the option's own unit: seconds on the command line, and in the config the unit its name
 * ends with (`…Ms`, `…Seconds`, `…Hours`; TTLs are seconds), so existing files keep working.
 * docs/configuration.md ("Durations") is the one description of it.
 */

export type DurationUnit = 'ms' | 's' | 'h';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const WHOLE = /^(?:\d+(?:ms|s|m|h|d))+$/;
const PART = /(\d+)(ms|s|m|h|d)/g;

export const DURATION_EXAMPLES = '90s, 30m, 1h, 7d or 1h30m';

/** Milliseconds, or undefined when `text` is not a duration. A bare number is `bareUnit`s. */
export function parseDuration(text: string, bareUnit: DurationUnit): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) * UNIT_MS[bareUnit];
  if (!WHOLE.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

export function unitMs(unit: DurationUnit): number {
  return UNIT_MS[unit];
}

/**
 * The unit of a config option that holds a duration, from its name (the project's convention:
 * a time option names its unit), or undefined when it is not one. `path` is the option's keys,
 * e.g. ['classes', 'ttl', 'default'] (array indexes left out).
 */
export function configDurationUnit(path: readonly string[]): DurationUnit | undefined {
  const key = path[path.length - 1] ?? '';
  if (/Ms$/.test(key)) return 'ms';
  if (/Seconds$/.test(key) || /Ttl$/.test(key)) return 's';
  if (/Hours$/.test(key)) return 'h';
  // A class's ttl.min / ttl.default / ttl.max (CloudFront cache-policy TTLs, in seconds).
  if (path[path.length - 2] === 'ttl') return 's';
  return undefined;
}

const UNIT_NAME = { ms: 'milliseconds', s: 'seconds', h: 'hours' } as const;

export function unitName(unit: DurationUnit): string {
  return UNIT_NAME[unit];
}
