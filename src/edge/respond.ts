/**
 * The last step of the pipeline: the viewer-response function, the edge's own headers
 * (X-Cache, Age, Server-Timing, Via), the status line and the body from wherever it is (a
 * buffer, a disk-tier file, a fill still arriving from the origin, or a pass-through stream).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type OpenFile, sendFile } from './cache/disk-files.js';
import type { Fill } from './collapse.js';
import type { EdgeContext } from './context.js';
import { HOP_BY_HOP, type StoredHeaders } from './entry.js';
import type { ResultType } from './metrics.js';

export type Body =
  | { kind: 'none' }
  | { kind: 'buffer'; data: Buffer }
  | { kind: 'file'; file: OpenFile; start: number; end: number }
  | { kind: 'fill'; fill: Fill }
  | { kind: 'stream'; stream: Readable };

/**
 * The viewer-response step. Besides running, it can say whether it holds a remembered result
 * for a response (`known`: an opaque token, the same object for the same result) and apply that
 * result to any headers (`replay`), which is what running it would return for them. The hit path
 * (hit-head.ts) compiles a stored entry's head from a replay once per token.
 */
export interface ResponseHook {
  (ctx: EdgeContext, status: number, headers: OutgoingHttpHeaders): Promise<HookResult> | HookResult;
  known(ctx: EdgeContext, status: number, headers: OutgoingHttpHeaders): object | undefined;
  replay(known: object, status: number, headers: OutgoingHttpHeaders): HookResult;
}

/** A viewer-response result; `replaceBody` when the function failed and an error is sent instead. */
export interface HookResult {
  status: number;
  headers: OutgoingHttpHeaders;
  replaceBody?: Buffer;
}

const X_CACHE: Record<ResultType, string> = {
  Hit: 'Hit from edgewise',
  RefreshHit: 'RefreshHit from edgewise',
  Miss: 'Miss from edgewise',
  Error: 'Error from edgewise',
  Redirect: 'Redirect from edgewise',
  FunctionGeneratedResponse: 'FunctionGeneratedResponse from edgewise',
};

const TIMING: Record<ResultType, string> = {
  Hit: 'cdn-cache-hit',
  RefreshHit: 'cdn-cache-refresh',
  Miss: 'cdn-cache-miss',
  Error: 'cdn-cache-miss',
  Redirect: 'cdn-cache-miss',
  FunctionGeneratedResponse: 'cdn-cache-miss',
};

/** Copies stored headers for a viewer, without hop-by-hop fields. */
export function viewerHeaders(stored: StoredHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const k in stored) if (!HOP_BY_HOP.has(k)) out[k] = stored[k];
  return out;
}

const filtered = new WeakMap<StoredHeaders, OutgoingHttpHeaders>();

/**
 * A fresh copy of a stored entry's viewer headers. The filtered form is computed once per
 * stored header object (a 304 merge replaces the object), so a hit only pays for the copy.
 * The copy is made with Object.assign, not spread: V8 gives a spread clone a map that the
 * fields deliver() adds next cannot extend cheaply, and every later `for…in` over it (writeHead
 * walks it too) was measured at ~18 µs per hit in a micro-benchmark, against ~0.5 µs this way.
 */
export function entryHeaders(stored: StoredHeaders): OutgoingHttpHeaders {
  let base = filtered.get(stored);
  if (!base) {
    base = viewerHeaders(stored);
    filtered.set(stored, base);
  }
  return Object.assign({}, base);
}

/**
 * CloudFront logs every 4xx/5xx as Error, whether it came from the cache or not, except a
 * response a viewer-request function made: that is FunctionGeneratedResponse whatever its
 * status (X-Cache: FunctionGeneratedResponse from cloudfront).
 */
export function resultTypeOf(result: ResultType, status: number): ResultType {
  return status >= 400 && result !== 'FunctionGeneratedResponse' ? 'Error' : result;
}

/** The edge's own fields (X-Cache, Via, X-Amz-Cf-Pop/-Id, Server-Timing), added to `headers`. */
export function edgeFields(
  headers: OutgoingHttpHeaders,
  result: ResultType,
  resultType: ResultType,
  pop: string,
  requestId: string,
  upstreamMs: number | undefined,
): void {
  headers['x-cache'] = X_CACHE[resultType];
  headers.via = '1.1 edgewise';
  headers['x-amz-cf-pop'] = pop;
  headers['x-amz-cf-id'] = requestId;
  let timing = `${TIMING[result]},cdn-pop;desc="${pop}",cdn-rid;desc="${requestId}"`;
  if (upstreamMs !== undefined) timing += `,cdn-upstream-fbl;dur=${Math.round(upstreamMs)}`;
  headers['server-timing'] = timing;
}

