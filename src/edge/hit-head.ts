/**
 * The compiled response head of a memory-tier hit (a whole stored body to a GET over HTTP/1.x,
 * or over HTTP/2 through the core stream API).
 *
 * A hit's head is the stored entry's headers, the edge's own fields and what the viewer-response
 * function makes of them. Per request only Age and the request id change (X-Amz-Cf-Id, and the
 * cdn-rid in Server-Timing); the function's part changes only when its remembered result does
 * (function-memo.ts). So, per entry and remembered result, the head is built once by the same
 * code as every other response (entryFields, edgeFields, the hook's `replay`), with sentinels in
 * place of the per-request values, and kept as a flat [name, value, …] list with the sentinels'
 * positions, and serialised as Node would write it. A hit then joins the serialised pieces
 * around Age and the id and has Node send them with its status line and keep-alive fields
 * (raw-head.ts), with the body in one write: no header object, no replay, no per-field
 * validation, no lookup of the fields the access log records. (Without raw heads, it copies the
 * list, fills the slots and hands it to writeHead.)
 *
 * Every name and value of a compiled head is checked with node:http's validateHeaderName and
 * validateHeaderValue when it is compiled: a stored header that could not be sent is never
 * compiled (the hit takes the general path, which refuses it as it always did).
 * A response for which the function holds no remembered result, or that is neither HTTP/1.x
 * nor an HTTP/2 stream answered through the core stream API (h2-stream.ts), goes through
 * deliver() as before.
 */
import {
  type OutgoingHttpHeaders,
  type ServerResponse,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http';
import type { EdgeContext } from './context.js';
import type { CachedResponse } from './entry.js';
import { H2ViewerResponse } from './h2-stream.js';
import type { ResultType } from './metrics.js';
import { FRAMING_FIELDS, RAW_HEADS, writeRawHead } from './raw-head.js';
import {
  type DeliverOptions,
  deliver,
  edgeFields,
  entryFields,
  entryHeaders,
  type HookResult,
  recordHead,
  resultTypeOf,
} from './respond.js';

/** A stored entry whose body is in memory. */
export type MemoryEntry = CachedResponse & { body: Buffer };

/** Stand-ins for the per-request values while a head is compiled (NUL never reaches a wire). */
const AGE = '\u0000edgewise-age\u0000';
const RID = '\u0000edgewise-rid\u0000';

/** The token for "no viewer-response function": the headers go out as the edge made them. */
const NO_FUNCTION = Object.freeze({});

interface Slot {
  /** Index of the value in `fields`. */
  at: number;
  age: boolean;
  before: string;
  after: string;
}

/** The head serialised (raw-head.ts): `segs` around the per-request values, Age where `ages`. */
interface RawLines {
  segs: string[];
  ages: boolean[];
  length: string;
  /** Node adds a Date only when the head has none. */
  sendDate: boolean;
}

interface HitHead {
  result: ResultType;
  pop: string;
  status: number;
  fields: Array<string | string[]>;
  slots: Slot[];
  raw: RawLines | undefined;
  /** The head as an object, for recordHead (what the log and metrics read). */
  contentType: string | undefined;
  contentLength: number | undefined;
  headerBytes: number;
}

interface EntryHeads {
  /** The entry's hit headers, Age rewritten per request, for the function's memo lookup. */
  view: OutgoingHttpHeaders;
  byToken: WeakMap<object, HitHead>;
}

const compiled = new WeakMap<CachedResponse, EntryHeads>();

/** The headers deliver() would start from for a whole-body hit on `entry`. */
function hitHeaders(entry: MemoryEntry, age: string): OutgoingHttpHeaders {
  const headers = entryHeaders(entry.headers);
  entryFields(headers, entry.status, age, entry.size);
  return headers;
}

function headsOf(entry: MemoryEntry): EntryHeads {
  let heads = compiled.get(entry);
  if (!heads) {
    const view = hitHeaders(entry, '0');
    // Hidden from the function (its lookup reads them as absent); present so the view has the
    // shape of the headers deliver() hands the function.
    edgeFields(view, 'Hit', 'Hit', '', RID, undefined);
    heads = { view, byToken: new WeakMap() };
    compiled.set(entry, heads);
  }
  return heads;
}

/** A flat head from the headers a replay made, or undefined when a value cannot be compiled. */
function compile(result: ResultType, pop: string, hooked: HookResult, ctx: EdgeContext): HitHead | undefined {
  if (hooked.replaceBody) return undefined;
  const fields: Array<string | string[]> = [];
  const slots: Slot[] = [];
  for (const name in hooked.headers) {
    const raw = hooked.headers[name];
    if (raw === undefined) continue;
    const value = typeof raw === 'number' ? String(raw) : raw;
    try {
      validateHeaderName(name);
    } catch {
      return undefined;
    }
    if (Array.isArray(value)) {
      if (value.some((v) => v.includes('\u0000'))) return undefined;
    } else {
      const age = value.indexOf(AGE);
      const rid = value.indexOf(RID);
      if (age !== -1 && rid !== -1) return undefined;
      const at = age === -1 ? rid : age;
      if (at !== -1) {
        const mark = age === -1 ? RID : AGE;
        const after = value.slice(at + mark.length);
        if (after.includes('\u0000')) return undefined;
        try {
          validateHeaderValue(name, `${value.slice(0, at)}0${after}`);
        } catch {
          return undefined;
        }
        slots.push({ at: fields.length + 1, age: age !== -1, before: value.slice(0, at), after });
        fields.push(name, value);
        continue;
      }
    }
    try {
      for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, v);
    } catch {
      return undefined;
    }
    fields.push(name, value);
  }
  recordHead(ctx, hooked.status, hooked.headers);
  return {
    result,
    pop,
    status: hooked.status,
    fields,
    slots,
    raw: RAW_HEADS ? serialise(fields, slots) : undefined,
    contentType: ctx.contentType,
    contentLength: ctx.contentLength,
    headerBytes: ctx.headerBytes,
  };
}

