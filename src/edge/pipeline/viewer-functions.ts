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
 *
 * Functions edgewise built from the running config have their results reused for requests the
 * same in every field a run read (function-memo.ts, docs/edge.md); any other function runs for
 * every request.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { BuildOutput } from '../../cloudfront/build.js';
import {
  fromCfHeaders,
  parseCookies,
  parseQuery,
  parseSetCookies,
  passHeaders,
  requestEvent,
  responseEvent,
  serializeQuery,
} from '../../cloudfront/events.js';
import { KeyValueStore } from '../../cloudfront/kvs.js';
import {
  type CfCookie,
  type CfMap,
  type CfRequest,
  type CfValue,
  loadViewerFunction,
  type RunResult,
  type ViewerFunction,
} from '../../cloudfront/runtime.js';
import { classifyViewerRequest, classifyViewerResponse, RunTrace } from '../../cloudfront/runtime-trace.js';
import type { EdgeContext, RequestHeaders } from '../context.js';
import type { RequestStep } from '../edge.js';
import type { HookResult, ResponseHook } from '../respond.js';
import { encodeSource, FunctionMemo, own } from './function-memo.js';

export interface ViewerFunctions {
  request: RequestStep | undefined;
  response: ResponseHook | undefined;
  /** Files loaded, for the start-up log. */
  loaded: string[];
  /** Swaps in functions rebuilt from a reloaded config (see loadViewerFunctions). */
  update(built: BuildOutput): 'updated' | 'not-generated' | 'none';
  /** Whether results are reused (functions edgewise built from the running config), and why not. */
  reuse: { request: string; response: string };
  /** Results held for reuse now, and how many requests were answered from them so far. */
  memoStats(): { request: number; response: number; requestReused: number; responseReused: number };
}

/** What a viewer-request run did, as the edge applies it. */
type RequestOutcome =
  | {
      kind: 'continue';
      /** The rewritten URI, or undefined when the function left it. */
      path: string | undefined;
      /** The rewritten query, or undefined when the function left it. */
      query: string | undefined;
    }
  | { kind: 'answer'; status: number; headers: OutgoingHttpHeaders; body: Buffer };

/** What a viewer-response run did: the status it set, and its header writes in order. */
interface ResponseOutcome {
  status: number | undefined;
  /** Map-level operations on response.headers, in order (they decide the key order). */
  ops: Array<[string, 'set' | 'delete']>;
  /** Final value of every header the function wrote (undefined: removed). */
  finals: Array<[string, string | string[] | undefined]>;
}

