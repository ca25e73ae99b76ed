/**
 * `cloudfront plan`/`build` from the config: policies and behaviors follow the classes, a TTL
 * edit in YAML reaches both the plan and the built function, invalid combinations name the class.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildFunctions } from '../../src/cloudfront/build.js';
import { ensureDevSigningKeys } from '../../src/cloudfront/keys.js';
import { buildPlan, PlanError } from '../../src/cloudfront/plan.js';
import { toCloudFormation } from '../../src/cloudfront/plan-cfn.js';
import { buildConfig, type EdgewiseConfig, loadConfig } from '../../src/config/index.js';
import { runCli } from '../helpers/cli.js';

const defaults = buildConfig({}, undefined).config;

function mutable(): EdgewiseConfig {
  return structuredClone(defaults) as EdgewiseConfig;
}

function planProblems(config: EdgewiseConfig): string[] {
  try {
    buildPlan(config);
  } catch (err) {
    if (err instanceof PlanError) return err.problems;
    throw err;
  }
  return [];
}

describe('plan on the default config', () => {
  const plan = buildPlan(defaults);

  test('one cache policy per class with its TTLs, key and compression', () => {
    expect(plan.cachePolicies.map((p) => p.className)).toEqual([
      'static_assets',
      'api_responses',
      'user_content',
    ]);
    const api = plan.cachePolicies[1]!.CachePolicyConfig;
    expect([api.MinTTL, api.DefaultTTL, api.MaxTTL]).toEqual([0, 300, 3600]);
    const keyed = api.ParametersInCacheKeyAndForwardedToOrigin!;
    expect(keyed.HeadersConfig).toEqual({
      HeaderBehavior: 'whitelist',
      Headers: { Quantity: 1, Items: ['authorization'] },
    });
    expect(keyed.EnableAcceptEncodingBrotli).toBe(false);
    const stat = plan.cachePolicies[0]!.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin!;
    expect(stat.QueryStringsConfig?.QueryStrings?.Items).toEqual(['fit', 'fmt', 'h', 'q', 'w']);
    expect(stat.EnableAcceptEncodingGzip).toBe(true);
  });

  test('behaviors: every pattern in declared order; default class is the default behavior; signed classes trust the key group', () => {
    const d = plan.distributionConfig;
    expect(d.CacheBehaviors?.Items?.map((b) => b.PathPattern)).toEqual([
      '/uploads*',
      '/upload-urls',
      '/_edgewise/*',
      '/static/*',
      '/assets/*',
      '/img/*',
      '/api/*',
      '/u/*',
    ]);
    expect(d.DefaultCacheBehavior?.CachePolicyId).toBe('{{CachePolicyId:edgewise-static_assets}}');
    const u = d.CacheBehaviors?.Items?.find((b) => b.PathPattern === '/u/*');
    expect(u?.TrustedKeyGroups).toMatchObject({ Enabled: true, Quantity: 1 });
    expect(u?.ViewerProtocolPolicy).toBe('redirect-to-https');
    const api = d.CacheBehaviors?.Items?.find((b) => b.PathPattern === '/api/*');
    expect(api?.ViewerProtocolPolicy).toBe('allow-all');
    expect(api?.AllowedMethods?.Items).toContain('POST');
    expect(api?.FunctionAssociations?.Items?.map((f) => f.EventType)).toEqual([
      'viewer-request',
      'viewer-response',
    ]);
    // Regression: uploads through CloudFront need every method, no caching, and the viewer's
    // query (the upload signature), Content-Type and Origin (CORS) forwarded.
    const up = d.CacheBehaviors?.Items?.find((b) => b.PathPattern === '/uploads*');
    expect(up?.AllowedMethods?.Items).toEqual(expect.arrayContaining(['PUT', 'POST', 'OPTIONS']));
    expect(up?.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad');
    expect(up?.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac');
    expect(up?.FunctionAssociations?.Quantity).toBe(0);
    expect(d.Origins?.Items?.[0]?.CustomOriginConfig?.OriginReadTimeout).toBe(30);
    expect(d.Origins?.Items?.[0]?.ConnectionTimeout).toBe(10);
    expect(plan.functions.every((f) => f.FunctionConfig.Runtime === 'cloudfront-js-2.0')).toBe(true);
    expect(plan.warnings.join(' ')).toMatch(/user_content are signed but no public key/);
  });

  test('with a signing key: public key and key group, no warning; CloudFormation resolves every reference', () => {
    const keys = ensureDevSigningKeys(mkdtempSync(join(tmpdir(), 'edgewise-plan-keys-')));
    const { config } = buildConfig(
      { cloudfront: { signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile } } },
      undefined,
    );
    const p = buildPlan(config);
    expect(p.warnings.filter((w) => !w.startsWith('no standard logging'))).toEqual([]);
    expect(p.publicKeys[0]?.PublicKeyConfig.EncodedKey).toBe(keys.publicKeyPem.trim());
    expect(p.keyGroup?.KeyGroupConfig.Items).toHaveLength(1);
    const cfn = toCloudFormation(p, buildFunctions(config)) as unknown as {
      Resources: Record<
        string,
        { Type: string; Properties: { DistributionConfig: Record<string, unknown> } }
      >;
    };
    const text = JSON.stringify(cfn);
    expect(text).not.toMatch(/\{\{/);
    expect(cfn.Resources.KeyGroup?.Type).toBe('AWS::CloudFront::KeyGroup');
    const dist = cfn.Resources.Distribution!.Properties.DistributionConfig;
    const behaviors = dist.CacheBehaviors as Array<Record<string, unknown>>;
    const u = behaviors.find((b) => b.PathPattern === '/u/*')!;
    expect(u.TrustedKeyGroups).toEqual([{ Ref: 'KeyGroup' }]);
    expect(u.CachedMethods).toEqual(['GET', 'HEAD']);
    expect(u.CachePolicyId).toEqual({ Ref: 'CachePolicyUserContent' });
    expect(cfn.Resources.FunctionViewerRequest?.Type).toBe('AWS::CloudFront::Function');
    // CloudFormation's property is IPV6Enabled (the API's IsIPV6Enabled is cfn-lint E3002).
    expect(dist.IPV6Enabled).toBe(true);
    expect(dist).not.toHaveProperty('IsIPV6Enabled');
  });
});

describe('invalid combinations are errors naming the class', () => {
  test('Authorization forwarded without being in the cache key', () => {
    const { config } = buildConfig(
      { cloudfront: { forwardHeaders: { static_assets: ['Authorization'] } } },
      undefined,
    );
    expect(planProblems(config as EdgewiseConfig)).toEqual([
      expect.stringMatching(/^class static_assets: Authorization is forwarded/),
    ]);
    const ok = buildConfig(
      { cloudfront: { forwardHeaders: { api_responses: ['authorization', 'x-request-id'] } } },
      undefined,
    );
    expect(
      buildPlan(ok.config).originRequestPolicies[0]?.OriginRequestPolicyConfig.HeadersConfig?.Headers?.Items,
    ).toEqual(['x-request-id']);
  });

  test('more than 10 headers in a key, MinTTL > MaxTTL, a cache key with caching disabled', () => {
    const c = mutable();
    c.classes[0]!.cacheKey.headers = Array.from({ length: 11 }, (_, i) => `x-h${i}`);
    c.classes[1]!.ttl = { min: 600, default: 300, max: 60 };
    c.classes[2]!.ttl = { min: 0, default: 0, max: 0 };
    c.classes[2]!.cacheKey.cookies = ['session'];
    const problems = planProblems(c);
    expect(problems).toContainEqual(
      expect.stringMatching(/^class static_assets: 11 headers in the cache key/),
    );
    expect(problems).toContainEqual(expect.stringMatching(/^class api_responses: MinTTL 600 > MaxTTL 60/));
    expect(problems).toContainEqual(expect.stringMatching(/^class user_content: MaxTTL 0 disables caching/));
  });
});

describe('a TTL edit in edgewise.yaml', () => {
  test('changes the cache policy and the built functions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgewise-ttl-'));
    const file = join(dir, 'edgewise.yaml');
    const yaml = (browserTtl: number, edge: number) => `classes:
  - name: static_assets
    pathPatterns: ['/static/*', '/assets/*', '/img/*']
    ttl: { default: ${edge}, max: 31536000 }
    browserTtl: ${browserTtl}
    cacheKey: { queryStrings: [w, h, fit, q, fmt] }
  - name: api_responses
    pathPatterns: ['/api/*']
    ttl: { default: 300, max: 3600 }
    browserTtl: 0
    compress: false
    cacheKey: { headers: [authorization] }
    viewerProtocolPolicy: allow-all
  - name: user_content
    pathPatterns: ['/u/*']
    ttl: { default: 3600, max: 86400 }
    browserTtl: 3600
    signed: true
`;
    writeFileSync(file, yaml(3600, 86400));
    const before = loadConfig({ file, env: {} }).config;
    writeFileSync(file, yaml(120, 600));
    const after = loadConfig({ file, env: {} }).config;
    expect(buildPlan(before).cachePolicies[0]!.CachePolicyConfig.DefaultTTL).toBe(86400);
    expect(buildPlan(after).cachePolicies[0]!.CachePolicyConfig.DefaultTTL).toBe(600);
    const fb = buildFunctions(before).viewerResponse.code;
    const fa = buildFunctions(after).viewerResponse.code;
    expect(fb).toContain('"b":3600');
    expect(fa).toContain('"b":120');
    // KVS mode: the function stays the same, the KVS entry carries the change.
    const kvs = (c: typeof before) =>
      buildFunctions({
        ...c,
        cloudfront: { ...c.cloudfront, functions: { ...c.cloudfront.functions, classSource: 'kvs' } },
      });
    expect(kvs(before).viewerResponse.code).toBe(kvs(after).viewerResponse.code);
    expect(kvs(after).kvs?.data.find((e) => e.key === 'edgewise:static_assets')?.value).toContain('"b":120');
  });
});

describe('CLI', () => {
  test('cloudfront build writes functions under 10 KB that pass the runtime check; --kvs writes kvs.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgewise-cfbuild-'));
    const res = await runCli(['cloudfront', 'build', '--out', join(dir, 'out')], { cwd: dir });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/runtime 2\.0 check passed/);
    expect(readFileSync(join(dir, 'out', 'viewer-request.js'), 'utf8')).toMatch(/^\/\/ edgewise/);
    const kvs = await runCli(['cloudfront', 'build', '--kvs', '--out', join(dir, 'kvs')], { cwd: dir });
    expect(kvs.code).toBe(0);
    const data = JSON.parse(readFileSync(join(dir, 'kvs', 'kvs.json'), 'utf8')) as { data: unknown[] };
    expect(data.data).toHaveLength(4);
  });

  test('cloudfront plan prints JSON; an invalid combination exits 2 naming the class', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgewise-cfplan-'));
    const res = await runCli(['cloudfront', 'plan'], { cwd: dir });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).distributionConfig.DefaultCacheBehavior.TargetOriginId).toBe(
      'edgewise-origin',
    );
    const cfn = await runCli(['cloudfront', 'plan', '--format', 'cloudformation'], { cwd: dir });
    expect(cfn.code).toBe(0);
    expect(JSON.parse(cfn.stdout).Parameters.TrustedKeyGroupId.Type).toBe('String');
    writeFileSync(
      join(dir, 'edgewise.yaml'),
      'cloudfront:\n  forwardHeaders:\n    user_content: [authorization]\n',
    );
    const bad = await runCli(['cloudfront', 'plan'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/class user_content: Authorization is forwarded/);
  });

  test('sign url prints a URL the verifier accepts; without a key it exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgewise-signcli-'));
    const none = await runCli(['sign', 'url', 'u/a.jpg'], { cwd: dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/cloudfront\.signing/);
    const keys = ensureDevSigningKeys(join(dir, 'keys'));
    writeFileSync(
      join(dir, 'edgewise.yaml'),
      `cloudfront:\n  distribution: { baseUrl: 'https://cdn.example.com' }\n  signing: { keyPairId: ${keys.keyPairId}, privateKeyFile: ${keys.privateKeyFile} }\n`,
    );
    const res = await runCli(
      ['sign', 'url', 'u/my photo+1.jpg', '--expires', '10m', '--ip', '203.0.113.0/24'],
      { cwd: dir },
    );
    expect(res.code).toBe(0);
    const url = res.stdout.trim();
    expect(url).toMatch(/^https:\/\/cdn\.example\.com\/u\/my%20photo%2B1\.jpg\?Policy=/);
    const { verifySignedRequest } = await import('../../src/cloudfront/verifier.js');
    const config = loadConfig({ file: join(dir, 'edgewise.yaml'), cwd: dir, env: {} }).config;
    expect(verifySignedRequest(config, { url, clientIp: '203.0.113.5' })).toEqual({ ok: true });
    // --expires takes the one duration syntax (src/config/duration.ts): compound values too.
    const before = Math.floor(Date.now() / 1000);
    const compound = await runCli(['sign', 'url', 'u/a.jpg', '--expires', '1h30m'], { cwd: dir });
    expect(compound.code).toBe(0);
    const exp = Number(/Expires=(\d+)/.exec(compound.stdout)?.[1]);
    expect(exp - before).toBeGreaterThanOrEqual(5400);
    expect(exp - before).toBeLessThan(5400 + 60);
    const badExpires = await runCli(['sign', 'url', 'u/a.jpg', '--expires', '5 fortnights'], { cwd: dir });
    expect(badExpires.code).toBe(2);
    expect(badExpires.stderr).toMatch(/--expires/);
    const badIp = await runCli(['sign', 'url', 'u/a.jpg', '--ip', 'nope'], { cwd: dir });
    expect(badIp.code).toBe(2);
    const v6 = await runCli(['sign', 'url', 'u/a.jpg', '--ip', '2001:db8::/32'], { cwd: dir });
    expect(v6.code).toBe(2);
    expect(v6.stderr).toMatch(
      /IPv6 range "2001:db8::\/32" cannot be signed: CloudFront policies restrict by IPv4/,
    );
    expect(v6.stdout).toBe('');
    // --cookies prints whole Set-Cookie header lines a server can send as they are.
    const jar = await runCli(['sign', 'url', '/u/album/1.jpg', '--wildcard', '/u/album/*', '--cookies'], {
      cwd: dir,
    });
    expect(jar.code).toBe(0);
    const lines = jar.stdout.trim().split('\n');
    expect(lines.map((l) => /^Set-Cookie: (CloudFront-[A-Za-z-]+)=/.exec(l)?.[1]).sort()).toEqual([
      'CloudFront-Key-Pair-Id',
      'CloudFront-Policy',
      'CloudFront-Signature',
    ]);
    for (const l of lines) expect(l).toMatch(/^Set-Cookie: [^;]+=[^;]+; Path=\/; Secure; HttpOnly$/);
    const cookieHeader = lines.map((l) => l.slice('Set-Cookie: '.length).split(';')[0]).join('; ');
    expect(
      verifySignedRequest(config, { url: '/u/album/2.jpg', clientIp: '198.51.100.1', cookies: cookieHeader }),
    ).toEqual({ ok: true });
  });
});
