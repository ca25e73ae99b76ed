/**
 * The viewer-request and viewer-response CloudFront Functions, run by the CloudFront runtime
 * emulator (src/cloudfront/runtime.ts) on the files `edgewise cloudfront build` writes, so what
 * runs locally is what is deployed. Each file is compiled once at start.
 *
 * viewer-request may rewrite the request (uri, query, headers, cookies: the edge then keys,
 * checks and fetches the rewritten request) or answer it (a generated response). Its failures
 * are answered as CloudFront does: 503 for a throw, 502 for an invalid result.
 * viewer-response may change the status and headers; the edge's own X-Cache/X-Amz-Cf-* fields
 * are hidden from it (CloudFront hides them too) and restored after.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { BuildOutput } from '../../cloudfront/build.js';
import { fromCfHeaders, requestEvent, responseEvent, serializeQuery } from '../../cloudfront/events.js';
import { KeyValueStore } from '../../cloudfront/kvs.js';
import {
  type CfCookie,
  type CfMap,
  type CfRequest,
  loadViewerFunction,
  type ViewerFunction,
} from '../../cloudfront/runtime.js';
import type { EdgeContext } from '../context.js';
import type { RequestStep } from '../edge.js';
import type { ResponseHook } from '../respond.js';

export interface ViewerFunctions {
  request: RequestStep | undefined;
  response: ResponseHook | undefined;
  /** Files loaded, for the start-up log. */
  loaded: string[];
  /** Swaps in functions rebuilt from a reloaded config (see loadViewerFunctions). */
  update(built: BuildOutput): 'updated' | 'not-generated' | 'none';
}

/** The first line `edgewise cloudfront build` writes into every function it generates. */
const GENERATED = '// edgewise';

const cfRequests = new WeakMap<EdgeContext, CfRequest>();

