/**
 * The events `edgewise cloudfront deploy` hands CloudFront's TestFunction before it publishes,
 * and the result each must give. They are built from the config, not from fixtures: one viewer
 * request per content class (a path its first usable pattern matches, with an unsorted query so
 * the class's query normalisation shows), one image request when the image prefix is a class
 * path, and one viewer response per class (the request as the viewer-request function returned
 * it, plus a plain 200 from the origin). The expected result is what the same built code returns
 * in the local runtime (src/cloudfront/runtime.ts) with the same KeyValueStore contents, so a
 * deploy publishes only code that CloudFront runs exactly as the local edge does.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/test-function.html
 */
import { classify } from '../classes.js';
import type { EdgewiseConfig } from '../config/schema.js';
import type { BuildOutput } from './build.js';
import { KeyValueStore } from './kvs.js';
import { type CfEvent, type CfRequest, type CfResponse, loadViewerFunction } from './runtime.js';

export interface FunctionTest {
  /** What the event stands for: `static_assets GET /static/edgewise-test?b=2&a=1`. */
  label: string;
  event: CfEvent;
  /** TestFunction's FunctionOutput, parsed: `{request}` or `{response}`. */
  expected: { request: CfRequest } | { response: CfResponse };
}

export class TestPlanError extends Error {
  override name = 'TestPlanError';
}

const DOMAIN = 'd111111abcdef8.cloudfront.net';
/** The origin's answer in the viewer-response events: a plain 200 OK. */
const OK = 200;
const SAMPLE = 'edgewise-test';

/** A path the pattern matches: `*` and `?` filled in (`/static/*` → `/static/edgewise-test`). */
function samplePath(pattern: string): string {
  const p = pattern.replace(/\*/g, SAMPLE).replace(/\?/g, 'x');
  return p.startsWith('/') ? p : `/${p}`;
}

function requestEvent(uri: string, query: Record<string, string>, accept = '*/*'): CfEvent {
  return {
    version: '1.0',
    context: { distributionDomainName: DOMAIN, eventType: 'viewer-request' },
    viewer: { ip: '198.51.100.10' },
    request: {
      method: 'GET',
      uri,
      querystring: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, { value: v }])),
      headers: {
        host: { value: DOMAIN },
        accept: { value: accept },
        'user-agent': { value: 'edgewise-deploy' },
      },
      cookies: {},
    },
  };
}

function responseEvent(request: CfRequest): CfEvent {
  return {
    version: '1.0',
    context: { distributionDomainName: DOMAIN, eventType: 'viewer-response' },
    viewer: { ip: '198.51.100.10' },
    request,
    response: {
      statusCode: OK,
      statusDescription: 'OK',
      headers: { 'content-type': { value: 'text/plain; charset=utf-8' }, etag: { value: '"e1"' } },
      cookies: {},
    },
  };
}

const describe = (ev: CfEvent) => {
  const q = Object.entries(ev.request.querystring)
    .map(([k, v]) => `${k}=${v.value}`)
    .join('&');
  return `${ev.request.method} ${ev.request.uri}${q ? `?${q}` : ''}`;
};

/**
 * The TestFunction cases of both functions. Throws TestPlanError when the built code fails one
 * locally: that is a build problem, and nothing should reach AWS.
 */
export async function functionTests(
  config: Readonly<EdgewiseConfig>,
  built: BuildOutput,
): Promise<{ 'viewer-request': FunctionTest[]; 'viewer-response': FunctionTest[] }> {
  const fn = config.cloudfront.functions;
  const kvs = built.kvs ? new KeyValueStore(built.kvs.data, fn.kvsId) : undefined;
  const vreq = loadViewerFunction(built.viewerRequest.code, { kvs });
  const vres = loadViewerFunction(built.viewerResponse.code, { kvs });

  const cases: Array<{ cls: string; event: CfEvent }> = [];
  for (const cls of config.classes) {
    const path = cls.pathPatterns.map(samplePath).find((p) => classify(config, p).name === cls.name);
    // A class all of whose patterns an earlier class shadows gets no request of its own; the
    // default class is reached by a path no pattern matches.
    const uri = path ?? (cls.name === config.defaultClass ? `/${SAMPLE}-default` : undefined);
    if (uri === undefined || classify(config, uri).name !== cls.name) continue;
    cases.push({ cls: cls.name, event: requestEvent(uri, { b: '2', a: '1' }) });
  }
  const imageUri = `${fn.imagePathPrefix}${SAMPLE}.jpg`;
  const imageClass = classify(config, imageUri).name;
  cases.push({
    cls: imageClass,
    event: requestEvent(
      imageUri,
      { w: String((config.images.widths[0] ?? 100) + 1) },
      'image/avif,image/webp,*/*',
    ),
  });

  const requests: FunctionTest[] = [];
  const responses: FunctionTest[] = [];
  for (const c of cases) {
    const label = `${c.cls} ${describe(c.event)}`;
    const r = await vreq.run(c.event);
    if (r.kind === 'error') throw new TestPlanError(`viewer-request fails locally on ${label}: ${r.reason}`);
    requests.push({
      label,
      event: c.event,
      expected: r.kind === 'request' ? { request: r.request } : { response: r.response },
    });
    if (r.kind !== 'request') continue;
    const ev = responseEvent(r.request);
    const out = await vres.run(ev);
    if (out.kind !== 'response')
      throw new TestPlanError(
        `viewer-response fails locally on ${label}: ${out.kind === 'error' ? out.reason : 'returned a request'}`,
      );
    responses.push({
      label: `${c.cls} 200 for ${describe(ev)}`,
      event: ev,
      expected: { response: out.response },
    });
  }
  return { 'viewer-request': requests, 'viewer-response': responses };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Where TestFunction's output differs from the expected result, as `path: got X, expected Y`
 * lines. Key order does not matter, and an absent map is the same as an empty one
 * (`cookies: {}` or no `cookies`): both mean no entries to CloudFront, and which one its
 * serialiser writes is not something a deploy should be refused over. Every value is compared.
 */
export function outputDifferences(expected: unknown, actual: unknown, at = ''): string[] {
  const e = expected as Json;
  const a = actual as Json;
  const isObj = (v: Json) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (Array.isArray(e) && Array.isArray(a)) {
    if (e.length !== a.length) return [`${at}: ${a.length} items, expected ${e.length}`];
    return e.flatMap((v, i) => outputDifferences(v, a[i], `${at}[${i}]`));
  }
  if (isObj(e) && isObj(a)) {
    const eo = e as Record<string, Json>;
    const ao = a as Record<string, Json>;
    const keys = [...new Set([...Object.keys(eo), ...Object.keys(ao)])].sort();
    return keys.flatMap((k) => outputDifferences(eo[k], ao[k], at ? `${at}.${k}` : k));
  }
  const emptyMap = (v: Json | undefined) =>
    v === undefined || (isObj(v) && Object.keys(v as object).length === 0);
  if (emptyMap(e) && emptyMap(a)) return [];
  if (JSON.stringify(e) === JSON.stringify(a)) return [];
  return [
    `${at || '(output)'}: got ${JSON.stringify(a) ?? 'nothing'}, expected ${JSON.stringify(e) ?? 'nothing'}`,
  ];
}
