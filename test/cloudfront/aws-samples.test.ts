/**
 * aws-samples/amazon-cloudfront-functions as an external corpus (test/fixtures/aws-samples, see
 * SOURCE.md): every sample runs on the local runtime with the result CloudFront gives — the one
 * its README or example documents, or, where none is documented, the one the code and AWS's docs
 * imply (written down per case) — or fails with the reason CloudFront's docs lead one to expect.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { KeyValueStore } from '../../src/cloudfront/kvs.js';
import { type CfEvent, loadViewerFunction, type RunResult } from '../../src/cloudfront/runtime.js';
import { checkFunctionSource } from '../../src/cloudfront/runtime-check.js';

const dir = join(import.meta.dirname, '../fixtures/aws-samples');
const source = (file: string) => readFileSync(join(dir, file), 'utf8');
const event = (file: string) => JSON.parse(source(file)) as CfEvent;
const run = (file: string, ev: CfEvent, kvs?: KeyValueStore) =>
  loadViewerFunction(source(file), kvs ? { kvs } : {}).run(ev);
const request = (r: RunResult) => {
  if (r.kind !== 'request') throw new Error(`expected a request, got ${JSON.stringify(r)}`);
  return r.request;
};
const response = (r: RunResult) => {
  if (r.kind !== 'response') throw new Error(`expected a response, got ${JSON.stringify(r)}`);
  return r.response;
};
/** A viewer-request event built as the event-structure documentation shows it. */
const viewerRequest = (uri: string, extra: Partial<CfEvent['request']> = {}): CfEvent => ({
  version: '1.0',
  context: { eventType: 'viewer-request' },
  viewer: { ip: '198.51.100.7' },
  request: {
    method: 'GET',
    uri,
    querystring: {},
    headers: { host: { value: 'www.example.com' } },
    cookies: {},
    ...extra,
  },
});

const SAMPLES = [
  'add-cache-control-header/index.js',
  'add-cors-header/index.js',
  'add-origin-header/index.js',
  'add-security-headers/index.js',
  'add-true-client-ip-header/index.js',
  'kvs-conditional-read/ABUriMappingFunction.js',
  'kvs-jwt-verify/verify-jwt.js',
  'kvs-key-value-pairs/kvs-key-value-pairs.js',
  'normalize-query-string-parameters/normalize-query-string.js',
  'redirect-based-on-country/index.js',
  'select-origin-based-on-country/index.js',
  'url-rewrite-single-page-apps/index.js',
];

afterEach(() => {
  vi.useRealTimers();
});

describe('every sample is a valid runtime 2.0 function and loads', () => {
  for (const file of SAMPLES)
    test(file, () => {
      expect(checkFunctionSource(source(file))).toEqual([]);
      expect(() => loadViewerFunction(source(file), { kvs: new KeyValueStore() })).not.toThrow();
    });
});

describe('viewer-response samples', () => {
  test('add-cache-control-header: the README FunctionOutput (cache-control added, rest unchanged)', async () => {
    const ev = event('add-cache-control-header/test-event.json');
    const r = response(await run('add-cache-control-header/index.js', ev));
    expect(r.headers?.['cache-control']).toEqual({ value: 'public, max-age=63072000' });
    expect(r.headers?.server).toEqual({ value: 'CustomOriginServer' });
    expect(r.statusCode).toBe(200);
  });

  test('add-cors-header: added from the request Origin when missing, kept when present', async () => {
    const added = response(
      await run('add-cors-header/index.js', event('add-cors-header/test-objects/no-cors-header.json')),
    );
    expect(added.headers?.['access-control-allow-origin']).toEqual({ value: 'https://www.example.com' });
    const kept = response(
      await run('add-cors-header/index.js', event('add-cors-header/test-objects/cors-header.json')),
    );
    expect(kept.headers?.['access-control-allow-origin']).toEqual({ value: 'https://www.example.com' });
  });

  test('add-security-headers: the six headers the README lists', async () => {
    const r = response(
      await run('add-security-headers/index.js', event('add-security-headers/test-event.json')),
    );
    expect(r.headers?.['strict-transport-security']?.value).toBe(
      'max-age=63072000; includeSubdomains; preload',
    );
    expect(r.headers?.['x-content-type-options']?.value).toBe('nosniff');
    expect(r.headers?.['x-frame-options']?.value).toBe('DENY');
    expect(r.headers?.['x-xss-protection']?.value).toBe('1; mode=block');
    expect(r.headers?.['referrer-policy']?.value).toBe('same-origin');
    expect(r.headers?.['content-security-policy']?.value).toContain("default-src 'none'");
  });
});