interface ResponseArg {
  ctx: EdgeContext;
  status: number;
  headers: OutgoingHttpHeaders;
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
/** Fields a viewer-response function's result cannot change: they keep the edge's values. */
const KEPT = [
  ...EDGE_OWNED.filter((k) => k !== 'server-timing'),
  'content-length',
  'content-encoding',
  'transfer-encoding',
];
/** Fields CloudFront hides from functions that still reach the origin. */
const HIDDEN_FORWARDED = ['connection', 'transfer-encoding', 'x-forwarded-proto', 'expect'];

/**
 * CloudFront-Forwarded-Proto tells the function the viewer's scheme. It is added for https
 * only: over plain http the edge has already applied the viewer protocol policy (or cannot,
 * having no TLS listener), so the function must not redirect again.
 */
function addsForwardedProto(ctx: EdgeContext): boolean {
  return ctx.scheme === 'https' && ctx.headers['cloudfront-forwarded-proto'] === undefined;
}

/** The viewer's headers as the viewer-request event is built from them. */
function viewerHeadersOf(ctx: EdgeContext): RequestHeaders {
  return addsForwardedProto(ctx) ? { ...ctx.headers, 'cloudfront-forwarded-proto': 'https' } : ctx.headers;
}

/** The value of a viewer-request source (runtime-trace.ts) for this request, as a key fragment. */
function requestSource(ctx: EdgeContext, source: string): string {
  switch (source) {
    case 'm':
      return encodeSource(ctx.method);
    case 'u':
      return encodeSource(ctx.path);
    case 'q':
      return encodeSource(ctx.query);
    case 'c':
      return encodeSource(own(ctx.headers, 'cookie'));
    case 'ip':
      return encodeSource(ctx.clientIp);
    case 'dd':
      return encodeSource(ctx.host);
  }
  // h:<name>: the header as Node gave it (names arrive lowercase), and what else the event's
  // entry for it is made from: HTTP/2's :authority for host, the scheme for the forwarded proto.
  const name = source.slice(2);
  let key = encodeSource(own(ctx.headers, name));
  if (name === 'host') key += encodeSource(own(ctx.headers, ':authority'));
  else if (name === 'cloudfront-forwarded-proto') key += ctx.scheme;
  return key;
}

/** The value of a viewer-response source for this response, as a key fragment. */
function responseSource(a: ResponseArg, source: string): string {
  switch (source) {
    case 's':
      return encodeSource(a.status);
    case 'u':
      return encodeSource(a.ctx.path);
    case 'm':
      return encodeSource(a.ctx.method);
    case 'ip':
      return encodeSource(a.ctx.clientIp);
    case 'rc':
      return encodeSource(own(a.headers, 'set-cookie'));
  }
  const name = source.slice(3);
  return EDGE_OWNED.includes(name) ? encodeSource(undefined) : encodeSource(own(a.headers, name));
}

/** A CloudFront header entry as a Node header value. */
function nodeValue(e: CfValue | undefined): string | string[] | undefined {
  if (e === undefined) return undefined;
  return e.multiValue ? e.multiValue.map((v) => v.value) : e.value;
}

/** Whether a traced run may be reused: it read and wrote only what the sources name, and nothing impure happened. */
function reusable(
  trace: RunTrace | undefined,
  fn: ViewerFunction,
  impurityBefore: number,
): trace is RunTrace {
  return trace !== undefined && trace.unusable === undefined && fn.impurity() === impurityBefore;
}

export interface ViewerFunctionsOptions {
  dir: string;
  viewerRequest: boolean;
  viewerResponse: boolean;
  /**
   * What `edgewise cloudfront build` makes of the running config. A loaded file whose code is
   * exactly that build's has its results reused (function-memo.ts); without it nothing is.
   */
  build?: () => BuildOutput;
  /** Bound on remembered results per function (default 4096). */
  memoEntries?: number;
}

export function loadViewerFunctions(
  options: ViewerFunctionsOptions,
  log: (line: string) => void,
): ViewerFunctions {
  const loaded: string[] = [];
  // Functions built with classSource kvs read their classes from a KeyValueStore; the build
  // writes its contents next to them (kvs.json, AWS's import format), which stands in for the
  // store locally; a file CloudFront would not import is refused at start (KvsFormatError).
  const kvsFile = join(options.dir, 'kvs.json');
  let kvs = existsSync(kvsFile) ? KeyValueStore.fromFile(kvsFile) : undefined;
  let generated = true;
  let built: BuildOutput | string;
  try {
    built = options.build ? options.build() : 'no build to compare the files with';
  } catch (err) {
    built = `the config does not build: ${(err as Error).message}`;
  }
  const reuse = { request: 'not loaded', response: 'not loaded' };
  const load = (name: 'viewer-request' | 'viewer-response', enabled: boolean): ViewerFunction | undefined => {
    const file = join(options.dir, `${name}.js`);
    if (!enabled || !existsSync(file)) return undefined;
    loaded.push(file);
    const code = readFileSync(file, 'utf8');
    if (!code.startsWith(GENERATED)) generated = false;
    const mine =
      typeof built === 'string'
        ? undefined
        : (name === 'viewer-request' ? built.viewerRequest : built.viewerResponse).code;
    reuse[name === 'viewer-request' ? 'request' : 'response'] =
      typeof built === 'string'
        ? built
        : code === mine
          ? 'on'
          : 'the file is not what edgewise builds from this config';
    return loadViewerFunction(code, { log, ...(kvs ? { kvs } : {}) });
  };
  let reqFn = load('viewer-request', options.viewerRequest);
  let resFn = load('viewer-response', options.viewerResponse);
  const hasFunctions = reqFn !== undefined || resFn !== undefined;
  const entries = options.memoEntries ?? 4096;
  const requestMemo = () => new FunctionMemo<EdgeContext, RequestOutcome>(requestSource, entries);
  const responseMemo = () => new FunctionMemo<ResponseArg, ResponseOutcome>(responseSource, entries);
  // Only functions edgewise built from this very config are reused (hand-written ones never).
  let reqMemo = reqFn && reuse.request === 'on' ? requestMemo() : undefined;
  let resMemo = resFn && reuse.response === 'on' ? responseMemo() : undefined;
  let requestReused = 0;
  let responseReused = 0;

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
    // Rebuilt functions are edgewise's build of the new config: reused, from empty memos (a run
    // still in flight remembers into the old memo, which nothing reads any more).
    if (reqFn) {
      reqFn = loadViewerFunction(built.viewerRequest.code, opts);
      reqMemo = requestMemo();
      reuse.request = 'on';
    }
    if (resFn) {
      resFn = loadViewerFunction(built.viewerResponse.code, opts);
      resMemo = responseMemo();
      reuse.response = 'on';
    }
    return 'updated';
  };

  // A reused result is applied synchronously: no promise and no microtask on that path.
  const request: RequestStep | undefined = reqFn
    ? (ctx) => {
        const memo = reqMemo;
        const known = memo?.lookup(ctx);
        if (!known) return runRequest(ctx, reqFn!, memo);
        requestReused++;
        const answer = applyRequest(ctx, known, undefined);
        return answer === undefined ? undefined : Promise.resolve(answer);
      }
    : undefined;