/**
 * The fields as Node would write them (`name: value\r\n`, an array one line per value), or
 * undefined for a head Node must frame itself (raw-head.ts FRAMING_FIELDS, no Content-Length).
 */
function serialise(fields: Array<string | string[]>, slots: Slot[]): RawLines | undefined {
  // Each segment is built as a list of lines and joined once: `+=` would keep it as a
  // concatenation rope for the entry's life (2,214 B against 732 B flat for 17 fields).
  const segs: string[] = [];
  let lines: string[] = [];
  const ages: boolean[] = [];
  let length: string | undefined;
  let sendDate = true;
  let slot = 0;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1]!;
    const lower = name.toLowerCase();
    if (FRAMING_FIELDS.has(lower)) return undefined;
    if (lower === 'date') sendDate = false;
    const s = slots[slot];
    if (s?.at === i + 1) {
      slot++;
      lines.push(`${name}: ${s.before}`);
      segs.push(lines.join(''));
      ages.push(s.age);
      lines = [`${s.after}\r\n`];
      continue;
    }
    if (Array.isArray(value)) {
      // Node joins a multi-valued Cookie with '; ' (never sent in a response); leave it to Node.
      if (lower === 'cookie' || lower === 'content-length') return undefined;
      for (const v of value) lines.push(`${name}: ${v}\r\n`);
      continue;
    }
    if (lower === 'content-length') {
      if (length !== undefined) return undefined;
      length = value;
    }
    lines.push(`${name}: ${value}\r\n`);
  }
  if (length === undefined) return undefined;
  segs.push(lines.join(''));
  return { segs, ages, length, sendDate };
}

/**
 * Sends a whole memory-tier body as a hit: from the compiled head when the request is HTTP/1.x
 * and the viewer-response function (if any) has a remembered result for it, else through
 * deliver() exactly as before.
 */
export function deliverHit(
  ctx: EdgeContext,
  result: ResultType,
  entry: MemoryEntry,
  age: number,
  options: DeliverOptions,
): Promise<void> {
  const ageText = String(Math.floor(age));
  const res = ctx.res;
  const hook = options.hook;
  // HTTP/2 streams answered through the core stream API take the compiled head too (h2-stream.ts).
  const h2 = res instanceof H2ViewerResponse;
  if ((ctx.req.httpVersionMajor !== 1 && !h2) || res.headersSent || res.destroyed) return general();
  const heads = headsOf(entry);
  let token: object | undefined = NO_FUNCTION;
  if (hook) {
    heads.view.age = ageText;
    token = hook.known(ctx, entry.status, heads.view);
    if (token === undefined) return general();
  }
  const resultType = resultTypeOf(result, entry.status);
  let head = heads.byToken.get(token);
  if (!head || head.result !== result || head.pop !== options.pop) {
    const headers = hitHeaders(entry, AGE);
    edgeFields(headers, result, resultType, options.pop, RID, undefined);
    const hooked: HookResult =
      hook && token !== NO_FUNCTION
        ? hook.replay(token, entry.status, headers)
        : { status: entry.status, headers };
    head = compile(result, options.pop, hooked, ctx);
    if (!head) return general();
    heads.byToken.set(token, head);
  }
  ctx.resultType = resultType;
  ctx.status = head.status;
  ctx.contentType = head.contentType;
  ctx.contentLength = head.contentLength;
  ctx.headerBytes = head.headerBytes;
  ctx.ttfb = performance.now() - ctx.start;
  // An HTTP/2 stream takes the fields (HPACK frames them); a serialised HTTP/1.x head is no use.
  const raw = h2 ? undefined : head.raw;
  if (raw) {
    let lines = raw.segs[0]!;
    for (let i = 0; i < raw.ages.length; i++)
      lines += (raw.ages[i] ? ageText : ctx.requestId) + raw.segs[i + 1];
    writeRawHead(res as ServerResponse, head.status, lines, raw.length, raw.sendDate);
  } else {
    const fields = head.fields.slice();
    for (const s of head.slots) fields[s.at] = s.before + (s.age ? ageText : ctx.requestId) + s.after;
    // writeHead takes a flat [name, value, …] list (node:http, since v14.14) as it takes an object.
    if (h2) res.writeCompiledHead(head.status, fields);
    else
      (res as { writeHead(s: number, h: Array<string | string[]>): unknown }).writeHead(head.status, fields);
  }
  ctx.bodyBytes = entry.body.length;
  (res as unknown as { end(chunk: Buffer): void }).end(entry.body);
  return DONE;

  function general(): Promise<void> {
    const headers = hitHeaders(entry, ageText);
    return deliver(ctx, result, entry.status, headers, { kind: 'buffer', data: entry.body }, options);
  }
}

const DONE = Promise.resolve();
