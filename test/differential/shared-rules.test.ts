/**
 * The rules the viewer-request function inlines (canonical path, Accept negotiation) give the
 * same answer in the built function as in the origin's modules, for every shared case.
 */
import { describe, expect, it } from 'vitest';
import { buildFunctions } from '../../src/cloudfront/build.js';
import { requestEvent } from '../../src/cloudfront/events.js';
import { loadViewerFunction, type RunResult } from '../../src/cloudfront/runtime.js';
import { buildConfig } from '../../src/config/index.js';
import { catalogue } from '../../src/errors.js';
import { checkPath } from '../../src/http/path.js';
import { autoToken } from '../../src/images/negotiate.js';
import { ACCEPT_CASES } from './accept.js';
import { PATH_CASES } from './paths.js';

const { config } = buildConfig({}, undefined);
const built = buildFunctions(config);
const fn = loadViewerFunction(built.viewerRequest.code);

function run(url: string, headers: Record<string, string> = {}): Promise<RunResult> {
  return fn.run(
    requestEvent({ method: 'GET', url, headers: { host: 'cdn.test', ...headers }, clientIp: '192.0.2.1' }),
  );
}

function errorBody(r: RunResult): { statusCode: number; code: string; message: string } | undefined {
  if (r.kind !== 'response') return undefined;
  const body = r.response.body;
  return JSON.parse(typeof body === 'string' ? body : (body?.data ?? '')) as never;
}

describe('built viewer-request function = origin modules', () => {
  it.each(PATH_CASES.filter(([p]) => p.startsWith('/')))('path %s', async (raw) => {
    const origin = checkPath(raw);
    const r = await run(raw);
    if (origin.kind === 'canonical') {
      expect(r.kind, JSON.stringify(r)).toBe('request');
      return;
    }
    const body = errorBody(r);
    const want = origin.kind === 'invalid' ? 'EDGEWISE_BAD_PATH' : 'EDGEWISE_NON_CANONICAL_PATH';
    expect(body).toMatchObject({ statusCode: 400, code: want });
    if (origin.kind === 'non-canonical') expect(body?.message).toContain(origin.canonical);
  });

  it.each(ACCEPT_CASES)('Accept %j → %s', async (accept, token) => {
    expect(autoToken(accept, ['avif', 'webp', 'jpeg', 'png'])).toBe(token);
    const r = await run('/img/a.jpg?w=640', accept ? { accept } : {});
    if (r.kind !== 'request') throw new Error(JSON.stringify(r));
    expect(r.request.querystring.fmt?.value ?? 'auto').toBe(token);
  });

  it('every error the function answers is the catalogue JSON with a catalogue code', async () => {
    const answers = [
      await run(`/static/${'a'.repeat(9000)}`),
      await run('/static/a%2fb'),
      await run('/img/a.jpg?w=abc'),
    ];
    for (const r of answers) {
      const body = errorBody(r)!;
      expect(Object.keys(catalogue)).toContain(body.code);
      if (r.kind !== 'response') throw new Error('expected a response');
      expect(body.statusCode).toBe(r.response.statusCode);
      expect(r.response.headers?.['content-type']?.value).toMatch(/^application\/json/);
      expect(r.response.headers?.['cache-control']?.value).toBe('no-store');
    }
    expect(errorBody(answers[0]!)?.code).toBe('EDGEWISE_URI_TOO_LONG');
  });
});
