/** Duration options on the command line: the config's syntax (src/config/duration.ts), bare = seconds. */
import { DURATION_EXAMPLES, parseDuration } from '../config/duration.js';
import { UsageError } from './command.js';

/** Milliseconds, or a UsageError naming the option. */
export function durationOption(raw: string, option: string): number {
  const ms = parseDuration(raw, 's');
  if (ms === undefined)
    throw new UsageError(
      `${option} must be a duration: ${DURATION_EXAMPLES}, or a bare number of seconds (got "${raw}")`,
    );
  return ms;
}
