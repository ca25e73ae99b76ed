/**
 * The CloudFormation template `cloudfront plan --format cloudformation` prints, judged by AWS's
 * own linter and resource schemas (cfn-lint), for the default config and for configs that turn
 * on every optional part of the plan. A control run shows the linter does catch the mistake the
 * template once had (the API's IsIPV6Enabled, which CloudFormation spells IPV6Enabled).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildFunctions } from '../../src/cloudfront/build.js';
import { ensureDevSigningKeys } from '../../src/cloudfront/keys.js';
import { buildPlan } from '../../src/cloudfront/plan.js';
import { toCloudFormation } from '../../src/cloudfront/plan-cfn.js';
import { buildConfig } from '../../src/config/index.js';
import { type CfnLintFinding, cfnLint } from './cfn-lint.js';

function template(raw: Record<string, unknown>) {
  const { config } = buildConfig(raw, undefined);
  return toCloudFormation(buildPlan(config), buildFunctions(config)) as {
    Resources: Record<string, { Type: string; Properties: Record<string, Record<string, unknown>> }>;
  };
}

const keys = ensureDevSigningKeys(mkdtempSync(join(tmpdir(), 'edgewise-template-keys-')));
const signing = { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile };

const configs: Record<string, Record<string, unknown>> = {
  'the default config': {},
  'a signing key (public key and key group resources)': { cloudfront: { signing } },
  'aliases with an ACM certificate, and standard logging to the S3 log bucket': {
    cloudfront: {
      distribution: {
        aliases: ['cdn.example.com', 'static.example.com'],
        certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666',
      },
    },
    storage: { driver: 's3', s3: { bucket: 'example-edgewise', prefix: 'site/' } },
    prefetch: { logs: { source: 'storage', prefix: 'cloudfront-logs/' } },
  },
  'static assets and user content read from the S3 bucket through Origin Access Control': {
    cloudfront: { signing, distribution: { s3OriginClasses: ['static_assets', 'user_content'] } },
    storage: { driver: 's3', s3: { bucket: 'example-edgewise', prefix: 'site/', region: 'eu-west-1' } },
  },
  'class settings from a KeyValueStore': {
    cloudfront: { signing, functions: { classSource: 'kvs', kvsId: 'edgewise-classes' } },
  },
};

/** The control: the generated template with the API's spelling put back. */
function withApiSpelling() {
  const t = template({});
  const dist = t.Resources.Distribution!.Properties.DistributionConfig!;
  dist.IsIPV6Enabled = dist.IPV6Enabled;
  delete dist.IPV6Enabled;
  return t;
}

let findings: Record<string, CfnLintFinding[]>;
beforeAll(async () => {
  const templates: Record<string, unknown> = { control: withApiSpelling() };
  for (const [name, raw] of Object.entries(configs)) templates[name] = template(raw);
  findings = await cfnLint(templates);
}, 120_000);

describe('cfn-lint accepts the generated template', () => {
  test.each(Object.keys(configs))('%s', (name) => {
    expect(findings[name]).toEqual([]);
  });
});

test('control: cfn-lint rejects the API spelling IsIPV6Enabled in a distribution (E3002)', () => {
  expect(findings.control).toEqual([
    expect.objectContaining({
      rule: 'E3002',
      path: 'Resources/Distribution/Properties/DistributionConfig/IsIPV6Enabled',
    }),
  ]);
});

// CloudFormation's own ${} substitution, not a JavaScript template.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax
const DISTRIBUTION_ARN = 'arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}';

test('S3 origin: OAC (sigv4, always) on an S3 origin with an empty OriginAccessIdentity, its classes target it except the image prefix, and the bucket policy allows CloudFront for this distribution only', () => {
  const t = template(
    configs['static assets and user content read from the S3 bucket through Origin Access Control']!,
  );
  expect(t.Resources.OriginAccessControl?.Properties.OriginAccessControlConfig).toMatchObject({
    OriginAccessControlOriginType: 's3',
    SigningBehavior: 'always',
    SigningProtocol: 'sigv4',
  });
  const dist = t.Resources.Distribution!.Properties.DistributionConfig as unknown as {
    Origins: Array<Record<string, unknown>>;
    CacheBehaviors: Array<{ PathPattern: string; TargetOriginId: string }>;
    DefaultCacheBehavior: { TargetOriginId: string };
  };
  expect(dist.Origins[1]).toEqual({
    Id: 'edgewise-origin-s3',
    DomainName: 'example-edgewise.s3.eu-west-1.amazonaws.com',
    OriginPath: '/site',
    ConnectionTimeout: 10,
    ConnectionAttempts: 3,
    S3OriginConfig: { OriginAccessIdentity: '' },
    OriginAccessControlId: { Ref: 'OriginAccessControl' },
  });
  const target = Object.fromEntries(dist.CacheBehaviors.map((b) => [b.PathPattern, b.TargetOriginId]));
  expect(target).toMatchObject({
    '/static/*': 'edgewise-origin-s3',
    '/img/*': 'edgewise-origin',
    '/api/*': 'edgewise-origin',
    '/u/*': 'edgewise-origin-s3',
  });
  expect(dist.DefaultCacheBehavior.TargetOriginId).toBe('edgewise-origin-s3');
  expect(t.Resources.S3OriginBucketPolicy?.Properties).toEqual({
    Bucket: 'example-edgewise',
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AllowCloudFrontServicePrincipalReadOnly',
          Effect: 'Allow',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::example-edgewise/site/*',
          Condition: {
            StringEquals: {
              'AWS:SourceArn': { 'Fn::Sub': DISTRIBUTION_ARN },
            },
          },
        },
      ],
    },
  });
});

test('S3 origin: a class that takes writes (allowAllMethods) cannot be read from the bucket', () => {
  expect(() =>
    template({
      cloudfront: { distribution: { s3OriginClasses: ['api_responses'] } },
      storage: { driver: 's3', s3: { bucket: 'example-edgewise' } },
    }),
  ).toThrow(/class api_responses: served from the S3 origin, which only reads/);
});
