/**
 * Turns duration strings in a raw config (`uploadTimeoutMs: 2h`, `ttl: { default: 1d }`) into
 * the number of the option's unit before validation, walking the schema so only duration
 * options are touched. A string that is not a duration, or not a whole number of the unit, is
 * an issue with the option's path; everything else is left for the schema to judge.
 */
import type { TSchema } from '@sinclair/typebox';
import { configDurationUnit, DURATION_EXAMPLES, parseDuration, unitMs, unitName } from './duration.js';
import type { ConfigIssue } from './schema.js';

export function applyDurations(node: unknown, schema: TSchema, issues: ConfigIssue[]): void {
  walk(node, schema, [], '', issues);
}

function walk(node: unknown, schema: TSchema, keys: string[], path: string, issues: ConfigIssue[]): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    if (schema.type !== 'array') return;
    for (const [i, item] of node.entries())
      walk(item, schema.items as TSchema, keys, `${path}[${i}]`, issues);
    return;
  }
  const props = schema.type === 'object' ? ((schema.properties ?? {}) as Record<string, TSchema>) : {};
  const obj = node as Record<string, unknown>;
  for (const [key, child] of Object.entries(props)) {
    const at = path ? `${path}.${key}` : key;
    const value = obj[key];
    const unit =
      child.type === 'integer' || child.type === 'number' ? configDurationUnit([...keys, key]) : undefined;
    if (unit && typeof value === 'string') {
      const ms = parseDuration(value, unit);
      const n = ms === undefined ? undefined : ms / unitMs(unit);
      if (n === undefined)
        issues.push({
          path: at,
          message: `must be a number of ${unitName(unit)} or a duration (${DURATION_EXAMPLES})`,
          value,
        });
      else if (child.type === 'integer' && !Number.isInteger(n))
        issues.push({ path: at, message: `must be a whole number of ${unitName(unit)}`, value });
      else obj[key] = n;
      continue;
    }
    walk(value, child, [...keys, key], at, issues);
  }
}
