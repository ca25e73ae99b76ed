/**
 * How every step of the pipeline answers a viewer: `send` (through the viewer-response
 * function and the edge's own headers, src/edge/respond.ts), `error` (a catalogue-coded JSON
 * body, like the origin's) and `originError` (the origin could not be reached or timed out).
 * One object, shared by the cache state machine, pass-through and the pipeline, so every
 * answer the edge makes itself looks the same.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { LiveConfig } from '../config/live.js';
import { EdgeOriginTimeout, EdgeOriginUnreachable } from '../errors.js';
import type { Logger } from '../logger.js';
import type { EdgeContext } from './context.js';
import { deliverHit, type MemoryEntry } from './hit-head.js';
import type { ResultType } from './metrics.js';
import { originFailure } from './origin-client.js';
import { type Body, deliver, type ResponseHook } from './respond.js';

export interface CodedAnswer {
  code: string;
  message: string;
  statusCode?: number;
}

export class Replies {
  readonly #config: LiveConfig;
  readonly #hook: ResponseHook | undefined;
  readonly #log: Logger;

  constructor(config: LiveConfig, hook: ResponseHook | undefined, log: Logger) {
    this.#config = config;
    this.#hook = hook;
    this.#log = log;
  }

  send(
    ctx: EdgeContext,
    result: ResultType,
    status: number,
    headers: OutgoingHttpHeaders,
    body: Body,
    upstreamMs?: number,
  ): Promise<void> {
    return deliver(ctx, result, status, headers, body, {
      pop: this.#config.current.edge.logs.edgeLocation,
      hook: this.#hook,
      upstreamMs,
    });
  }

  /** A whole memory-tier body to a GET: the compiled head when it applies (hit-head.ts). */
  hit(ctx: EdgeContext, result: ResultType, entry: MemoryEntry, age: number): Promise<void> {
    return deliverHit(ctx, result, entry, age, {
      pop: this.#config.current.edge.logs.edgeLocation,
      hook: this.#hook,
    });
  }

  /** A coded JSON error, like the origin's. */
  error(ctx: EdgeContext, err: CodedAnswer, extra: OutgoingHttpHeaders = {}): Promise<void> {
    const status = err.statusCode ?? 500;
    ctx.detailedResultType = err.code;
    const body = Buffer.from(JSON.stringify({ statusCode: status, code: err.code, message: err.message }));
    return this.send(
      ctx,
      'Error',
      status,
      {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(body.length),
        'cache-control': 'no-store',
        ...extra,
      },
      ctx.method === 'HEAD' ? { kind: 'none' } : { kind: 'buffer', data: body },
    );
  }

  originError(ctx: EdgeContext, err: unknown): Promise<void> {
    // The cause (with the origin's internal address) goes to the log only: a viewer learns what
    // failed, never where (`ECONNREFUSED 127.0.0.1:18497` named the origin's address).
    this.#log.warn({ err, path: ctx.path }, 'origin request failed');
    return this.error(
      ctx,
      originFailure(err) === 'timeout'
        ? new EdgeOriginTimeout('no answer within the origin timeout')
        : new EdgeOriginUnreachable('connection failed or was reset'),
    );
  }
}

/** A response body the viewer does not get (HEAD): read to the end so the connection is reused. */
export function drain(body: NodeJS.ReadableStream): Body {
  body.resume();
  return { kind: 'none' };
}