  const runRequest = async (
    ctx: EdgeContext,
    fn: ViewerFunction,
    memo: FunctionMemo<EdgeContext, RequestOutcome> | undefined,
  ) => {
    const viewerHeaders = viewerHeadersOf(ctx);
    const event = requestEvent({
      method: ctx.method,
      url: ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path,
      headers: viewerHeaders as Record<string, string>,
      clientIp: ctx.clientIp,
      requestId: ctx.requestId,
      ...(ctx.host ? { distributionDomainName: ctx.host } : {}),
    });
    const trace = memo ? new RunTrace(classifyViewerRequest) : undefined;
    const impurity = fn.impurity();
    const result = await fn.run(event, trace);
    if (result.kind === 'error')
      return { statusCode: result.status, code: result.code, message: result.message };
    const outcome = requestOutcome(result, trace);
    // The key is read from the request as it came in, before applyRequest rewrites it.
    if (memo && reusable(trace, fn, impurity) && outcome.reusable)
      memo.remember(trace.reads, ctx, outcome.value);
    return applyRequest(ctx, outcome.value, result.kind === 'request' ? result.request : undefined);
  };

  /** The token for "the function does not run for this response": the headers are kept. */
  const UNCHANGED = Object.freeze({});
  // A reused result is applied synchronously: no promise and no microtask on that path.
  const known = (ctx: EdgeContext, status: number, headers: OutgoingHttpHeaders): object | undefined => {
    // "CloudFront does not invoke edge functions for viewer response events when the origin
    // returns HTTP status code 400 or higher" (Developer Guide, restrictions on edge
    // functions): an error keeps the origin's Cache-Control, never a class's browser TTL.
    if (status >= 400 || !ctx.functions) return UNCHANGED;
    const found = resMemo?.lookup({ ctx, status, headers });
    if (found) responseReused++;
    return found;
  };
  const replay = (token: object, status: number, headers: OutgoingHttpHeaders): HookResult =>
    token === UNCHANGED ? { status, headers } : replayResponse(status, headers, token as ResponseOutcome);
  const response: ResponseHook | undefined = resFn
    ? Object.assign(
        (ctx: EdgeContext, status: number, headers: OutgoingHttpHeaders) => {
          const memo = resMemo;
          const token = known(ctx, status, headers);
          if (token !== undefined) return replay(token, status, headers);
          return runResponse(ctx, resFn!, memo, { ctx, status, headers });
        },
        { known, replay },
      )
    : undefined;