/**
 * What a response's headers tell the access log and metrics (deliver and the compiled hit head
 * both record them). headerBytes is an estimate, for HTTP/2 heads (HPACK-compressed).
 */
export function recordHead(ctx: EdgeContext, status: number, headers: OutgoingHttpHeaders): void {
  ctx.status = status;
  const ct = headers['content-type'];
  ctx.contentType = typeof ct === 'string' ? ct : undefined;
  const cl = headers['content-length'];
  ctx.contentLength = cl === undefined ? undefined : Number(cl);
  let fields = 0;
  for (const _ in headers) fields++;
  ctx.headerBytes = 64 + fields * 32;
}

/** Age, Accept-Ranges and Content-Length of an entry's response sending `length` bytes. */
export function entryFields(headers: OutgoingHttpHeaders, status: number, age: string, length: number): void {
  headers.age = age;
  if (status === 200) headers['accept-ranges'] = 'bytes';
  // 204 and 304 never carry Content-Length-bearing bodies (RFC 9110 §8.6).
  if (status !== 204) headers['content-length'] = String(length);
}

export interface DeliverOptions {
  pop: string;
  hook: ResponseHook | undefined;
  /** Milliseconds the origin took to first byte, for Server-Timing on misses. */
  upstreamMs?: number | undefined;
}

export async function deliver(
  ctx: EdgeContext,
  result: ResultType,
  status: number,
  headers: OutgoingHttpHeaders,
  body: Body,
  options: DeliverOptions,
): Promise<void> {
  ctx.resultType = resultTypeOf(result, status);
  edgeFields(headers, result, ctx.resultType, options.pop, ctx.requestId, options.upstreamMs);
  if (options.hook) {
    // A hook that answers synchronously (a reused function result) is not awaited.
    const pending = options.hook(ctx, status, headers);
    const hooked = 'then' in pending ? await pending : pending;
    ({ status, headers } = hooked);
    if (hooked.replaceBody) {
      discard(body);
      body = { kind: 'buffer', data: hooked.replaceBody };
    }
  }
  const res = ctx.res;
  if (res.headersSent || res.destroyed) {
    discard(body);
    return;
  }
  recordHead(ctx, status, headers);
  ctx.ttfb = performance.now() - ctx.start;
  (res as { writeHead(s: number, h: OutgoingHttpHeaders): unknown }).writeHead(status, headers);
  // A buffer (every memory-tier hit) is written here, without another async step.
  if (body.kind === 'buffer') {
    ctx.bodyBytes = body.data.length;
    (res as unknown as { end(chunk: Buffer): void }).end(body.data);
    return;
  }
  await writeBody(ctx, body);
}

/**
 * Releases a body that will not be sent. A destroyed origin body (undici) emits an abort
 * error: it is expected here, and with no listener it would be thrown and end the process.
 */
function discard(body: Body): void {
  if (body.kind === 'file') body.file.release();
  else if (body.kind === 'stream') body.stream.on('error', () => {}).destroy();
}

async function writeBody(ctx: EdgeContext, body: Body): Promise<void> {
  const res = ctx.res as unknown as NodeJS.WritableStream & {
    end(chunk?: Buffer): void;
    destroy(err?: Error): void;
  };
  switch (body.kind) {
    case 'none':
      res.end();
      return;
    case 'buffer':
      ctx.bodyBytes = body.data.length;
      res.end(body.data);
      return;
    case 'file':
      // Positional reads through the disk tier's shared descriptor, written with backpressure.
      ctx.bodyBytes += await sendFile(
        ctx.res as unknown as Parameters<typeof sendFile>[0],
        body.file,
        body.start,
        body.end,
      );
      return;
    case 'fill':
      await new Promise<void>((resolve) => {
        const detach = body.fill.follow({
          write(chunk) {
            ctx.bodyBytes += chunk.length;
            res.write(chunk);
          },
          end() {
            res.end();
            resolve();
          },
          abort(err) {
            // The origin failed mid-body: cutting the connection is the only honest signal.
            res.destroy(err);
            resolve();
          },
        });
        (ctx.res as NodeJS.EventEmitter).once('close', () => {
          detach();
          resolve();
        });
      });
      return;
    case 'stream':
      body.stream.on('data', (c: Buffer) => {
        ctx.bodyBytes += c.length;
      });
      await pipeline(body.stream, res).catch(() => res.destroy());
      return;
  }
}
