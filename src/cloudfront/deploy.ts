/**
 * Publishes the built CloudFront Functions the way AWS recommends: the code goes to the
 * DEVELOPMENT stage (CreateFunction, or UpdateFunction with the stage's ETag in If-Match), is
 * run there by CloudFront's TestFunction on events built from the config (deploy-events.ts),
 * and only when every result equals what the local runtime computes is it promoted to LIVE
 * (PublishFunction, same ETag). A function whose LIVE code and config already equal the build
 * is left alone, so a re-deploy with no change makes no write.
 *
 * ETags are per stage and change on every write; CloudFront refuses a stale one with 412
 * PreconditionFailed, which surfaces as a DeployError naming the call (someone else changed the
 * function since we read it: run deploy again). UpdateFunction returns its ETag in a header the
 * API model spells `ETtag`; the SDK maps it to `ETag`.
 * https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateFunction.html
 * https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_TestFunction.html
 * https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_PublishFunction.html
 */
import {
  type CloudFrontClient,
  CreateFunctionCommand,
  DescribeFunctionCommand,
  type FunctionConfig,
  type FunctionSummary,
  GetFunctionCommand,
  PublishFunctionCommand,
  TestFunctionCommand,
  UpdateFunctionCommand,
} from '@aws-sdk/client-cloudfront';
import { aws, DeployError, DeployRefused } from './deploy-error.js';
import { type FunctionTest, outputDifferences } from './deploy-events.js';

export interface FunctionToDeploy {
  name: string;
  code: string;
  config: FunctionConfig;
  tests: FunctionTest[];
}

export type DeployOutcome = 'unchanged' | 'published';

async function describe(client: CloudFrontClient, name: string, stage: 'DEVELOPMENT' | 'LIVE') {
  try {
    const out = await client.send(new DescribeFunctionCommand({ Name: name, Stage: stage }));
    return { summary: out.FunctionSummary, etag: out.ETag };
  } catch (err) {
    if ((err as { name?: string } | null)?.name === 'NoSuchFunctionExists') return undefined;
    throw err;
  }
}

async function code(client: CloudFrontClient, name: string, stage: 'DEVELOPMENT' | 'LIVE') {
  const out = await client.send(new GetFunctionCommand({ Name: name, Stage: stage }));
  return out.FunctionCode ? Buffer.from(out.FunctionCode).toString('utf8') : '';
}

const arns = (c: FunctionConfig | undefined) =>
  (c?.KeyValueStoreAssociations?.Items ?? []).map((a) => a.KeyValueStoreARN ?? '').sort();

function sameConfig(have: FunctionSummary | undefined, want: FunctionConfig): boolean {
  const c = have?.FunctionConfig;
  return (
    (c?.Comment ?? '') === (want.Comment ?? '') &&
    c?.Runtime === want.Runtime &&
    JSON.stringify(arns(c)) === JSON.stringify(arns(want))
  );
}

/** Runs every test on the DEVELOPMENT version `etag`; returns the failures, one line each. */
async function runTests(
  client: CloudFrontClient,
  fn: FunctionToDeploy,
  etag: string,
  log: (l: string) => void,
) {
  const failures: string[] = [];
  for (const t of fn.tests) {
    const out = await aws(`TestFunction ${fn.name} (${t.label})`, () =>
      client.send(
        new TestFunctionCommand({
          Name: fn.name,
          IfMatch: etag,
          Stage: 'DEVELOPMENT',
          EventObject: Buffer.from(JSON.stringify(t.event)),
        }),
      ),
    );
    const r = out.TestResult;
    if (r?.FunctionErrorMessage) {
      failures.push(`${t.label}: the function failed: ${r.FunctionErrorMessage}`);
      continue;
    }
    let actual: unknown;
    try {
      actual = JSON.parse(r?.FunctionOutput ?? '');
    } catch {
      failures.push(`${t.label}: TestFunction returned no output`);
      continue;
    }
    const diff = outputDifferences(t.expected, actual);
    if (diff.length > 0) failures.push(`${t.label}: ${diff.slice(0, 5).join('; ')}`);
    else log(`  test ok (compute ${r?.ComputeUtilization ?? '?'}%): ${t.label}`);
  }
  return failures;
}

