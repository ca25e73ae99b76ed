/**
 * The CloudFront configuration edgewise.yaml implies, as @aws-sdk/client-cloudfront inputs:
 * one cache policy per class, origin request policies where a class forwards extra headers,
 * one response headers policy (security headers), the two functions, the public keys and key
 * group for signed classes, and the DistributionConfig whose cache behaviors list every class's
 * path patterns in declared order (CloudFront evaluates them in that order; first match wins,
 * as in src/classes.ts) with the default class as the default behavior.
 *
 * Ids that AWS assigns on creation appear as `{{Kind:Name}}` placeholders; the CloudFormation
 * form (plan-cfn.ts) replaces them with references instead.
 */
import { createHash } from 'node:crypto';
import type {
  CacheBehavior,
  CachePolicyConfig,
  DefaultCacheBehavior,
  DistributionConfig,
  FunctionConfig,
  KeyGroupConfig,
  LoggingConfig,
  Method,
  OriginAccessControlConfig,
  OriginRequestPolicyConfig,
  PublicKeyConfig,
  ReferrerPolicyList,
  ResponseHeadersPolicyConfig,
  ViewerCertificate,
} from '@aws-sdk/client-cloudfront';
import type { BucketLifecycleConfiguration } from '@aws-sdk/client-s3';
import type { EdgewiseConfig } from '../config/schema.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import { CloudfrontPlanInvalid } from '../errors.js';
import { lifecycleRule } from '../storage/cleanup.js';
import { resolveKeys } from './keys.js';
import { ALL_METHODS, classMethods, uploadPaths } from './methods.js';

type PlanConfig = Pick<
  EdgewiseConfig,
  'classes' | 'defaultClass' | 'cloudfront' | 'origin' | 'images' | 'dev' | 'prefetch' | 'storage'
>;

