/**
 * AWS samples through the real local edge (origin and edge on 127.0.0.1): the runtime's answer is
 * what a viewer gets. Regression: AWS's normalize-query-string sample (query returned as a
 * string) was answered 502, and `import cf from 'cloudfront'` samples could not load.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { startTestEdge, type TestEdge } from '../edge/helpers.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';

const samples = join(import.meta.dirname, '../fixtures/aws-samples');
let origin: TestOrigin;
let edge: TestEdge | undefined;
let fnDir: string | undefined;

beforeAll(async () => {
  origin = await startTestOrigin();
  await origin.storage.put('static/hello.txt', Readable.from([Buffer.from('hello')]), {
    contentType: 'text/plain',
  });
});
afterEach(async () => {
  await edge?.close();
  edge = undefined;
  if (fnDir) await rm(fnDir, { recursive: true, force: true });
});
afterAll(async () => {
  await origin?.close();
});

async function edgeWith(sample: string, kvs?: unknown) {
  fnDir = await mkdtemp(join(tmpdir(), 'edgewise-aws-sample-'));
  await copyFile(join(samples, sample), join(fnDir, 'viewer-request.js'));
  if (kvs) await writeFile(join(fnDir, 'kvs.json'), JSON.stringify(kvs));
  const c = origin.store.current;
  edge = await startTestEdge(
    origin.url,
    { classes: c.classes, defaultClass: c.defaultClass },
    { functions: { dir: fnDir } },
  );
  return edge;
}

test('normalize-query-string: 200 through the edge, not 502', async () => {
  const e = await edgeWith('normalize-query-string-parameters/normalize-query-string.js');
  const res = await request(`${e.url}/static/hello.txt?b=2&a=1`);
  expect(res.statusCode).toBe(200);
  expect(await res.body.text()).toBe('hello');
});

test('kvs-key-value-pairs: the edge loads kvs.json and the function rewrites /assets/… to /static/…', async () => {
  const e = await edgeWith('kvs-key-value-pairs/kvs-key-value-pairs.js', {
    data: [{ key: 'assets', value: 'static' }],
  });
  const res = await request(`${e.url}/assets/hello.txt`);
  expect(res.statusCode).toBe(200);
  expect(await res.body.text()).toBe('hello');
});

test('select-origin-based-on-country: 503 with the catalogue message naming why', async () => {
  const e = await edgeWith('select-origin-based-on-country/index.js');
  const res = await request(`${e.url}/static/hello.txt`);
  expect(res.statusCode).toBe(503);
  const body = (await res.body.json()) as { code: string; message: string };
  expect(body.code).toBe('EDGEWISE_FUNCTION_ERROR');
  expect(body.message).toMatch(/updateRequestOrigin\(\) changes the request's origin/);
});
