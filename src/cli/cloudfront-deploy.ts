/**
 * `edgewise cloudfront deploy` publishes the built viewer functions through DEVELOPMENT,
 * TestFunction and LIVE (src/cloudfront/deploy.ts), first syncing the KeyValueStore in kvs mode;
 * `edgewise cloudfront kvs sync` writes only the KeyValueStore (a TTL change, no publish).
 *
 * Credentials and profile are the AWS SDK's own chain (environment, shared config and
 * credentials files, SSO, container and instance roles; `--profile` picks a profile like
 * AWS_PROFILE). CloudFront is a global service, so the region only satisfies the SDK:
 * `--region`, else the SDK's chain (AWS_REGION, the profile's region), else us-east-1. Endpoints can be redirected
 * the SDK's way (AWS_ENDPOINT_URL_CLOUDFRONT, AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE).
 * `--dry-run` builds, runs every test locally and prints the plan without loading credentials
 * or sending anything.
 */
import type { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import type { CloudFrontKeyValueStoreClient } from '@aws-sdk/client-cloudfront-keyvaluestore';
import { BuildError, type BuildOutput, buildFunctions } from '../cloudfront/build.js';
import type { FunctionToDeploy } from '../cloudfront/deploy.js';
import { DeployError } from '../cloudfront/deploy-error.js';
import { functionTests, TestPlanError } from '../cloudfront/deploy-events.js';
import { buildPlan, PlanError } from '../cloudfront/plan.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { CloudfrontBuildFailed, CloudfrontPlanInvalid } from '../errors.js';
import { runtimeCheck, withClassSource } from './cloudfront.js';
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

const awsOptions = {
  ...configOption,
  'dry-run': { type: 'boolean', short: 'n' },
  profile: { type: 'string' },
  region: { type: 'string' },
  kvs: { type: 'boolean' },
} as const;

const awsOptionHelp = {
  ...configOptionHelp,
  'dry-run': 'Build, test locally and print what would be sent; no credentials needed, nothing sent',
  profile: 'AWS shared-config profile (default: AWS_PROFILE, else the SDK default chain)',
  region:
    "Region for the SDK (CloudFront is global; default: the SDK's, AWS_REGION or the profile's, else us-east-1)",
  kvs: 'Class settings in a KeyValueStore (overrides cloudfront.functions.classSource)',
};

const out = (line: string) => process.stdout.write(`${line}\n`);

async function clients(values: Record<string, unknown>): Promise<{
  cf: CloudFrontClient;
  kvs: CloudFrontKeyValueStoreClient;
}> {
  const [{ CloudFrontClient }, { CloudFrontKeyValueStoreClient }] = await Promise.all([
    import('@aws-sdk/client-cloudfront'),
    import('@aws-sdk/client-cloudfront-keyvaluestore'),
  ]);
  const profile = values.profile as string | undefined;
  const withProfile = profile ? { profile } : {};
  // The SDK's own region chain (AWS_REGION, then the profile's `region` in the shared config),
  // with us-east-1 when it finds none: CloudFront is global, so any region signs correctly.
  let region = values.region as string | undefined;
  if (region === undefined) {
    const probe = new CloudFrontClient(withProfile);
    region = await probe.config.region().catch(() => 'us-east-1');
    probe.destroy();
  }
  const common = { region, ...withProfile };
  return { cf: new CloudFrontClient(common), kvs: new CloudFrontKeyValueStoreClient(common) };
}

/** Config → built functions, or the exit code of the reported failure. */
async function build(
  name: string,
  values: Record<string, unknown>,
): Promise<{ config: Readonly<EdgewiseConfig>; built: BuildOutput } | number> {
  const store = loadConfigOrReport(values.config as string | undefined);
  if (!store) return EXIT_USAGE;
  const config = withClassSource(store.current, values.kvs === true);
  try {
    const built = buildFunctions(config);
    const problems = await runtimeCheck(built);
    if (problems && problems.length > 0) {
      process.stderr.write(`edgewise ${name}: runtime 2.0 check failed\n  ${problems.join('\n  ')}\n`);
      return EXIT_FAILURE;
    }
    return { config, built };
  } catch (err) {
    if (err instanceof BuildError) {
      process.stderr.write(`edgewise ${name}: ${err.message}\n`);
      return CloudfrontBuildFailed.exit;
    }
    throw err;
  }
}

function reportFailure(name: string, err: unknown): number {
  if (err instanceof DeployError || err instanceof TestPlanError) {
    process.stderr.write(`edgewise ${name}: ${err.message}\n`);
    return EXIT_FAILURE;
  }
  if (err instanceof PlanError) {
    process.stderr.write(`edgewise ${name}: ${err.message}\n`);
    return CloudfrontPlanInvalid.exit;
  }
  throw err;
}

export const cloudfrontDeploy: Command = {
  path: ['cloudfront', 'deploy'],
  summary:
    "Publish the viewer functions: each goes to DEVELOPMENT, CloudFront's TestFunction runs it on events built from the config and must return what the local runtime returns, and only then is it published to LIVE (kvs mode: the KeyValueStore is synced first).",
  usage: '[--config <file>] [--dry-run] [--profile <name>] [--region <region>] [--kvs]',
  options: awsOptions,
  optionHelp: awsOptionHelp,
  async run({ values }) {
    const name = 'cloudfront deploy';
    const b = await build(name, values);
    if (typeof b === 'number') return b;
    const { config, built } = b;
    const kvsMode = built.kvs !== undefined;
    const fnc = config.cloudfront.functions;
    let fns: FunctionToDeploy[];
    try {
      const plan = buildPlan(config);
      const tests = await functionTests(config, built);
      fns = plan.functions.map((f) => ({
        name: f.Name,
        code: f.EventType === 'viewer-request' ? built.viewerRequest.code : built.viewerResponse.code,
        config: { Comment: f.FunctionConfig.Comment, Runtime: f.FunctionConfig.Runtime },
        tests: tests[f.EventType],
      }));
    } catch (err) {
      return reportFailure(name, err);
    }
    if (kvsMode)
      out(`KeyValueStore ${fnc.kvsId}: ${built.kvs?.data.length} keys under "${fnc.kvsKeyPrefix}"`);
    for (const f of fns) {
      out(
        `${f.name}: ${Buffer.byteLength(f.code)} bytes, ${f.config.Runtime}${kvsMode ? `, KeyValueStore ${fnc.kvsId}` : ''}, ${f.tests.length} TestFunction events:`,
      );
      for (const t of f.tests) out(`  ${t.label}`);
    }
    if (values['dry-run']) {
      out('dry run: every test passed in the local runtime; nothing was sent to AWS');
      return EXIT_OK;
    }
    try {
      const { cf, kvs } = await clients(values);
      if (kvsMode && built.kvs) {
        const { findKvsArn, syncKvs } = await import('../cloudfront/kvs-sync.js');
        const arn = await findKvsArn(cf, fnc.kvsId);
        await syncKvs(kvs, arn, built.kvs.data, fnc.kvsKeyPrefix, out);
        for (const f of fns)
          f.config.KeyValueStoreAssociations = { Quantity: 1, Items: [{ KeyValueStoreARN: arn }] };
      }
      const { deployFunctions } = await import('../cloudfront/deploy.js');
      const outcome = await deployFunctions(cf, fns, out);
      out(
        `done: ${Object.entries(outcome)
          .map(([n, o]) => `${n} ${o}`)
          .join(', ')}`,
      );
      return EXIT_OK;
    } catch (err) {
      return reportFailure(name, err);
    }
  },
};

export const cloudfrontKvsSync: Command = {
  path: ['cloudfront', 'kvs', 'sync'],
  summary:
    'Write the class settings (TTLs, browser TTL, query allowlists) into the CloudFront KeyValueStore the functions read, in one conditional UpdateKeys; needs cloudfront.functions.classSource kvs (or --kvs), and no function publish.',
  usage: '[--config <file>] [--dry-run] [--profile <name>] [--region <region>] [--kvs]',
  options: awsOptions,
  optionHelp: awsOptionHelp,
  async run({ values }) {
    const name = 'cloudfront kvs sync';
    const b = await build(name, values);
    if (typeof b === 'number') return b;
    const { config, built } = b;
    if (!built.kvs)
      throw new UsageError(
        'cloudfront.functions.classSource is inline: the class settings are compiled into the functions (use `cloudfront deploy`, or set classSource: kvs / pass --kvs)',
      );
    const fnc = config.cloudfront.functions;
    out(`KeyValueStore ${fnc.kvsId}: ${built.kvs.data.length} keys under "${fnc.kvsKeyPrefix}"`);
    for (const e of built.kvs.data) out(`  ${e.key} = ${e.value}`);
    if (values['dry-run']) {
      out('dry run: nothing was sent to AWS');
      return EXIT_OK;
    }
    try {
      const { cf, kvs } = await clients(values);
      const { findKvsArn, syncKvs } = await import('../cloudfront/kvs-sync.js');
      await syncKvs(kvs, await findKvsArn(cf, fnc.kvsId), built.kvs.data, fnc.kvsKeyPrefix, out);
      return EXIT_OK;
    } catch (err) {
      return reportFailure(name, err);
    }
  },
};