describe('viewer-request samples', () => {
  test('add-origin-header: Origin set from Host when missing, kept when present', async () => {
    const set = request(
      await run('add-origin-header/index.js', event('add-origin-header/test-objects/no-origin-header.json')),
    );
    expect(set.headers.origin).toEqual({ value: 'https://www.example.com' });
    const kept = request(
      await run('add-origin-header/index.js', event('add-origin-header/test-objects/origin-header.json')),
    );
    expect(kept.headers.origin).toEqual({ value: 'https://originexample.com' });
  });

  test('add-true-client-ip-header: true-client-ip is event.viewer.ip', async () => {
    const ev = event('add-true-client-ip-header/test-event.json');
    const r = request(await run('add-true-client-ip-header/index.js', ev));
    expect(r.headers['true-client-ip']).toEqual({ value: ev.viewer.ip });
  });

  test('redirect-based-on-country: 302 to /de/index.html for DE, untouched otherwise', async () => {
    const de = response(
      await run(
        'redirect-based-on-country/index.js',
        event('redirect-based-on-country/test-objects/country-de.json'),
      ),
    );
    expect(de).toMatchObject({
      statusCode: 302,
      headers: { location: { value: 'https://www.example.com/de/index.html' } },
    });
    const other = request(
      await run(
        'redirect-based-on-country/index.js',
        event('redirect-based-on-country/test-objects/country-not-de.json'),
      ),
    );
    expect(other.uri).toBe('/index.html');
  });

  test('url-rewrite-single-page-apps: index.html appended per its three example events', async () => {
    const uri = async (name: string) =>
      request(
        await run(
          'url-rewrite-single-page-apps/index.js',
          event(`url-rewrite-single-page-apps/test-objects/${name}.json`),
        ),
      ).uri;
    expect(await uri('file-name-and-extension')).toMatch(/\.[a-z]+$/);
    expect(await uri('file-name-no-extension')).toMatch(/\/index\.html$/);
    expect(await uri('no-file-name')).toMatch(/\/index\.html$/);
  });

  test('normalize-query-string: returns the query as a sorted string; CloudFront takes it (README: works on 1.0 and 2.0)', async () => {
    const ev = viewerRequest('/a', {
      querystring: { b: { value: '2' }, a: { value: '3', multiValue: [{ value: '3' }, { value: '1' }] } },
    });
    const r = request(await run('normalize-query-string-parameters/normalize-query-string.js', ev));
    expect(r.querystring).toEqual({
      a: { value: '1', multiValue: [{ value: '1' }, { value: '3' }] },
      b: { value: '2' },
    });
  });
});

