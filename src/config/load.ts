/**
 * Loads edgewise.yaml: parse, apply env overrides, fill defaults and validate against the one
 * schema, run the cross-field rules, then deep-freeze. Every problem is collected before
 * failing so an operator fixes a file in one pass.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import { ConfigInvalid } from '../errors.js';
import { crossChecks } from './checks.js';
import { applyDurations } from './durations.js';
import { applyEnvOverrides, type EnvSource } from './env.js';
import { type ConfigIssue, ConfigSchema, type EdgewiseConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'edgewise.yaml';

export type ValueSource = 'default' | 'file' | EnvSource;

export interface LoadedConfig {
  config: Readonly<EdgewiseConfig>;
  /** Absolute path of the file read, or undefined when running on embedded defaults. */
  file: string | undefined;
  /** Where each leaf value came from, keyed by `a.b[0].c` path. */
  sources: ReadonlyMap<string, ValueSource>;
}

export interface LoadOptions {
  /** Config file; when omitted, ./edgewise.yaml is used if it exists, else embedded defaults. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class ConfigError extends Error {
  readonly code = ConfigInvalid.code;
  constructor(
    readonly file: string | undefined,
    readonly issues: ConfigIssue[],
  ) {
    const where = file ?? '(embedded defaults + environment)';
    super(
      `Invalid config ${where}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n` +
        issues.map((i) => `  - ${formatIssue(i)}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const got = issue.value === undefined ? '' : ` (got ${JSON.stringify(issue.value)})`;
  return `${issue.path || '(root)'}: ${issue.message}${got}`;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true, coerceTypes: false });
ajv.addFormat('uri', (s: string) => URL.canParse(s));
const validate = ajv.compile<EdgewiseConfig>(ConfigSchema);

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let file: string | undefined;
  if (options.file !== undefined) {
    file = resolve(cwd, options.file);
    if (!existsSync(file)) throw new ConfigError(file, [{ path: '', message: 'config file not found' }]);
  } else if (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE))) {
    file = resolve(cwd, DEFAULT_CONFIG_FILE);
  }
  const raw = file === undefined ? {} : readYaml(file);
  return buildConfig(raw, file, env);
}

/** Validates an in-memory config object (used by tests and by `loadConfig`). */
export function buildConfig(
  raw: unknown,
  file: string | undefined,
  env: NodeJS.ProcessEnv = {},
): LoadedConfig {
  const fromFile = structuredClone(raw ?? {}) as Record<string, unknown>;
  if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
    throw new ConfigError(file, [{ path: '', message: 'must be a mapping of sections', value: raw }]);
  }
  const sources = new Map<string, ValueSource>();
  const candidate = structuredClone(fromFile);
  const envIssues: ConfigIssue[] = [];
  const envPaths = applyEnvOverrides(candidate, env, envIssues);
  if (envIssues.length > 0) throw new ConfigError(file, envIssues);

  // `30m` in a duration option becomes the number of its unit (src/config/duration.ts); a bad
  // one is reported once, in duration terms, not again as "must be integer".
  const durationIssues: ConfigIssue[] = [];
  applyDurations(candidate, ConfigSchema, durationIssues);
  const badDurations = new Set(durationIssues.map((i) => i.path));
  const valid = validate(candidate) && durationIssues.length === 0;
  const issues: ConfigIssue[] = [
    ...durationIssues,
    ...ajvIssues(validate.errors ?? []).filter((i) => !badDurations.has(i.path)),
  ];
  // Cross-field rules run even when the schema failed, so one pass shows every mistake; a
  // rule's finding is kept only if the section it names passed the schema (otherwise the
  // schema error already explains it), and a rule that trips over a wrong type is skipped.
  const broken = new Set(issues.map((i) => topSection(i.path)));
  const config = candidate as EdgewiseConfig;
  for (const check of crossChecks) {
    const found: ConfigIssue[] = [];
    try {
      check(config, (issue) => found.push(issue));
    } catch (err) {
      if (valid) throw err;
      continue;
    }
    issues.push(...found.filter((i) => valid || !broken.has(topSection(i.path))));
  }
  if (issues.length > 0) throw new ConfigError(file, issues);