  const runResponse = async (
    ctx: EdgeContext,
    fn: ViewerFunction,
    memo: FunctionMemo<ResponseArg, ResponseOutcome> | undefined,
    arg: ResponseArg,
  ): Promise<HookResult> => {
    const { status, headers } = arg;
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
    const trace = memo ? new RunTrace(classifyViewerResponse) : undefined;
    const impurity = fn.impurity();
    const result = await fn.run(
      responseEvent(cfRequest, ctx.clientIp, { statusCode: status, headers: visible }),
      trace,
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
    if (memo && reusable(trace, fn, impurity) && r === trace.proxyAt('response'))
      memo.remember(trace.reads, arg, responseOutcome(trace, r));
    return finishResponse(headers, r.statusCode, fromCfHeaders(r.headers), r.cookies);
  };

  return {
    request,
    response,
    loaded,
    update,
    reuse,
    memoStats: () => ({
      request: reqMemo?.size ?? 0,
      response: resMemo?.size ?? 0,
      requestReused,
      responseReused,
    }),
  };
}

/** What a viewer-request result means for the edge, and whether it may be reused. */
function requestOutcome(
  result: Exclude<RunResult, { kind: 'error' }>,
  trace: RunTrace | undefined,
): { value: RequestOutcome; reusable: boolean } {
  if (result.kind === 'response') {
    const r = result.response;
    const headers: OutgoingHttpHeaders = fromCfHeaders(r.headers);
    const cookies = setCookies(r.cookies);
    if (cookies.length > 0) headers['set-cookie'] = cookies;
    const body = bodyOf(r.body);
    headers['content-length'] = String(body.length);
    // A generated response is made only of what the function read and its own constants.
    return { value: { kind: 'answer', status: r.statusCode, headers, body }, reusable: true };
  }
  const rq = result.request;
  const wrote = trace?.writes;
  return {
    value: {
      kind: 'continue',
      path: wrote?.has('u') ? rq.uri : undefined,
      query: wrote?.has('q') ? serializeQuery(rq.querystring) : undefined,
    },
    // The function must hand back the request it was given (writes to it are traced); a request
    // object of its own making would carry fields it never read.
    reusable: trace !== undefined && rq === trace.proxyAt('request'),
  };
}

/**
 * Applies a viewer-request outcome to the request. With the function's own request object (a
 * fresh run) its fields are used as they are; for a reused result the request is rebuilt from
 * the viewer's fields the way a function that left them alone passes them on.
 */
function applyRequest(
  ctx: EdgeContext,
  outcome: RequestOutcome,
  rq: CfRequest | undefined,
): { status: number; headers: OutgoingHttpHeaders; body: Buffer } | undefined {
  if (outcome.kind === 'answer') {
    // deliver() adds the edge's own fields to the object it is given.
    const headers = rq ? outcome.headers : Object.assign({}, outcome.headers);
    return { status: outcome.status, headers, body: outcome.body };
  }
  let headers: Record<string, string | string[]>;
  let cookie: string | undefined;
  if (rq) {
    cfRequests.set(ctx, rq);
    ctx.path = rq.uri;
    ctx.query = serializeQuery(rq.querystring);
    headers = fromCfHeaders(rq.headers);
    cookie = cookieHeader(rq.cookies);
  } else {
    // viewerHeadersOf(ctx) as passHeaders copies it, without first copying it to add one field.
    const viewer = ctx.headers;
    if (outcome.path !== undefined) ctx.path = outcome.path;
    ctx.query = outcome.query ?? serializeQuery(parseQuery(ctx.query));
    headers = passHeaders(viewer, ['cookie']);
    if (addsForwardedProto(ctx)) headers['cloudfront-forwarded-proto'] = 'https';
    // HTTP/2 carries the host as :authority; the event shows it as host (events.ts withHost).
    const authority = viewer[':authority'];
    if (headers.host === undefined && typeof authority === 'string') headers.host = authority;
    // No Cookie header (most requests): nothing to parse or rebuild.
    cookie = viewer.cookie === undefined ? undefined : cookieHeader(parseCookies(viewer.cookie));
  }
  for (const k of HIDDEN_FORWARDED) {
    const v = ctx.headers[k];
    if (v !== undefined) headers[k] = v;
  }
  if (cookie !== undefined) headers.cookie = cookie;
  ctx.headers = headers;
  return undefined;
}

/** The status and header writes of a reusable viewer-response run, read back from its result. */
function responseOutcome(trace: RunTrace, r: { statusCode: number; headers?: CfMap }): ResponseOutcome {
  const ops: ResponseOutcome['ops'] = [];
  for (const [slot, kind, depth] of trace.ops)
    if (depth === 3 && slot.startsWith('rh:')) ops.push([slot.slice(3), kind]);
  const finals: ResponseOutcome['finals'] = [];
  for (const slot of trace.writes) {
    if (!slot.startsWith('rh:')) continue;
    const name = slot.slice(3);
    const v = nodeValue(r.headers && Object.hasOwn(r.headers, name) ? r.headers[name] : undefined);
    finals.push([name, Array.isArray(v) ? [...v] : v]);
  }
  return { status: trace.writes.has('s') ? r.statusCode : undefined, ops, finals };
}

/** A remembered viewer-response result applied to this response's headers. */
function replayResponse(status: number, headers: OutgoingHttpHeaders, o: ResponseOutcome): HookResult {
  // The headers the function saw (all but the edge's own) as its map leaves them, in one pass.
  const out = passHeaders(headers, ['set-cookie'], EDGE_OWNED);
  for (const [name, kind] of o.ops) {
    if (kind === 'delete') delete out[name];
    else if (!Object.hasOwn(out, name)) out[name] = '';
  }
  for (const [name, v] of o.finals) {
    if (v === undefined) delete out[name];
    else out[name] = Array.isArray(v) ? [...v] : v;
  }
  return finishResponse(headers, o.status ?? status, out, parseSetCookies(headers['set-cookie']));
}

/** The viewer-response function's headers merged with the edge's own, as sent. */
function finishResponse(
  headers: OutgoingHttpHeaders,
  status: number,
  fromFunction: Record<string, string | string[]>,
  cookies: Record<string, CfCookie> | undefined,
): HookResult {
  const out: OutgoingHttpHeaders = fromFunction;
  // Read-only and hidden fields keep the edge's values.
  for (const k of KEPT) if (headers[k] !== undefined) out[k] = headers[k];
  // Server-Timing is a list: the function may add metrics (the built one names the class,
  // cloudfront.functions.serverTiming); the edge's own stay first.
  const mine = headers['server-timing'];
  const theirs = out['server-timing'];
  if (mine !== undefined)
    out['server-timing'] = theirs === undefined ? mine : `${String(mine)}, ${String(theirs)}`;
  const lines = setCookies(cookies);
  if (lines.length > 0) out['set-cookie'] = lines;
  return { status, headers: out };
}