describe('KeyValueStore samples (store built from the AWS import format)', () => {
  test('kvs-key-value-pairs: the first path segment is replaced by its value; a missing key leaves the uri', async () => {
    const kvs = new KeyValueStore([{ key: 'blog', value: 'blog-v2' }]);
    const file = 'kvs-key-value-pairs/kvs-key-value-pairs.js';
    expect(request(await run(file, viewerRequest('/blog/post/1'), kvs)).uri).toBe('/blog-v2/post/1');
    expect(request(await run(file, viewerRequest('/shop/1'), kvs)).uri).toBe('/shop/1');
  });

  test('kvs-key-value-pairs without an associated store: loading fails as CloudFront\'s comment says ("This fails if there is no key value store")', () => {
    expect(() => loadViewerFunction(source('kvs-key-value-pairs/kvs-key-value-pairs.js'))).toThrow(
      /no KeyValueStore is associated/,
    );
  });

  test('kvs-conditional-read: weight 1 always picks a_url; a sticky cookie or a missing key leaves the uri', async () => {
    const kvs = new KeyValueStore(
      [{ key: 'latest', value: JSON.stringify({ a_weightage: 1, a_url: 'v1', b_url: 'v2' }) }],
      'KVS_ID',
    );
    const file = 'kvs-conditional-read/ABUriMappingFunction.js';
    expect(request(await run(file, viewerRequest('/latest/app.js'), kvs)).uri).toBe('/v1/app.js');
    const sticky = viewerRequest('/latest/app.js', { cookies: { appversion: { value: 'latest' } } });
    expect(request(await run(file, sticky, kvs)).uri).toBe('/latest/app.js');
    expect(request(await run(file, viewerRequest('/other/app.js'), kvs)).uri).toBe('/other/app.js');
    // The sample names its store "KVS_ID"; a store with another id is not the one associated.
    const wrong = new KeyValueStore(
      kvs ? [{ key: 'latest', value: '{"a_weightage":1,"a_url":"v1"}' }] : [],
      'other',
    );
    expect(request(await run(file, viewerRequest('/latest/app.js'), wrong)).uri).toBe('/latest/app.js');
  });

  // The secret the sample's test objects were signed with (AWS's earlier verify-jwt sample's key).
  const jwtStore = new KeyValueStore([
    { key: 'jwt.secret', value: 'LzdWGpAToQ1DqYuzHxE6YOqi7G3X2yvNBot9mCXfx5k' },
  ]);
  const jwt = (name: string) =>
    run('kvs-jwt-verify/verify-jwt.js', event(`kvs-jwt-verify/test-objects/${name}.json`), jwtStore);

  test('kvs-jwt-verify valid-jwt: the README FunctionOutput (jwt removed) while the token is live', async () => {
    // valid-jwt.json expires at 1716239022 (2024-05-20); the README ran before that. Date in a
    // run is the run's start time, taken from the (faked) clock.
    vi.useFakeTimers({ now: new Date('2024-01-01T00:00:00Z'), toFake: ['Date'] });
    const r = request(await jwt('valid-jwt'));
    expect(r.querystring).toEqual({ test: { value: 'anotherQueryString' } });
    vi.setSystemTime(new Date('2024-06-01T00:00:00Z'));
    expect(response(await jwt('valid-jwt'))).toMatchObject({ statusCode: 401 });
  });

  test('kvs-jwt-verify: expired, not-yet-valid, malformed and missing tokens get 401 Unauthorized', async () => {
    vi.useFakeTimers({ now: new Date('2024-01-01T00:00:00Z'), toFake: ['Date'] });
    for (const name of ['expired-jwt', 'invalid-nbe-jwt', 'invalid-jwt', 'missing-jwt'])
      expect(response(await jwt(name)), name).toMatchObject({
        statusCode: 401,
        statusDescription: 'Unauthorized',
      });
  });
});

describe('origin modification', () => {
  test('select-origin-based-on-country: refused locally (503) with the reason — the local edge has one origin', async () => {
    const r = await run(
      'select-origin-based-on-country/index.js',
      viewerRequest('/a.png', {
        headers: { host: { value: 'x' }, 'cloudfront-viewer-country': { value: 'DE' } },
      }),
    );
    expect(r).toMatchObject({ kind: 'error', status: 503, code: 'EDGEWISE_FUNCTION_ERROR' });
    expect(r.kind === 'error' && r.message).toMatch(/updateRequestOrigin\(\) changes the request's origin/);
  });
});
