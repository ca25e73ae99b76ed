/**
 * The benchmark's upload clients, speaking what a mobile app would: the resumable protocol
 * (Uppy's @uppy/aws-s3 multipart routes, docs/uploads.md) with parts in parallel and resume
 * from the parts the server lists, and the single streamed PUT it is compared with.
 *
 * Every connection the clients open goes through a `LossyLink` (the dispatcher maps each
 * server's port to its link's port; the Host header and any signature stay those of the real
 * server), so presigned part URLs pointing at S3 cross the same bad network as the origin.
 */
import { createReadStream } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, type Dispatcher, request } from 'undici';

/** An undici dispatcher whose connections to `port` go to `routes.get(port)` instead. */
export function routedAgent(routes: Map<number, number>): Agent {
  return new Agent({
    connections: 32,
    keepAliveTimeout: 10_000,
    connect: (opts, cb) => {
      const port = Number(opts.port);
      const socket = connect(routes.get(port) ?? port, '127.0.0.1');
      socket.setNoDelay(true);
      let done = false;
      const finish = (err: Error | null) => {
        if (done) return;
        done = true;
        if (err) cb(err, null);
        else cb(null, socket);
      };
      socket.once('connect', () => finish(null));
      socket.once('error', (e) => finish(e));
    },
  });
}

export interface ResumableOptions {
  /** The resumable endpoint (API-key form: `<origin>/uploads/resumable`). */
  endpoint: string;
  apiKey: string;
  file: string;
  size: number;
  filename: string;
  type: string;
  partSize: number;
  concurrency: number;
  dispatcher: Dispatcher;
  /** Stop trying after this long (the benchmark is bounded). */
  deadlineMs: number;
}

export interface ResumableResult {
  ms: number;
  key: string;
  /**
   * For each interruption: when the client had listed the stored parts again and was sending
   * the missing ones (performance.now() timestamps).
   */
  resumedAt: number[];
  /** Part PUTs that failed (each one's bytes sent so far are sent again). */
  failedParts: number;
}

class Http {
  constructor(readonly o: ResumableOptions) {}

  async json<T>(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<T> {
    const res = await request(url, {
      method,
      dispatcher: this.o.dispatcher,
      headers: {
        authorization: `Bearer ${this.o.apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new RefusedError(`${method} ${url}: ${res.statusCode} ${text}`);
    return JSON.parse(text) as T;
  }
}

/** A 4xx/5xx answer: retrying the same request will not help. */
export class RefusedError extends Error {}

/** Retries `fn` on network errors (not on refusals) until the deadline. */
async function retrying<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
  let wait = 100;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RefusedError || performance.now() > deadline) throw err;
      await sleep(wait);
      wait = Math.min(wait * 2, 1000);
    }
  }
}

export async function uploadResumable(o: ResumableOptions): Promise<ResumableResult> {
  const t0 = performance.now();
  const deadline = t0 + o.deadlineMs;
  const http = new Http(o);
  const e = o.endpoint;
  const { uploadId, key } = await retrying(deadline, () =>
    http.json<{ uploadId: string; key: string }>('POST', `${e}/s3/multipart`, {
      filename: o.filename,
      type: o.type,
      metadata: {},
    }),
  );
  const q = `key=${encodeURIComponent(key)}`;
  const id = encodeURIComponent(uploadId);
  const count = Math.ceil(o.size / o.partSize);
  const etags = new Map<number, string>();
  const resumedAt: number[] = [];
  let failedParts = 0;

  const putPart = async (n: number): Promise<void> => {
    const { url } = await http.json<{ url: string }>('GET', `${e}/s3/multipart/${id}/${n}?${q}`);
    const start = (n - 1) * o.partSize;
    const end = Math.min(o.size, start + o.partSize);
    const res = await request(url, {
      method: 'PUT',
      dispatcher: o.dispatcher,
      body: createReadStream(o.file, { start, end: end - 1 }),
      headers: { 'content-length': String(end - start) },
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    await res.body.text();
    const etag = res.headers.etag;
    if (res.statusCode !== 200 || typeof etag !== 'string')
      throw new RefusedError(`part ${n}: ${res.statusCode}`);
    etags.set(n, etag);
  };

  // Workers take the next part not yet stored. A network failure sends the client into resume:
  // it lists the parts the server holds (the truth after a cut, as after a page reload) and
  // goes on with the rest.
  for (;;) {
    const pending = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !etags.has(n));
    if (pending.length === 0) break;
    let failed = false;
    const worker = async () => {
      for (let n = pending.shift(); n !== undefined && !failed; n = pending.shift()) {
        try {
          await putPart(n);
        } catch (err) {
          if (err instanceof RefusedError) throw err;
          failed = true;
          failedParts++;
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    if (performance.now() > deadline) throw new Error('resumable upload: deadline passed');
    if (failed) {
      const listed = await retrying(deadline, () =>
        http.json<Array<{ PartNumber: number; ETag: string }>>('GET', `${e}/s3/multipart/${id}?${q}`),
      );
      for (const p of listed) etags.set(p.PartNumber, p.ETag);
      resumedAt.push(performance.now());
    }
  }
  const parts = [...etags].sort((a, b) => a[0] - b[0]).map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
  await retrying(deadline, () => http.json('POST', `${e}/s3/multipart/${id}/complete?${q}`, { parts }));
  return { ms: performance.now() - t0, key, resumedAt, failedParts };
}

export interface SingleResult {
  ms: number;
  /** Attempts that failed (a cut one, or one refused while the link was down). */
  restarts: number;
}

/** The whole file in one streamed PUT; a cut means starting again from the first byte. */
export async function uploadSinglePut(o: {
  url: string;
  apiKey: string;
  file: string;
  size: number;
  dispatcher: Dispatcher;
  deadlineMs: number;
}): Promise<SingleResult> {
  const t0 = performance.now();
  let restarts = 0;
  for (;;) {
    try {
      const res = await request(o.url, {
        method: 'PUT',
        dispatcher: o.dispatcher,
        body: createReadStream(o.file),
        headers: {
          authorization: `Bearer ${o.apiKey}`,
          'content-type': 'application/octet-stream',
          'content-length': String(o.size),
        },
        headersTimeout: o.deadlineMs,
        bodyTimeout: o.deadlineMs,
      });
      const text = await res.body.text();
      if (res.statusCode !== 201) throw new RefusedError(`PUT: ${res.statusCode} ${text}`);
      return { ms: performance.now() - t0, restarts };
    } catch (err) {
      if (err instanceof RefusedError || performance.now() - t0 > o.deadlineMs) throw err;
      restarts++;
      await sleep(200);
    }
  }
}
