/**
 * `edgewise cloudfront deploy` and `cloudfront kvs sync`, run as the built CLI against a
 * loopback fake of CloudFront's control and KeyValueStore data-plane APIs (deploy-fake.ts), with
 * the real AWS SDK clients pointed at it the SDK's way (AWS_ENDPOINT_URL_<SERVICE>) and static
 * credentials. The fake checks If-Match as CloudFront does; its TestFunction runs the staged
 * code with the local runtime and the fake store's contents.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildFunctions } from '../../src/cloudfront/build.js';
import { outputDifferences } from '../../src/cloudfront/deploy-events.js';
import { buildConfig } from '../../src/config/index.js';
import { runCli } from '../helpers/cli.js';
import { FakeCloudFront } from './deploy-fake.js';

const DNS_PRELOAD = fileURLToPath(new URL('./deploy-localhost-dns.mjs', import.meta.url));
const KVS_ID = 'a1b2c3d4-test';
const VREQ = 'edgewise-viewer-request';
const VRES = 'edgewise-viewer-response';

let fake: FakeCloudFront;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgewise-deploy-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(async () => {
  fake = new FakeCloudFront();
  await fake.listen();
});
afterEach(() => fake.close());

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: 'AKIDSTATIC',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_PROFILE: undefined,
    AWS_REGION: undefined,
    AWS_CONFIG_FILE: join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_CLOUDFRONT: fake.endpoint,
    // The KVS SDK puts the account id in front of the host: <account>.localhost:<port>.
    AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE: fake.endpoint.replace('127.0.0.1', 'localhost'),
    NODE_OPTIONS: `--import=${DNS_PRELOAD}`,
    ...extra,
  };
}

function writeConfig(name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

const KVS_YAML = `cloudfront:\n  functions:\n    classSource: kvs\n    kvsId: ${KVS_ID}\n`;
const built = (yaml: string) => buildFunctions(buildConfig(parseYaml(yaml) ?? {}, undefined).config);

function deploy(config: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli(['cloudfront', 'deploy', '--config', config, ...args], {
    env: env(extraEnv),
    timeoutMs: 60_000,
  });
}

describe('cloudfront deploy (inline classes)', () => {
  test('creates both functions in DEVELOPMENT, runs TestFunction on every class event, then publishes to LIVE with the DEVELOPMENT ETag', async () => {
    const config = writeConfig('inline.yaml', '{}\n');
    const res = await deploy(config);
    expect(res.code, res.stderr).toBe(0);
    // What `cloudfront build` writes (the CLI's compiled code, as the functions inline shared rules).
    const out = join(dir, 'built');
    expect((await runCli(['cloudfront', 'build', '--config', config, '--out', out])).code).toBe(0);
    expect(fake.functions.get(VREQ)?.live?.code).toBe(readFileSync(join(out, 'viewer-request.js'), 'utf8'));
    expect(fake.functions.get(VRES)?.live?.code).toBe(readFileSync(join(out, 'viewer-response.js'), 'utf8'));
    expect(fake.functions.get(VREQ)?.live?.runtime).toBe('cloudfront-js-2.0');
    // One request per class (static, api, user content) plus an image request; a response each.
    const tests = fake.calls.filter((c) => c.op === 'TestFunction');
    expect(tests.filter((c) => c.name === VREQ)).toHaveLength(4);
    expect(tests.filter((c) => c.name === VRES)).toHaveLength(4);
    expect(tests.every((c) => c.stage === 'DEVELOPMENT')).toBe(true);
    // Nothing is published before both functions passed their tests.
    const ops = fake.calls.map((c) => `${c.op} ${c.name ?? ''}`.trim());
    const firstPublish = ops.findIndex((o) => o.startsWith('PublishFunction'));
    expect(ops.slice(firstPublish)).toEqual([`PublishFunction ${VREQ}`, `PublishFunction ${VRES}`]);
    expect(res.stdout).toMatch(/static_assets GET \/static\/edgewise-test\?b=2&a=1/);
    expect(res.stdout).toMatch(/done: edgewise-viewer-request published, edgewise-viewer-response published/);
    expect(fake.calls.every((c) => c.accessKeyId === 'AKIDSTATIC')).toBe(true);
  });

  test('a re-deploy with no change writes nothing; a changed browserTtl updates DEVELOPMENT with the current ETag, tests and publishes', async () => {
    const config = writeConfig('ttl.yaml', '{}\n');
    expect((await deploy(config)).code).toBe(0);
    fake.calls.length = 0;
    const again = await deploy(config);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/edgewise-viewer-request: unchanged/);
    expect(fake.ops().filter((o) => /Create|Update|Test|Publish/.test(o))).toEqual([]);

    const devEtag = fake.functions.get(VRES)!.dev.etag;
    const changed = writeConfig(
      'ttl2.yaml',
      "classes:\n  - { name: static_assets, pathPatterns: ['/static/*'], ttl: { default: 600, max: 3600 }, browserTtl: 120 }\n",
    );
    fake.calls.length = 0;
    const res = await deploy(changed);
    expect(res.code, res.stderr).toBe(0);
    const update = fake.calls.find((c) => c.op === 'UpdateFunction' && c.name === VRES);
    expect(update?.ifMatch).toBe(devEtag);
    const live = fake.functions.get(VRES)!;
    expect(live.live?.code).toContain('"b":120');
    const publish = fake.calls.find((c) => c.op === 'PublishFunction' && c.name === VRES);
    expect(publish?.ifMatch).toBe(live.dev.etag);
  });

  test('a TestFunction result that differs from the local runtime refuses to publish anything and exits 1 naming the difference', async () => {
    const config = writeConfig('mismatch.yaml', '{}\n');
    fake.testOutput = (name, output) =>
      name === VRES ? output.replace(/public, max-age=\d+/, 'public, max-age=1') : output;
    const res = await deploy(config);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^edgewise cloudfront deploy: not published: TestFunction results differ/m);
    expect(res.stderr).toMatch(/edgewise-viewer-response, 2 of 4 tests/);
    expect(res.stderr).toMatch(/response\.headers\.cache-control\.value: got "public, max-age=1[",]/);
    expect(res.stderr).not.toMatch(/^\s+at\s/m);
    expect(fake.ops()).not.toContain('PublishFunction');
    expect(fake.functions.get(VREQ)?.live).toBeUndefined();
  });

  test('a function that fails in TestFunction (FunctionErrorMessage) refuses too', async () => {
    const config = writeConfig('error.yaml', '{}\n');
    fake.testError = (name) => (name === VREQ ? 'TypeError: cannot read property of undefined' : undefined);
    const res = await deploy(config);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/edgewise-viewer-request, 4 of 4 tests/);
    expect(res.stderr).toMatch(/the function failed: TypeError: cannot read property of undefined/);
    expect(fake.ops()).not.toContain('PublishFunction');
  });

  test('a concurrent change between our read and our write is PreconditionFailed, reported with the call, exit 1', async () => {
    const config = writeConfig('race.yaml', '{}\n');
    expect((await deploy(config)).code).toBe(0);
    const changed = writeConfig('race2.yaml', 'cloudfront:\n  functions:\n    referrerPolicy: no-referrer\n');
    fake.concurrentWriteTo = VRES;
    const res = await deploy(changed);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /^edgewise cloudfront deploy: UpdateFunction edgewise-viewer-response: PreconditionFailed: .*run the command again/m,
    );
  });

  test('--dry-run prints the functions and their test events, needs no credentials and sends nothing', async () => {
    const config = writeConfig('dry.yaml', '{}\n');
    const res = await runCli(['cloudfront', 'deploy', '--config', config, '--dry-run'], {
      env: env({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }),
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(
      /^edgewise-viewer-request: \d+ bytes, cloudfront-js-2.0, 4 TestFunction events:/m,
    );
    expect(res.stdout).toMatch(/api_responses GET \/api\/edgewise-test\?b=2&a=1/);
    expect(res.stdout).toMatch(/dry run: every test passed in the local runtime; nothing was sent to AWS/);
    expect(fake.calls).toEqual([]);
  });

  test('no credentials: a clear error naming what to set, exit 1', async () => {
    const config = writeConfig('nocreds.yaml', '{}\n');
    const res = await deploy(config, [], { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/CredentialsProviderError: .*--profile/);
    expect(fake.calls).toEqual([]);
  });

  test('--profile signs with that profile of the shared credentials file', async () => {
    const creds = writeConfig(
      'credentials',
      '[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n',
    );
    const config = writeConfig('profile.yaml', '{}\n');
    const res = await deploy(config, ['--profile', 'ops'], {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SHARED_CREDENTIALS_FILE: creds,
    });
    expect(res.code, res.stderr).toBe(0);
    expect(new Set(fake.calls.map((c) => c.accessKeyId))).toEqual(new Set(['AKIDPROFILE']));
  });

  test('region: --region, else the SDK chain (the profile region in the shared config), else us-east-1', async () => {
    const config = writeConfig('region.yaml', '{}\n');
    const shared = writeConfig('aws-config', '[profile ops]\nregion = eu-west-3\n');
    const creds = writeConfig(
      'credentials2',
      '[ops]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n',
    );
    const profileEnv = { AWS_CONFIG_FILE: shared, AWS_SHARED_CREDENTIALS_FILE: creds };
    const regions = async (args: string[], e: NodeJS.ProcessEnv) => {
      fake.calls.length = 0;
      const res = await deploy(config, args, e);
      expect(res.code, res.stderr).toBe(0);
      return [...new Set(fake.calls.map((c) => c.region))];
    };
    expect(await regions(['--profile', 'ops'], profileEnv)).toEqual(['eu-west-3']);
    expect(await regions(['--profile', 'ops', '--region', 'ap-south-1'], profileEnv)).toEqual(['ap-south-1']);
    expect(await regions([], {})).toEqual(['us-east-1']);
  });
});

describe('KeyValueStore mode', () => {
  test('deploy syncs the store first (SigV4A, If-Match), associates it with both functions, and TestFunction reads it', async () => {
    const store = fake.addKvs('edgewise-classes', KVS_ID);
    store.items.set('edgewise:retired_class', '{}');
    store.items.set('other-app:key', 'kept');
    const config = writeConfig('kvs.yaml', KVS_YAML);
    const etag = store.etag;
    const res = await deploy(config);
    expect(res.code, res.stderr).toBe(0);
    const want = built(KVS_YAML).kvs!.data;
    for (const e of want) expect(store.items.get(e.key)).toBe(e.value);
    expect(store.items.has('edgewise:retired_class')).toBe(false);
    expect(store.items.get('other-app:key')).toBe('kept');
    const update = fake.calls.find((c) => c.op === 'UpdateKeys');
    expect(update?.ifMatch).toBe(etag);
    expect(update?.scheme).toBe('AWS4-ECDSA-P256-SHA256');
    expect(fake.ops().indexOf('UpdateKeys')).toBeLessThan(fake.ops().indexOf('TestFunction'));
    expect(fake.functions.get(VREQ)?.live?.kvsArns).toEqual([store.arn]);
    expect(fake.functions.get(VRES)?.live?.kvsArns).toEqual([store.arn]);
  });

  test('kvs sync after a browserTtl change puts only that class, with the current ETag, and publishes no function', async () => {
    const store = fake.addKvs('edgewise-classes', KVS_ID);
    const config = writeConfig('kvs2.yaml', KVS_YAML);
    expect((await deploy(config)).code).toBe(0);
    const changedYaml = `${KVS_YAML}classes:\n  - { name: static_assets, pathPatterns: ['/static/*'], ttl: { default: 600, max: 3600 }, browserTtl: 120 }\n  - { name: api_responses, pathPatterns: ['/api/*'], ttl: { default: 300, max: 300 }, compress: false, browserTtl: 0 }\n`;
    const current = built(KVS_YAML).kvs!.data;
    const next = built(changedYaml).kvs!.data;
    const changedKeys = next
      .filter((e) => current.find((c) => c.key === e.key)?.value !== e.value)
      .map((e) => e.key);
    const etag = store.etag;
    fake.calls.length = 0;
    const res = await runCli(
      ['cloudfront', 'kvs', 'sync', '--config', writeConfig('kvs3.yaml', changedYaml)],
      {
        env: env(),
      },
    );
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(store.items.get('edgewise:static_assets')!)).toMatchObject({ b: 120 });
    expect(fake.calls.find((c) => c.op === 'UpdateKeys')?.ifMatch).toBe(etag);
    for (const k of changedKeys) expect(res.stdout).toContain(`put ${k}`);
    expect(fake.ops().filter((o) => /Function/.test(o))).toEqual([]);
    // Nothing left to do: a second sync reads and writes nothing.
    fake.calls.length = 0;
    const again = await runCli(
      ['cloudfront', 'kvs', 'sync', '--config', writeConfig('kvs4.yaml', changedYaml)],
      {
        env: env(),
      },
    );
    expect(again.stdout).toMatch(/unchanged/);
    expect(fake.ops()).not.toContain('UpdateKeys');
  });

  test('kvs sync: no store with the configured id is a clear error; inline mode is a usage error', async () => {
    const res = await runCli(['cloudfront', 'kvs', 'sync', '--config', writeConfig('kvs5.yaml', KVS_YAML)], {
      env: env(),
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no KeyValueStore has the id a1b2c3d4-test \(cloudfront.functions.kvsId\)/);
    const inline = await runCli(['cloudfront', 'kvs', 'sync', '--config', writeConfig('kvs6.yaml', '{}\n')], {
      env: env(),
    });
    expect(inline.code).toBe(2);
    expect(inline.stderr).toMatch(/classSource is inline/);
  });
});

test('outputDifferences: key order and empty-versus-absent maps do not count; every value does', () => {
  const expected = {
    request: { uri: '/a', querystring: {}, headers: { host: { value: 'h' } }, cookies: {} },
  };
  expect(outputDifferences(expected, { request: { headers: { host: { value: 'h' } }, uri: '/a' } })).toEqual(
    [],
  );
  expect(
    outputDifferences(expected, { request: { uri: '/a', querystring: { a: { value: '1' } }, headers: {} } }),
  ).toEqual([
    'request.headers.host: got nothing, expected {"value":"h"}',
    'request.querystring.a: got {"value":"1"}, expected nothing',
  ]);
});