function cookieHeader(cookies: CfMap): string | undefined {
  const parts: string[] = [];
  for (const [name, c] of Object.entries(cookies))
    for (const v of c.multiValue ?? [{ value: c.value }]) parts.push(`${name}=${v.value}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

function setCookies(cookies: Record<string, CfCookie> | undefined): string[] {
  const out: string[] = [];
  for (const [name, c] of Object.entries(cookies ?? {}))
    for (const v of c.multiValue ?? [{ value: c.value, attributes: c.attributes }])
      out.push(v.attributes ? `${name}=${v.value}; ${v.attributes}` : `${name}=${v.value}`);
  return out;
}

function bodyOf(body: string | { data: string; encoding: 'text' | 'base64' } | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.from(body.data, body.encoding === 'base64' ? 'base64' : 'utf8');
}

/** Fields the edge adds: hidden from the viewer-response function and restored after it. */
const EDGE_OWNED = ['x-cache', 'x-amz-cf-pop', 'x-amz-cf-id', 'via', 'server-timing'];

export function loadViewerFunctions(
  options: { dir: string; viewerRequest: boolean; viewerResponse: boolean },
  log: (line: string) => void,
): ViewerFunctions {
  const loaded: string[] = [];
  // Functions built with classSource kvs read their classes from a KeyValueStore; the build
  // writes its contents next to them (kvs.json, AWS's import format), which stands in for the
  // store locally; a file CloudFront would not import is refused at start (KvsFormatError).
  const kvsFile = join(options.dir, 'kvs.json');
  let kvs = existsSync(kvsFile) ? KeyValueStore.fromFile(kvsFile) : undefined;
  let generated = true;
  const load = (name: string, enabled: boolean): ViewerFunction | undefined => {
    const file = join(options.dir, name);
    if (!enabled || !existsSync(file)) return undefined;
    loaded.push(file);
    const code = readFileSync(file, 'utf8');
    if (!code.startsWith(GENERATED)) generated = false;
    return loadViewerFunction(code, { log, ...(kvs ? { kvs } : {}) });
  };
  let reqFn = load('viewer-request.js', options.viewerRequest);
  let resFn = load('viewer-response.js', options.viewerResponse);
  const hasFunctions = reqFn !== undefined || resFn !== undefined;

  /**
   * A reload of the config reaches the functions on the next request, as a KeyValueStore update
   * (classSource kvs) or a function publish (inline) reaches CloudFront: functions edgewise built
   * are rebuilt from the new config and swapped in; the KeyValueStore's contents are replaced.
   * Functions someone else wrote are left as they are (there is nothing to rebuild them from).
   */
  const update = (built: BuildOutput): 'updated' | 'not-generated' | 'none' => {
    if (!hasFunctions) return 'none';
    if (!generated) return 'not-generated';
    if (built.kvs) {
      if (kvs) kvs.replace(built.kvs.data);
      else kvs = new KeyValueStore(built.kvs.data);
    }
    const opts = { log, ...(kvs ? { kvs } : {}) };
    if (reqFn) reqFn = loadViewerFunction(built.viewerRequest.code, opts);
    if (resFn) resFn = loadViewerFunction(built.viewerResponse.code, opts);
    return 'updated';
  };

  const request: RequestStep | undefined = reqFn
    ? async (ctx) => {
        const fn = reqFn!;
        // CloudFront-Forwarded-Proto tells the function the viewer's scheme. It is added for https
        // only: over plain http the edge has already applied the viewer protocol policy (or
        // cannot, having no TLS listener), so the function must not redirect again.
        const viewerHeaders =
          ctx.scheme === 'https' && ctx.headers['cloudfront-forwarded-proto'] === undefined
            ? { ...ctx.headers, 'cloudfront-forwarded-proto': 'https' }
            : ctx.headers;
        const event = requestEvent({
          method: ctx.method,
          url: ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path,
          headers: viewerHeaders as Record<string, string>,
          clientIp: ctx.clientIp,
          requestId: ctx.requestId,
          ...(ctx.host ? { distributionDomainName: ctx.host } : {}),
        });
        const result = await fn.run(event);
        if (result.kind === 'error')
          return { statusCode: result.status, code: result.code, message: result.message };
        if (result.kind === 'response') {
          const r = result.response;
          const headers: OutgoingHttpHeaders = fromCfHeaders(r.headers);
          const cookies = setCookies(r.cookies);
          if (cookies.length > 0) headers['set-cookie'] = cookies;
          const body = bodyOf(r.body);
          headers['content-length'] = String(body.length);
          return { status: r.statusCode, headers, body };
        }
        const rq = result.request;
        cfRequests.set(ctx, rq);
        ctx.path = rq.uri;
        ctx.query = serializeQuery(rq.querystring);
        const headers: Record<string, string | string[]> = fromCfHeaders(rq.headers);
        // Fields CloudFront hides from functions still reach the origin.
        for (const k of ['connection', 'transfer-encoding', 'x-forwarded-proto', 'expect']) {
          const v = ctx.headers[k];
          if (v !== undefined) headers[k] = v;
        }
        const cookie = cookieHeader(rq.cookies);
        if (cookie !== undefined) headers.cookie = cookie;
        ctx.headers = headers;
        return undefined;
      }
    : undefined;

  const response: ResponseHook | undefined = resFn
    ? async (ctx, status, headers) => {
        const fn = resFn!;
        // "CloudFront does not invoke edge functions for viewer response events when the origin
        // returns HTTP status code 400 or higher" (Developer Guide, restrictions on edge
        // functions): an error keeps the origin's Cache-Control, never a class's browser TTL.
        if (status >= 400 || !ctx.functions) return { status, headers };
        const cfRequest =
          cfRequests.get(ctx) ??
          requestEvent({
            method: ctx.method,
            url: ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path,
            headers: ctx.headers as Record<string, string>,
            clientIp: ctx.clientIp,
          }).request;
        const visible: OutgoingHttpHeaders = {};
        for (const k in headers) if (!EDGE_OWNED.includes(k)) visible[k] = headers[k];
        const result = await fn.run(
          responseEvent(cfRequest, ctx.clientIp, { statusCode: status, headers: visible }),
        );
        if (result.kind === 'error') {
          const body = Buffer.from(
            JSON.stringify({ statusCode: result.status, code: result.code, message: result.message }),
          );
          return {
            status: result.status,
            headers: {
              'content-type': 'application/json; charset=utf-8',
              'content-length': String(body.length),
              'cache-control': 'no-store',
              'x-cache': headers['x-cache'],
            },
            replaceBody: body,
          };
        }
        if (result.kind !== 'response') return { status, headers };
        const r = result.response;
        const out: OutgoingHttpHeaders = fromCfHeaders(r.headers);
        // Read-only and hidden fields keep the edge's values.
        for (const k of [...EDGE_OWNED, 'content-length', 'content-encoding', 'transfer-encoding']) {
          if (k !== 'server-timing' && headers[k] !== undefined) out[k] = headers[k];
        }
        // Server-Timing is a list: the function may add metrics (the built one names the class,
        // cloudfront.functions.serverTiming); the edge's own stay first.
        const mine = headers['server-timing'];
        const theirs = out['server-timing'];
        if (mine !== undefined)
          out['server-timing'] = theirs === undefined ? mine : `${String(mine)}, ${String(theirs)}`;
        const cookies = setCookies(r.cookies);
        if (cookies.length > 0) out['set-cookie'] = cookies;
        return { status: r.statusCode, headers: out };
      }
    : undefined;

  return { request, response, loaded, update };
}