export class PlanError extends Error {
  readonly code = CloudfrontPlanInvalid.code;
  override name = 'PlanError';
  constructor(readonly problems: string[]) {
    super(`CloudFront plan is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface Plan {
  cachePolicies: Array<{ className: string; CachePolicyConfig: CachePolicyConfig }>;
  originRequestPolicies: Array<{ className: string; OriginRequestPolicyConfig: OriginRequestPolicyConfig }>;
  responseHeadersPolicy: { ResponseHeadersPolicyConfig: ResponseHeadersPolicyConfig };
  functions: Array<{
    Name: string;
    FunctionConfig: FunctionConfig;
    EventType: 'viewer-request' | 'viewer-response';
    file: string;
  }>;
  publicKeys: Array<{ keyPairId: string; PublicKeyConfig: PublicKeyConfig }>;
  keyGroup: { KeyGroupConfig: KeyGroupConfig } | undefined;
  /** With cloudfront.distribution.s3OriginClasses: the OAC and the bucket policy it needs. */
  s3Origin: S3OriginPlan | undefined;
  distributionConfig: DistributionConfig;
  /**
   * With the s3 driver: the input of PutBucketLifecycleConfiguration for the storage bucket,
   * aborting multipart uploads nobody completed (resumable uploads clients abandoned, puts cut
   * by a crash) and expiring staged resumable uploads. The bucket is the operator's, not the
   * distribution's, so no CloudFormation resource carries it (docs/uploads.md).
   */
  storageLifecycle?: { Bucket: string; LifecycleConfiguration: BucketLifecycleConfiguration } | undefined;
  warnings: string[];
}

/**
 * The S3 origin's Origin Access Control and the statement its bucket policy needs: CloudFront's
 * service principal may GetObject under the storage prefix, only on behalf of this distribution
 * (AWS:SourceArn, a `{{DistributionARN:…}}` placeholder until the distribution exists).
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
 */
export interface S3OriginPlan {
  OriginAccessControlConfig: OriginAccessControlConfig;
  bucket: string;
  /** The placeholder the bucket policy's AWS:SourceArn holds: `{{DistributionARN:<namePrefix>}}`. */
  distributionArn: string;
  bucketPolicyStatement: {
    Sid: string;
    Effect: 'Allow';
    Principal: { Service: 'cloudfront.amazonaws.com' };
    Action: 's3:GetObject';
    Resource: string;
    Condition: { StringEquals: { 'AWS:SourceArn': string } };
  };
}

/** CloudFront quotas the plan checks (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html). */
const MAX_KEY_ITEMS = 10;
const DEFAULT_BEHAVIOR_QUOTA = 75;

const list = <T>(items: T[]) => ({ Quantity: items.length, Items: items });

/** The origin's upload routes (src/routes/uploads.ts, upload-urls.ts, signed-urls.ts). */
export { UPLOAD_PATHS } from './methods.js';
/** AWS managed policies: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html */
export const MANAGED_CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
/** https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html */
export const MANAGED_ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
export const placeholder = (kind: string, name: string) => `{{${kind}:${name}}}`;

export function buildPlan(config: Readonly<PlanConfig>): Plan {
  const cf = config.cloudfront;
  const prefix = cf.distribution.namePrefix;
  const problems: string[] = [];
  const warnings: string[] = [];
  const classNames = new Set(config.classes.map((c) => c.name));

  const cachePolicies = config.classes.map((cls) => ({
    className: cls.name,
    CachePolicyConfig: cachePolicy(cls, prefix, (m) => problems.push(`class ${cls.name}: ${m}`)),
  }));

  const originRequestPolicies: Plan['originRequestPolicies'] = [];
  for (const cls of config.classes) {
    const extra = cf.forwardHeaders[cls.name] ?? [];
    if (extra.length === 0) continue;
    const inKey = new Set(cls.cacheKey.headers.map((h) => h.toLowerCase()));
    for (const h of extra) {
      // CloudFront forwards Authorization only when it is part of the cache key.
      if (h.toLowerCase() === 'authorization' && !inKey.has('authorization'))
        problems.push(
          `class ${cls.name}: Authorization is forwarded but not in the cache key (add it to cacheKey.headers)`,
        );
    }
    if (extra.length + cls.cacheKey.headers.length > MAX_KEY_ITEMS * 3)
      problems.push(`class ${cls.name}: too many forwarded headers`);
    originRequestPolicies.push({
      className: cls.name,
      OriginRequestPolicyConfig: {
        Name: `${prefix}-${cls.name}`.slice(0, 128),
        Comment: `edgewise: headers forwarded to the origin for ${cls.name}`,
        HeadersConfig: {
          HeaderBehavior: 'whitelist',
          Headers: list(extra.filter((h) => !inKey.has(h.toLowerCase()))),
        },
        CookiesConfig: { CookieBehavior: 'none' },
        QueryStringsConfig: { QueryStringBehavior: 'none' },
      },
    });
  }
  for (const name of cf.allowAllMethods)
    if (!classNames.has(name))
      warnings.push(`cloudfront.allowAllMethods names "${name}", which is not a class`);

  const fn = cf.functions;
  const responseHeadersPolicy: Plan['responseHeadersPolicy'] = {
    ResponseHeadersPolicyConfig: {
      Name: `${prefix}-security`,
      Comment: 'edgewise security headers',
      SecurityHeadersConfig: {
        ContentTypeOptions: { Override: true },
        ReferrerPolicy: { Override: false, ReferrerPolicy: fn.referrerPolicy as ReferrerPolicyList },
        ...(fn.hstsMaxAge > 0
          ? {
              StrictTransportSecurity: {
                Override: true,
                AccessControlMaxAgeSec: fn.hstsMaxAge,
                IncludeSubdomains: fn.hstsIncludeSubdomains,
              },
            }
          : {}),
      },
    },
  };

  const kvsAssoc =
    fn.classSource === 'kvs'
      ? { KeyValueStoreAssociations: list([{ KeyValueStoreARN: placeholder('KeyValueStoreARN', fn.kvsId) }]) }
      : {};
  const functions: Plan['functions'] = (['viewer-request', 'viewer-response'] as const).map((event) => ({
    Name: `${prefix}-${event}`,
    EventType: event,
    file: `${event}.js`,
    FunctionConfig: { Comment: `edgewise ${event}`, Runtime: 'cloudfront-js-2.0', ...kvsAssoc },
  }));

  const keys = resolveKeys(config);
  const publicKeys: Plan['publicKeys'] = [...keys.trustedPem].map(([id, pem]) => ({
    keyPairId: id,
    PublicKeyConfig: {
      CallerReference: `${prefix}-${id}`,
      Name: `${prefix}-${id}`.slice(0, 128),
      EncodedKey: pem.trim(),
      Comment: `edgewise key ${id}; after creation CloudFront assigns the id signed URLs must carry as Key-Pair-Id`,
    },
  }));
  const signedClasses = config.classes.filter((c) => c.signed);
  let keyGroup: Plan['keyGroup'];
  if (publicKeys.length > 0) {
    keyGroup = {
      KeyGroupConfig: {
        Name: `${prefix}-signers`,
        Items: publicKeys.map((k) => placeholder('PublicKeyId', k.PublicKeyConfig.Name ?? k.keyPairId)),
        Comment: 'edgewise: keys trusted for signed URLs and cookies',
      },
    };
    if (publicKeys.length > 5)
      problems.push('a key group holds at most 5 public keys (cloudfront.trustedKeys)');
  } else if (signedClasses.length > 0) {
    warnings.push(
      `classes ${signedClasses.map((c) => c.name).join(', ')} are signed but no public key is configured (cloudfront.signing or cloudfront.trustedKeys); the behaviors reference a key group you must create`,
    );
  }
  const keyGroupRef = placeholder('KeyGroupId', `${prefix}-signers`);

  const s3 = s3OriginPlan(config, prefix);
  const s3OriginId = `${cf.distribution.originId}-s3`;
  const s3Classes = new Set(s3 ? cf.distribution.s3OriginClasses : []);
  // Image variants are rendered by `edgewise serve`, so patterns under the image prefix stay there.
  const onS3 = (cls: ContentClassConfig, pattern: string | undefined) =>
    s3Classes.has(cls.name) && !(pattern ?? '').startsWith(fn.imagePathPrefix);
  for (const cls of config.classes)
    if (s3Classes.has(cls.name) && cf.allowAllMethods.includes(cls.name))
      problems.push(
        `class ${cls.name}: served from the S3 origin, which only reads; remove it from cloudfront.allowAllMethods or from s3OriginClasses`,
      );

  const behavior = (cls: ContentClassConfig, pattern?: string) => {
    const methods = [...classMethods(cf, cls)];
    return {
      TargetOriginId: onS3(cls, pattern) ? s3OriginId : cf.distribution.originId,
      ViewerProtocolPolicy: cls.viewerProtocolPolicy,
      Compress: cls.compress,
      AllowedMethods: { ...list(methods), CachedMethods: list<Method>(['GET', 'HEAD']) },
      CachePolicyId: placeholder('CachePolicyId', `${prefix}-${cls.name}`),
      ...(originRequestPolicies.some((p) => p.className === cls.name)
        ? { OriginRequestPolicyId: placeholder('OriginRequestPolicyId', `${prefix}-${cls.name}`) }
        : {}),
      ResponseHeadersPolicyId: placeholder('ResponseHeadersPolicyId', `${prefix}-security`),
      FunctionAssociations: list(
        functions.map((f) => ({ EventType: f.EventType, FunctionARN: placeholder('FunctionARN', f.Name) })),
      ),
      TrustedKeyGroups: cls.signed
        ? { Enabled: true, ...list([keyGroupRef]) }
        : { Enabled: false, Quantity: 0 },
      SmoothStreaming: false,
      FieldLevelEncryptionId: '',
    } satisfies Omit<CacheBehavior, 'PathPattern'>;
  };

  // The origin's upload API goes first: never cached, every method, and everything the viewer
  // sent forwarded (the signed upload URL's query, Content-Type, Content-Digest, Origin for
  // CORS), through AWS's managed policies. No functions: the class functions would normalise
  // the query a signature covers, and there is nothing to cache.
  const uploadBehavior = {
    TargetOriginId: cf.distribution.originId,
    ViewerProtocolPolicy: 'redirect-to-https',
    Compress: false,
    AllowedMethods: {
      ...list<Method>([...ALL_METHODS]),
      CachedMethods: list<Method>(['GET', 'HEAD']),
    },
    CachePolicyId: MANAGED_CACHING_DISABLED,
    OriginRequestPolicyId: MANAGED_ALL_VIEWER_EXCEPT_HOST,
    FunctionAssociations: { Quantity: 0 },
    TrustedKeyGroups: { Enabled: false, Quantity: 0 },
    SmoothStreaming: false,
    FieldLevelEncryptionId: '',
  } satisfies Omit<CacheBehavior, 'PathPattern'>;
  const cacheBehaviors: CacheBehavior[] = uploadPaths(config.dev).map((PathPattern) => ({
    PathPattern,
    ...uploadBehavior,
  }));
  for (const cls of config.classes)
    for (const pattern of cls.pathPatterns) {
      // `*` alone is what the default behavior matches; CloudFront refuses it as a path pattern.
      if (pattern === '*' || pattern === '/*') {
        if (cls.name !== config.defaultClass)
          problems.push(
            `class ${cls.name}: pattern "${pattern}" catches everything; make ${cls.name} the defaultClass instead`,
          );
        continue;
      }
      cacheBehaviors.push({ PathPattern: pattern, ...behavior(cls, pattern) });
    }
  if (cacheBehaviors.length > DEFAULT_BEHAVIOR_QUOTA)
    warnings.push(
      `${cacheBehaviors.length} cache behaviors exceed the default quota of ${DEFAULT_BEHAVIOR_QUOTA} per distribution`,
    );
  const defaultCls = config.classes.find((c) => c.name === config.defaultClass) ?? config.classes[0]!;
  const defaultCacheBehavior: DefaultCacheBehavior = behavior(defaultCls, '*');

  const logging = standardLogging(config);
  if (!logging.Enabled)
    warnings.push(
      'no standard logging: CloudFront writes access logs only where the prefetch worker reads them (prefetch.logs.source storage with storage.driver s3)',
    );
  const toSeconds = (ms: number) => Math.max(1, Math.round(ms / 1000));
  const distributionConfig: DistributionConfig = {
    CallerReference: '',
    Comment: cf.distribution.comment,
    Enabled: true,
    Aliases: list([...cf.distribution.aliases]),
    PriceClass: cf.distribution.priceClass,
    HttpVersion: cf.distribution.httpVersion,
    IsIPV6Enabled: true,
    ViewerCertificate: viewerCertificate(cf.distribution.certificateArn),
    Logging: logging,
    Origins: list([
      {
        Id: cf.distribution.originId,
        DomainName: cf.distribution.originDomainName,
        ConnectionTimeout: Math.min(10, toSeconds(config.origin.connectTimeoutMs)),
        ConnectionAttempts: 3,
        CustomOriginConfig: {
          HTTPPort: 80,
          HTTPSPort: 443,
          OriginProtocolPolicy: cf.distribution.originProtocolPolicy,
          OriginSslProtocols: list(['TLSv1.2']),
          OriginReadTimeout: Math.min(60, toSeconds(config.origin.responseTimeoutMs)),
          OriginKeepaliveTimeout: Math.min(60, toSeconds(config.origin.keepAliveMs)),
        },
      },
      ...(s3
        ? [
            {
              Id: s3OriginId,
              DomainName: s3DomainName(config),
              OriginPath: s3OriginPath(config),
              ConnectionTimeout: Math.min(10, toSeconds(config.origin.connectTimeoutMs)),
              ConnectionAttempts: 3,
              // Empty OriginAccessIdentity: access is by the OAC below, not a legacy OAI.
              S3OriginConfig: { OriginAccessIdentity: '' },
              OriginAccessControlId: placeholder(
                'OriginAccessControlId',
                s3.OriginAccessControlConfig.Name ?? '',
              ),
            },
          ]
        : []),
    ]),
    DefaultCacheBehavior: defaultCacheBehavior,
    CacheBehaviors: list(cacheBehaviors),
  };
  if (problems.length > 0) throw new PlanError(problems);
  const plan: Plan = {
    cachePolicies,
    originRequestPolicies,
    responseHeadersPolicy,
    functions,
    publicKeys,
    keyGroup,
    s3Origin: s3,
    distributionConfig,
    warnings,
  };
  // Same config → same CallerReference, so a re-run create is recognised as a duplicate.
  distributionConfig.CallerReference = `${prefix}-${createHash('sha256').update(JSON.stringify(plan)).digest('hex').slice(0, 16)}`;
  // Not part of the distribution (nor of its CallerReference): the storage bucket's own rule.
  const store = config.storage.driver === 's3' ? config.storage.s3 : undefined;
  if (store?.bucket)
    plan.storageLifecycle = { Bucket: store.bucket, LifecycleConfiguration: lifecycleRule(store.prefix) };
  return plan;
}

/** The bucket's regional endpoint, which AWS recommends for OAC (no redirect while DNS settles). */
function s3DomainName(config: Readonly<PlanConfig>): string {
  const { bucket, region } = config.storage.s3;
  return `${bucket}.s3.${region}.amazonaws.com`;
}

/** `site/` → `/site`: CloudFront prepends it, so path /static/a.css reads key site/static/a.css. */
function s3OriginPath(config: Readonly<PlanConfig>): string {
  const p = config.storage.s3.prefix.replace(/\/+$/, '');
  return p === '' ? '' : `/${p}`;
}

function s3OriginPlan(config: Readonly<PlanConfig>, prefix: string): S3OriginPlan | undefined {
  const { bucket } = config.storage.s3;
  if (config.cloudfront.distribution.s3OriginClasses.length === 0 || bucket === undefined) return undefined;
  const distributionArn = placeholder('DistributionARN', prefix);
  return {
    distributionArn,
    OriginAccessControlConfig: {
      Name: `${prefix}-s3`.slice(0, 64),
      Description:
        `edgewise: CloudFront reads s3://${bucket}/${config.storage.s3.prefix} signed with SigV4`.slice(
          0,
          256,
        ),
      OriginAccessControlOriginType: 's3',
      SigningBehavior: 'always',
      SigningProtocol: 'sigv4',
    },
    bucket,
    bucketPolicyStatement: {
      Sid: 'AllowCloudFrontServicePrincipalReadOnly',
      Effect: 'Allow',
      Principal: { Service: 'cloudfront.amazonaws.com' },
      Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${bucket}/${config.storage.s3.prefix}*`,
      Condition: { StringEquals: { 'AWS:SourceArn': distributionArn } },
    },
  };
}

/**
 * Aliases need an ACM certificate (config check); it is served by SNI (no dedicated-IP fee)
 * with TLSv1.2_2021, AWS's recommended minimum. Without one, the *.cloudfront.net certificate.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/secure-connections-supported-viewer-protocols-ciphers.html
 */
function viewerCertificate(arn: string | undefined): ViewerCertificate {
  if (arn === undefined) return { CloudFrontDefaultCertificate: true };
  return { ACMCertificateArn: arn, SSLSupportMethod: 'sni-only', MinimumProtocolVersion: 'TLSv1.2_2021' };
}

/**
 * Standard logging goes exactly where the prefetch worker reads: the storage bucket, under
 * storage.s3.prefix + prefetch.logs.prefix (the S3 driver prepends its prefix to every key), so
 * one setting feeds both and they cannot drift apart. CloudFront names each file
 * `<prefix><distribution id>.<YYYY-MM-DD-HH>.<unique>.gz`; the bucket must allow ACLs (log
 * delivery writes with the awslogsdelivery account's grant).
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logging-legacy-s3.html
 */
function standardLogging(config: Readonly<PlanConfig>): LoggingConfig {
  const { logs } = config.prefetch;
  const { s3 } = config.storage;
  if (logs.source !== 'storage' || config.storage.driver !== 's3' || s3.bucket === undefined)
    return { Enabled: false, IncludeCookies: false, Bucket: '', Prefix: '' };
  return {
    Enabled: true,
    IncludeCookies: false,
    Bucket: `${s3.bucket}.s3.amazonaws.com`,
    Prefix: s3.prefix + logs.prefix,
  };
}

function cachePolicy(
  cls: ContentClassConfig,
  prefix: string,
  problem: (m: string) => void,
): CachePolicyConfig {
  const { min, max } = cls.ttl;
  const dflt = cls.ttl.default;
  if (min > max) problem(`MinTTL ${min} > MaxTTL ${max}`);
  if (dflt < min || dflt > max) problem(`DefaultTTL ${dflt} is outside [MinTTL ${min}, MaxTTL ${max}]`);
  const k = cls.cacheKey;
  if (k.headers.length > MAX_KEY_ITEMS)
    problem(`${k.headers.length} headers in the cache key; CloudFront allows ${MAX_KEY_ITEMS}`);
  if (k.cookies.length > MAX_KEY_ITEMS)
    problem(`${k.cookies.length} cookies in the cache key; CloudFront allows ${MAX_KEY_ITEMS}`);
  if (k.queryStrings.length > MAX_KEY_ITEMS)
    problem(`${k.queryStrings.length} query strings in the cache key; CloudFront allows ${MAX_KEY_ITEMS}`);
  const lower = k.headers.map((h) => h.toLowerCase());
  if (new Set(lower).size !== lower.length) problem('a header appears twice in the cache key');
  // With caching off (MaxTTL 0) CloudFront refuses cache-key settings: there is no key.
  const allQuery = k.queryStringBehavior === 'all';
  const keyed = k.headers.length + k.cookies.length + k.queryStrings.length > 0 || allQuery || cls.compress;
  if (max === 0 && keyed)
    problem(
      'MaxTTL 0 disables caching, so the cache key must be empty and compress false (use an origin request policy to forward values)',
    );
  return {
    Name: `${prefix}-${cls.name}`.slice(0, 128),
    Comment: `edgewise class ${cls.name}: ${cls.pathPatterns.join(' ')}`.slice(0, 128),
    MinTTL: min,
    DefaultTTL: dflt,
    MaxTTL: max,
    ParametersInCacheKeyAndForwardedToOrigin: {
      EnableAcceptEncodingGzip: cls.compress,
      EnableAcceptEncodingBrotli: cls.compress,
      HeadersConfig:
        k.headers.length > 0
          ? { HeaderBehavior: 'whitelist', Headers: list([...k.headers]) }
          : { HeaderBehavior: 'none' },
      CookiesConfig:
        k.cookies.length > 0
          ? { CookieBehavior: 'whitelist', Cookies: list([...k.cookies]) }
          : { CookieBehavior: 'none' },
      // The same rule as src/cache-key.ts and the viewer-request function's query step.
      QueryStringsConfig: allQuery
        ? { QueryStringBehavior: 'all' }
        : k.queryStrings.length > 0
          ? { QueryStringBehavior: 'whitelist', QueryStrings: list([...k.queryStrings].sort()) }
          : { QueryStringBehavior: 'none' },
    },
  };
}