  for (const leaf of leafPaths(config)) sources.set(leaf, 'default');
  for (const leaf of leafPaths(fromFile)) if (sources.has(leaf)) sources.set(leaf, 'file');
  for (const [path, source] of envPaths)
    for (const leaf of sources.keys()) if (isUnder(leaf, path)) sources.set(leaf, source);
  return { config: deepFreeze(config), file, sources };
}

function topSection(path: string): string {
  return path.split(/[.[]/, 1)[0] ?? '';
}

/**
 * Aliases one config may expand. yaml's own default (100) is what stops a "billion laughs"
 * file; it is set here so the limit is a decision, not an accident of the dependency.
 */
const MAX_ALIAS_COUNT = 100;

/**
 * Reads and parses the file. Whatever goes wrong — unreadable path, syntax, an unresolved alias,
 * an alias bomb — is invalid config: one issue line, never a stack trace.
 */
function readYaml(file: string): unknown {
  const invalid = (message: string) => new ConfigError(file, [{ path: '', message }]);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid(`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: '',
        message: `YAML syntax: ${(e.message.split('\n')[0] ?? '').replace(/:$/, '')}`,
      })),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    const message = firstLine(err);
    // yaml says "Excessive alias count indicates a resource exhaustion attack".
    if (/alias count/i.test(message))
      throw invalid(`YAML: too many alias expansions (over ${MAX_ALIAS_COUNT}); refused as an alias bomb`);
    throw invalid(`YAML: ${message}`);
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

/** Ajv instance paths (`/classes/0/ttl`) to the dotted form operators read. */
export function toDotted(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function ajvIssues(errors: ErrorObject[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  // A union of literals reports one error per branch; keep only the summary.
  const unionPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  for (const e of errors) {
    if (e.keyword === 'const' && unionPaths.has(e.instancePath)) continue;
    let path = toDotted(e.instancePath);
    let message = e.message ?? 'is invalid';
    let value: unknown = e.data;
    if (e.keyword === 'additionalProperties') {
      const prop = (e.params as { additionalProperty: string }).additionalProperty;
      path = path ? `${path}.${prop}` : prop;
      message = `unknown option; allowed: ${Object.keys((e.parentSchema as { properties?: object }).properties ?? {}).join(', ')}`;
      value = undefined;
    } else if (e.keyword === 'required') {
      const prop = (e.params as { missingProperty: string }).missingProperty;
      path = path ? `${path}.${prop}` : prop;
      message = 'is required';
      value = undefined;
    } else if (e.keyword === 'anyOf') {
      const branches = e.schema as Array<{ const?: unknown }>;
      if (branches.every((b) => 'const' in b))
        message = `must be one of ${branches.map((b) => JSON.stringify(b.const)).join(', ')}`;
    }
    const id = `${path}\u0000${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push(
      value === undefined || (typeof value === 'object' && value !== null)
        ? { path, message }
        : { path, message, value },
    );
  }
  return issues;
}

function* leafPaths(value: unknown, prefix = ''): Generator<string> {
  if (Array.isArray(value)) {
    if (value.length === 0 || value.every((v) => typeof v !== 'object' || v === null)) {
      yield prefix;
      return;
    }
    for (const [i, v] of value.entries()) yield* leafPaths(v, `${prefix}[${i}]`);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) yield* leafPaths(v, prefix ? `${prefix}.${k}` : k);
  } else {
    yield prefix;
  }
}

function isUnder(leaf: string, path: string): boolean {
  return leaf === path || leaf.startsWith(`${path}.`) || leaf.startsWith(`${path}[`);
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