/** A function whose new code is in DEVELOPMENT, tested, waiting to be published with `etag`. */
interface Staged {
  fn: FunctionToDeploy;
  etag: string;
  failures: string[];
}

/** Puts `fn` in DEVELOPMENT (unless LIVE already runs it) and runs its tests there. */
async function stage(
  client: CloudFrontClient,
  fn: FunctionToDeploy,
  log: (line: string) => void,
): Promise<Staged | 'unchanged'> {
  const dev = await aws(`DescribeFunction ${fn.name} DEVELOPMENT`, () =>
    describe(client, fn.name, 'DEVELOPMENT'),
  );
  let etag: string | undefined;
  if (!dev) {
    const out = await aws(`CreateFunction ${fn.name}`, () =>
      client.send(
        new CreateFunctionCommand({
          Name: fn.name,
          FunctionConfig: fn.config,
          FunctionCode: Buffer.from(fn.code),
        }),
      ),
    );
    etag = out.ETag;
    log(`${fn.name}: created in DEVELOPMENT`);
  } else {
    const live = await aws(`DescribeFunction ${fn.name} LIVE`, () => describe(client, fn.name, 'LIVE'));
    if (live && sameConfig(live.summary, fn.config)) {
      const liveCode = await aws(`GetFunction ${fn.name} LIVE`, () => code(client, fn.name, 'LIVE'));
      if (liveCode === fn.code) {
        log(`${fn.name}: unchanged (LIVE already runs this code and config)`);
        return 'unchanged';
      }
    }
    const devCode = await aws(`GetFunction ${fn.name} DEVELOPMENT`, () =>
      code(client, fn.name, 'DEVELOPMENT'),
    );
    if (devCode === fn.code && sameConfig(dev.summary, fn.config)) {
      etag = dev.etag;
      log(`${fn.name}: DEVELOPMENT already holds this code`);
    } else {
      const out = await aws(`UpdateFunction ${fn.name}`, () =>
        client.send(
          new UpdateFunctionCommand({
            Name: fn.name,
            IfMatch: dev.etag,
            FunctionConfig: fn.config,
            FunctionCode: Buffer.from(fn.code),
          }),
        ),
      );
      etag = out.ETag;
      log(`${fn.name}: updated DEVELOPMENT`);
    }
  }
  if (!etag) throw new DeployError(`${fn.name}: CloudFront returned no ETag for the DEVELOPMENT stage`);
  return { fn, etag, failures: await runTests(client, fn, etag, log) };
}

/**
 * Brings every function to LIVE through DEVELOPMENT and TestFunction. All are staged and
 * tested before any is published, so a refusal leaves LIVE exactly as it was (DeployRefused).
 */
export async function deployFunctions(
  client: CloudFrontClient,
  fns: readonly FunctionToDeploy[],
  log: (line: string) => void,
): Promise<Record<string, DeployOutcome>> {
  const outcome: Record<string, DeployOutcome> = {};
  const staged: Staged[] = [];
  for (const fn of fns) {
    const s = await stage(client, fn, log);
    if (s === 'unchanged') outcome[fn.name] = 'unchanged';
    else staged.push(s);
  }
  const refused = staged.filter((s) => s.failures.length > 0);
  if (refused.length > 0)
    throw new DeployRefused(
      `not published: TestFunction results differ from the local runtime or failed (the new code stays in DEVELOPMENT, LIVE is unchanged)\n${refused
        .map(
          (s) =>
            `  ${s.fn.name}, ${s.failures.length} of ${s.fn.tests.length} tests:\n    - ${s.failures.join('\n    - ')}`,
        )
        .join('\n')}`,
    );
  for (const s of staged) {
    await aws(`PublishFunction ${s.fn.name}`, () =>
      client.send(new PublishFunctionCommand({ Name: s.fn.name, IfMatch: s.etag })),
    );
    log(`${s.fn.name}: published to LIVE after ${s.fn.tests.length} tests`);
    outcome[s.fn.name] = 'published';
  }
  return outcome;
}
