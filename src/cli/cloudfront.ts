/**
 * `edgewise cloudfront build` writes the deployable CloudFront Functions (and the KeyValueStore
 * import file); `edgewise cloudfront plan` prints the policies, functions, keys and
 * DistributionConfig as SDK inputs or a CloudFormation template. Both read only the config.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BuildError, type BuildOutput, buildFunctions, writeBuild } from '../cloudfront/build.js';
import { buildPlan, PlanError } from '../cloudfront/plan.js';
import { toCloudFormation } from '../cloudfront/plan-cfn.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { CloudfrontBuildFailed, CloudfrontPlanInvalid } from '../errors.js';
import {
  type Command,
  configOption,
  configOptionHelp,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
} from './command.js';
import { loadConfigOrReport } from './load.js';

export function withClassSource(config: Readonly<EdgewiseConfig>, kvs: boolean): Readonly<EdgewiseConfig> {
  if (!kvs) return config;
  const cf = config.cloudfront;
  return { ...config, cloudfront: { ...cf, functions: { ...cf.functions, classSource: 'kvs' } } };
}

/** The acorn-based runtime check, when acorn (a dev dependency) is installed. */
export async function runtimeCheck(out: BuildOutput): Promise<string[] | undefined> {
  let check: typeof import('../cloudfront/runtime-check.js').checkFunctionSource;
  try {
    ({ checkFunctionSource: check } = await import('../cloudfront/runtime-check.js'));
  } catch {
    return undefined;
  }
  const problems: string[] = [];
  for (const f of [out.viewerRequest, out.viewerResponse])
    for (const p of check(f.code)) problems.push(`${f.name}.js:${p.line}: ${p.message}`);
  return problems;
}

export const cloudfrontBuild: Command = {
  path: ['cloudfront', 'build'],
  summary:
    'Write the viewer-request and viewer-response CloudFront Functions (runtime 2.0) with the content classes from the config inlined, or read from a KeyValueStore (--kvs, plus kvs.json).',
  usage: '[--config <file>] [--out <dir>] [--kvs]',
  options: { ...configOption, out: { type: 'string', short: 'o' }, kvs: { type: 'boolean' } },
  optionHelp: {
    ...configOptionHelp,
    out: 'Output directory (default: dist/cloudfront)',
    kvs: 'Read class settings from a KeyValueStore (overrides cloudfront.functions.classSource)',
  },
  async run({ values }) {
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const config = withClassSource(store.current, values.kvs === true);
    let out: BuildOutput;
    try {
      out = buildFunctions(config);
    } catch (err) {
      if (err instanceof BuildError) {
        process.stderr.write(`edgewise cloudfront build: ${err.message}\n`);
        return CloudfrontBuildFailed.exit;
      }
      throw err;
    }
    const problems = await runtimeCheck(out);
    if (problems && problems.length > 0) {
      process.stderr.write(
        `edgewise cloudfront build: runtime 2.0 check failed\n  ${problems.join('\n  ')}\n`,
      );
      return EXIT_FAILURE;
    }
    const dir = resolve((values.out as string | undefined) ?? 'dist/cloudfront');
    const files = writeBuild(out, dir);
    for (const f of [out.viewerRequest, out.viewerResponse])
      process.stdout.write(`${f.name}.js  ${f.bytes} bytes (limit 10240)\n`);
    if (out.kvs) process.stdout.write(`kvs.json  ${out.kvs.data.length} keys\n`);
    process.stdout.write(
      problems === undefined
        ? 'runtime 2.0 check skipped: acorn is not installed (npm install acorn)\n'
        : 'runtime 2.0 check passed\n',
    );
    process.stdout.write(`wrote ${files.join(', ')}\n`);
    return EXIT_OK;
  },
};

export const cloudfrontPlan: Command = {
  path: ['cloudfront', 'plan'],
  summary:
    'Print the CloudFront cache policies, origin request and response headers policies, functions, keys and DistributionConfig the config implies, as JSON for @aws-sdk/client-cloudfront or as a CloudFormation template.',
  usage: '[--config <file>] [--format sdk|cloudformation] [--out <file>]',
  options: { ...configOption, format: { type: 'string', short: 'f' }, out: { type: 'string', short: 'o' } },
  optionHelp: {
    ...configOptionHelp,
    format: 'sdk (default: inputs with {{Kind:Name}} id placeholders) or cloudformation',
    out: 'Write to this file instead of stdout',
  },
  async run({ values }) {
    const format = (values.format as string | undefined) ?? 'sdk';
    if (format !== 'sdk' && format !== 'cloudformation')
      throw new UsageError(`--format must be sdk or cloudformation (got "${format}")`);
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    let text: string;
    try {
      const plan = buildPlan(store.current);
      for (const w of plan.warnings) process.stderr.write(`warning: ${w}\n`);
      const body = format === 'sdk' ? plan : toCloudFormation(plan, buildFunctions(store.current));
      text = `${JSON.stringify(body, null, 2)}\n`;
    } catch (err) {
      if (err instanceof PlanError) {
        process.stderr.write(`edgewise cloudfront plan: ${err.message}\n`);
        return CloudfrontPlanInvalid.exit;
      }
      if (err instanceof BuildError) {
        process.stderr.write(`edgewise cloudfront plan: ${err.message}\n`);
        return CloudfrontBuildFailed.exit;
      }
      throw err;
    }
    if (values.out) writeFileSync(resolve(values.out as string), text);
    else process.stdout.write(text);
    return EXIT_OK;
  },
};
