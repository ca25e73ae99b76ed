/**
 * The plan as a CloudFormation template (JSON), so `aws cloudformation deploy` creates every
 * policy, function, key and the distribution in one step with references instead of ids.
 * CloudFormation's CloudFront types mirror the API with two differences handled here: lists
 * are plain arrays (no Quantity/Items wrapper), and a behavior's CachedMethods sits beside
 * AllowedMethods; origins spell OriginSSLProtocols; the distribution spells IPV6Enabled and
 * AcmCertificateArn/SslSupportMethod, and its Logging has no Enabled flag.
 */
import type { BuildOutput } from './build.js';
import type { Plan } from './plan.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const logical = (kind: string, name: string) =>
  kind +
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

/** Drops the API's {Quantity, Items} wrappers. */
function unwrap(value: unknown): Json {
  if (Array.isArray(value)) return value.map(unwrap);
  if (value === null || typeof value !== 'object') return value as Json;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if ('Quantity' in o && keys.every((k) => k === 'Quantity' || k === 'Items')) return unwrap(o.Items ?? []);
  const out: Record<string, Json> = {};
  for (const k of keys) out[k] = unwrap(o[k]);
  return out;
}

export function toCloudFormation(plan: Plan, built: BuildOutput): Json {
  const refs = new Map<string, Json>();
  const resources: Record<string, Json> = {};
  const parameters: Record<string, Json> = {};

  for (const p of plan.cachePolicies) {
    const id = logical('CachePolicy', p.className);
    resources[id] = {
      Type: 'AWS::CloudFront::CachePolicy',
      Properties: { CachePolicyConfig: unwrap(p.CachePolicyConfig) },
    };
    refs.set(`CachePolicyId:${p.CachePolicyConfig.Name}`, { Ref: id });
  }
  for (const p of plan.originRequestPolicies) {
    const id = logical('OriginRequestPolicy', p.className);
    resources[id] = {
      Type: 'AWS::CloudFront::OriginRequestPolicy',
      Properties: { OriginRequestPolicyConfig: unwrap(p.OriginRequestPolicyConfig) },
    };
    refs.set(`OriginRequestPolicyId:${p.OriginRequestPolicyConfig.Name}`, { Ref: id });
  }
  const rhp = plan.responseHeadersPolicy.ResponseHeadersPolicyConfig;
  resources.ResponseHeadersPolicy = {
    Type: 'AWS::CloudFront::ResponseHeadersPolicy',
    Properties: { ResponseHeadersPolicyConfig: unwrap(rhp) },
  };
  refs.set(`ResponseHeadersPolicyId:${rhp.Name}`, { Ref: 'ResponseHeadersPolicy' });

  const kvs = plan.functions[0]?.FunctionConfig.KeyValueStoreAssociations;
  if (kvs && (kvs.Quantity ?? 0) > 0) {
    parameters.KeyValueStoreArn = {
      Type: 'String',
      Description: 'ARN of the KeyValueStore loaded from kvs.json',
    };
    for (const a of kvs.Items ?? [])
      refs.set(a.KeyValueStoreARN?.slice(2, -2) ?? '', { Ref: 'KeyValueStoreArn' });
  }
  for (const f of plan.functions) {
    const id = logical('Function', f.EventType);
    const code = f.EventType === 'viewer-request' ? built.viewerRequest.code : built.viewerResponse.code;
    resources[id] = {
      Type: 'AWS::CloudFront::Function',
      Properties: {
        Name: f.Name,
        AutoPublish: true,
        FunctionCode: code,
        FunctionConfig: unwrap(f.FunctionConfig),
      },
    };
    refs.set(`FunctionARN:${f.Name}`, { 'Fn::GetAtt': [id, 'FunctionARN'] });
  }
  for (const k of plan.publicKeys) {
    const id = logical('PublicKey', k.keyPairId);
    resources[id] = {
      Type: 'AWS::CloudFront::PublicKey',
      Properties: { PublicKeyConfig: unwrap(k.PublicKeyConfig) },
    };
    refs.set(`PublicKeyId:${k.PublicKeyConfig.Name}`, { Ref: id });
  }
  if (plan.keyGroup) {
    resources.KeyGroup = {
      Type: 'AWS::CloudFront::KeyGroup',
      Properties: { KeyGroupConfig: unwrap(plan.keyGroup.KeyGroupConfig) },
    };
    refs.set(`KeyGroupId:${plan.keyGroup.KeyGroupConfig.Name}`, { Ref: 'KeyGroup' });
  }

  if (plan.s3Origin) {
    // The S3 origin: its Origin Access Control, and the bucket policy that lets CloudFront's
    // service principal read for this distribution only. AWS::S3::BucketPolicy is the bucket's
    // whole policy: a bucket that has one already must get this statement merged by hand.
    const oac = plan.s3Origin.OriginAccessControlConfig;
    resources.OriginAccessControl = {
      Type: 'AWS::CloudFront::OriginAccessControl',
      Properties: { OriginAccessControlConfig: unwrap(oac) },
    };
    refs.set(`OriginAccessControlId:${oac.Name}`, { Ref: 'OriginAccessControl' });
    // CloudFormation's own ${} substitution (Fn::Sub), not a JavaScript template.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub syntax
    const arn = 'arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}';
    refs.set(plan.s3Origin.distributionArn.slice(2, -2), { 'Fn::Sub': arn });
    resources.S3OriginBucketPolicy = {
      Type: 'AWS::S3::BucketPolicy',
      Properties: {
        Bucket: plan.s3Origin.bucket,
        PolicyDocument: { Version: '2012-10-17', Statement: [unwrap(plan.s3Origin.bucketPolicyStatement)] },
      },
    };
  }
  if (!plan.keyGroup) {
    // Signed classes without a configured key: the operator passes an existing key group.
    for (const m of JSON.stringify(plan.distributionConfig).matchAll(/\{\{(KeyGroupId:[^}]+)\}\}/g)) {
      parameters.TrustedKeyGroupId = {
        Type: 'String',
        Description: 'Id of the key group trusted for signed URLs',
      };
      refs.set(m[1]!, { Ref: 'TrustedKeyGroupId' });
    }
  }
  const dist = unwrap(plan.distributionConfig) as Record<string, Json>;
  delete dist.CallerReference;
  // AWS::CloudFront::Distribution DistributionConfig spells the API's IsIPV6Enabled as
  // IPV6Enabled (cfn-lint E3002 otherwise).
  if ('IsIPV6Enabled' in dist) {
    dist.IPV6Enabled = dist.IsIPV6Enabled ?? true;
    delete dist.IsIPV6Enabled;
  }
  // CloudFormation spells the API's ACMCertificateArn/SSLSupportMethod AcmCertificateArn/
  // SslSupportMethod, and has no Logging.Enabled: a Logging block is on, its absence off.
  const vc = dist.ViewerCertificate as Record<string, Json> | undefined;
  if (vc && 'ACMCertificateArn' in vc) {
    dist.ViewerCertificate = {
      AcmCertificateArn: vc.ACMCertificateArn ?? '',
      SslSupportMethod: vc.SSLSupportMethod ?? 'sni-only',
      MinimumProtocolVersion: vc.MinimumProtocolVersion ?? 'TLSv1.2_2021',
    };
  }
  const logging = dist.Logging as Record<string, Json> | undefined;
  if (logging) {
    if (logging.Enabled) delete logging.Enabled;
    else delete dist.Logging;
  }
  const fixBehavior = (b: Json) => {
    const o = b as Record<string, Json>;
    const allowed = o.AllowedMethods as Record<string, Json> | Json[];
    if (!Array.isArray(allowed) && allowed && typeof allowed === 'object') {
      o.CachedMethods = allowed.CachedMethods ?? ['GET', 'HEAD'];
      o.AllowedMethods = (allowed.Items as Json[]) ?? [];
    }
    if (o.FieldLevelEncryptionId === '') delete o.FieldLevelEncryptionId;
    const tkg = o.TrustedKeyGroups as Record<string, Json>;
    if (tkg && !Array.isArray(tkg)) {
      if (tkg.Enabled) o.TrustedKeyGroups = tkg.Items ?? [];
      else delete o.TrustedKeyGroups;
    }
  };
  fixBehavior(dist.DefaultCacheBehavior ?? {});
  for (const b of (dist.CacheBehaviors as Json[]) ?? []) fixBehavior(b);
  for (const origin of (dist.Origins as Json[]) ?? []) {
    const o = origin as Record<string, Json>;
    if (o.OriginPath === '') delete o.OriginPath;
    const c = (origin as Record<string, Record<string, Json>>).CustomOriginConfig;
    if (c && 'OriginSslProtocols' in c) {
      c.OriginSSLProtocols = c.OriginSslProtocols ?? ['TLSv1.2'];
      delete c.OriginSslProtocols;
    }
  }
  resources.Distribution = {
    Type: 'AWS::CloudFront::Distribution',
    Properties: { DistributionConfig: dist },
  };

  const resolved = resolvePlaceholders(resources, refs);
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      'edgewise CloudFront distribution (generated by `edgewise cloudfront plan --format cloudformation`)',
    ...(Object.keys(parameters).length > 0 ? { Parameters: parameters } : {}),
    Resources: resolved,
    Outputs: { DistributionDomainName: { Value: { 'Fn::GetAtt': ['Distribution', 'DomainName'] } } },
  };
}

function resolvePlaceholders(value: Json, refs: Map<string, Json>): Json {
  if (typeof value === 'string') {
    const m = /^\{\{(.+)\}\}$/.exec(value);
    if (!m) return value;
    const ref = refs.get(m[1]!);
    if (ref === undefined) throw new Error(`plan references ${value}, which the template does not create`);
    return ref;
  }
  if (Array.isArray(value)) return value.map((v) => resolvePlaceholders(v, refs));
  if (value && typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolvePlaceholders(v, refs);
    return out;
  }
  return value;
}
