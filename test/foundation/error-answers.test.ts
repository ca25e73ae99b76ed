/**
 * Every error the edge or a CloudFront function makes is the catalogue's JSON: the code's status
 * and the code's message (its template from src/errors.ts with the detail filled in), never a
 * bare internal reason. Checked on the built viewer-request function's own answers, on the
 * function runtime's failures (what the edge answers for a function that throws or returns
 * a bad object), and on the local edge's signed-URL refusals.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { buildFunctions } from '../../src/cloudfront/build.js';
import { requestEvent } from '../../src/cloudfront/events.js';
import { ensureDevSigningKeys } from '../../src/cloudfront/keys.js';
import { loadViewerFunction } from '../../src/cloudfront/runtime.js';
import { signViewerUrl } from '../../src/cloudfront/signer.js';
import { buildConfig } from '../../src/config/index.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';
import { catalogue } from '../../src/errors.js';
import { testClass, useCountingOriginAndEdge } from '../edge/helpers.js';

type Code = keyof typeof catalogue;
interface Body {
  statusCode: number;
  code: string;
  message: string;
}

/** The code's message template as a pattern: util.format leaves `%s` when given nothing. */
function template(code: Code): RegExp {
  const text = new (catalogue[code] as new () => Error)().message;
  const parts = text.split('%s').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.+')}$`, 's');
}

/** The body is the catalogue's answer for `code`, with the detail that must be in it. */
function expectCatalogue(body: Body, code: Code, detail?: string): void {
  expect(body.code).toBe(code);
  expect(body.statusCode).toBe(catalogue[code].statusCode);
  expect(body.message).toMatch(template(code));
  if (detail !== undefined) expect(body.message).toContain(detail);
}

describe('the built viewer-request function', () => {
  const { config } = buildConfig(
    {
      classes: [
        testClass({ name: 'strict', pathPatterns: ['/s/*'], viewerProtocolPolicy: 'https-only' }),
        ...DEFAULT_CLASSES,
      ],
    },
    undefined,
  );
  const fn = loadViewerFunction(buildFunctions(config).viewerRequest.code);
  const answer = async (url: string, headers: Record<string, string> = {}) => {
    const r = await fn.run(
      requestEvent({ method: 'GET', url, headers: { host: 'cdn.test', ...headers }, clientIp: '192.0.2.1' }),
    );
    if (r.kind !== 'response') throw new Error(`no answer for ${url}: ${JSON.stringify(r)}`);
    const body = r.response.body;
    const parsed = JSON.parse(typeof body === 'string' ? body : (body?.data ?? '')) as Body;
    expect(r.response.statusCode).toBe(parsed.statusCode);
    return parsed;
  };

  it.each([
    [
      'EDGEWISE_URI_TOO_LONG',
      `/static/${'a'.repeat(9000)}`,
      {},
      String(config.cloudfront.functions.maxUriBytes),
    ],
    ['EDGEWISE_BAD_PATH', '/static/a%2fb', {}, undefined],
    ['EDGEWISE_NON_CANONICAL_PATH', '/st%61tic/a.css', {}, '/static/a.css'],
    ['EDGEWISE_EDGE_HTTPS_REQUIRED', '/s/a', { 'cloudfront-forwarded-proto': 'http' }, undefined],
    ['EDGEWISE_IMAGE_BAD_PARAM', '/img/a.jpg?w=abc', {}, 'w'],
  ] as const)('%s', async (code, url, headers, detail) => {
    expectCatalogue(await answer(url, headers), code, detail);
  });
});

describe('the CloudFront function runtime', () => {
  const run = (body: string) =>
    loadViewerFunction(`function handler(event) { ${body} }`).run(
      requestEvent({ method: 'GET', url: '/t/a', headers: { host: 'cdn.test' }, clientIp: '192.0.2.1' }),
    );

  it('a function that throws: FunctionError with the thrown message as the detail', async () => {
    const r = await run("throw new Error('boom');");
    if (r.kind !== 'error') throw new Error(JSON.stringify(r));
    expectCatalogue(
      { statusCode: r.status, code: r.code, message: r.message },
      'EDGEWISE_FUNCTION_ERROR',
      'boom',
    );
    expect(r.reason).toBe('boom');
  });

  it('a function that returns a bad object: FunctionInvalidResult naming the problem', async () => {
    const r = await run("event.request.headers.host = { value: 'evil' }; return event.request;");
    if (r.kind !== 'error') throw new Error(JSON.stringify(r));
    expectCatalogue(
      { statusCode: r.status, code: r.code, message: r.message },
      'EDGEWISE_FUNCTION_INVALID_RESULT',
      r.reason,
    );
  });
});

describe('the local edge', () => {
  const { setup, cleanup } = useCountingOriginAndEdge();

  it('refuses a signed class with the catalogue message for the verifier code, before the origin', async () => {
    const keysDir = await mkdtemp(join(tmpdir(), 'edgewise-keys-'));
    cleanup.push(() => rm(keysDir, { recursive: true, force: true }));
    const keys = ensureDevSigningKeys(keysDir);
    const { origin, edge } = await setup({
      classes: [
        testClass({ signed: true, name: 'private_files', pathPatterns: ['/private/*'] }),
        testClass(),
      ],
      cloudfront: { signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile } },
    });
    const get = async (path: string) => {
      const res = await request(`${edge.url}${path}`);
      return { status: res.statusCode, body: (await res.body.json()) as Body };
    };
    const missing = await get('/private/doc.txt');
    expect(missing.status).toBe(403);
    expectCatalogue(
      missing.body,
      'EDGEWISE_SIGNATURE_MISSING',
      'no signed-URL parameters or CloudFront cookies',
    );

    const signed = new URL(signViewerUrl(edge.store.current, '/private/doc.txt'));
    const other = await get(`/private/other.txt${signed.search}`);
    expect(other.status).toBe(403);
    expectCatalogue(other.body, 'EDGEWISE_SIGNATURE_INVALID', 'signature does not match the URL and expiry');

    const extra = await get(`${signed.pathname}${signed.search}&w=1`);
    expectCatalogue(extra.body, 'EDGEWISE_SIGNATURE_EXTRA_PARAM', '"w" follows the signature parameters');
    expect(origin.count()).toBe(0);
  });
});
