/**
 * Environment overrides: `EDGEWISE__SERVER__PORT=9000` sets `server.port`. Segments are
 * separated by a double underscore and matched case-insensitively against the schema's
 * option names; a class is addressed by name (`EDGEWISE__CLASSES__API_RESPONSES__TTL__DEFAULT`).
 * Values are read as YAML scalars or flow collections (`true`, `300`, `[a, b]`), except where
 * the option is a string, which is taken verbatim (secrets, paths). Env wins over the file.
 */
import type { TSchema } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { type ConfigIssue, ConfigSchema } from './schema.js';

export const ENV_PREFIX = 'EDGEWISE__';
export type EnvSource = `env:${string}`;

type Json = Record<string, unknown>;

export function applyEnvOverrides(
  target: Json,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
): Map<string, EnvSource> {
  const applied = new Map<string, EnvSource>();
  const names = Object.keys(env)
    .filter((n) => n.startsWith(ENV_PREFIX))
    .sort();
  for (const name of names) {
    const raw = env[name] ?? '';
    const segments = name.slice(ENV_PREFIX.length).split('__');
    const resolved = resolvePath(target, segments);
    if (typeof resolved === 'string') {
      issues.push({ path: name, message: resolved });
      continue;
    }
    const { parent, key, schema, path } = resolved;
    (parent as Json)[key] = isStringSchema(schema) ? raw : parseScalar(raw);
    applied.set(path, `env:${name}`);
  }
  return applied;
}

function parseScalar(raw: string): unknown {
  try {
    return parseYaml(raw);
  } catch {
    return raw;
  }
}

function isStringSchema(schema: TSchema): boolean {
  if (schema.type === 'string') return true;
  const branches = (schema.anyOf ?? []) as TSchema[];
  return branches.length > 0 && branches.every((b) => typeof b.const === 'string');
}

interface Resolved {
  parent: Json | unknown[];
  key: string | number;
  schema: TSchema;
  path: string;
}

/** Walks the schema and the target together, creating objects on the way; a string is an error. */
function resolvePath(target: Json, segments: string[]): Resolved | string {
  let schema: TSchema = ConfigSchema;
  let node: Json | unknown[] = target;
  let path = '';
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (schema.type === 'object') {
      const props = (schema.properties ?? {}) as Record<string, TSchema>;
      const key =
        Object.keys(props).find((k) => k.toLowerCase() === segment.toLowerCase().replace(/_/g, '')) ??
        Object.keys(props).find((k) => k.toLowerCase() === segment.toLowerCase());
      if (key === undefined) return `unknown option "${segment}" under ${path || '(root)'}`;
      schema = props[key]!;
      path = path ? `${path}.${key}` : key;
      if (last) return { parent: node, key, schema, path };
      const obj = node as Json;
      if (obj[key] === undefined)
        obj[key] = schema.type === 'array' ? structuredClone(schema.default ?? []) : {};
      node = obj[key] as Json;
    } else if (schema.type === 'array') {
      const list = node as unknown as unknown[];
      let index = /^\d+$/.test(segment) ? Number(segment) : -1;
      if (index < 0)
        index = list.findIndex(
          (v) => (v as { name?: string })?.name?.toLowerCase() === segment.toLowerCase(),
        );
      if (index < 0 || index >= list.length) return `no item "${segment}" in ${path}`;
      schema = schema.items as TSchema;
      path = `${path}[${index}]`;
      if (last) return { parent: list, key: index, schema, path };
      node = list[index] as Json;
    } else {
      return `${path} is not a section`;
    }
  }
  return 'empty option path';
}
