/**
 * Slow and stalled upload bodies. Without a bound, a client trickling 1 byte every 5 s holds an
 * upload slot until server.uploadTimeoutMs (1 h): 32 such connections took every
 * `uploads.maxConcurrent` slot and real uploads got 503. Two limits (uploads.slowBody):
 *   - idle: no byte for idleTimeoutMs;
 *   - rate: less than minBytesPerSecond on average over a window of windowMs, first judged one
 *     window after the body starts (the grace period).
 * Only the client's slowness counts: while the server is behind (bytes wait unread in the request
 * stream because storage applies backpressure) the idle clock and the rate window start again.
 *
 * Bytes are counted where Node hands them to the request stream (`push`, called by the HTTP/1
 * parser and by the HTTP/2 compat layer alike), because a 'data' listener would switch the
 * stream to flowing mode and take it from its consumer (the driver, or busboy for multipart).
 */
import type { Readable } from 'node:stream';
import type { UploadsConfig } from '../config/sections/uploads.js';
import { UploadTooSlow } from '../errors.js';

export type SlowBodyLimits = UploadsConfig['slowBody'];

/** The rule itself, on explicit times, so it is tested without timers. */
export class BodyRateJudge {
  readonly #limits: SlowBodyLimits;
  #total = 0;
  #lastProgress: number;
  #windowStart: number;
  /** (time, total bytes) at each check, oldest first; enough to know the bytes of one window. */
  #samples: Array<[number, number]> = [];

  constructor(limits: SlowBodyLimits, now: number) {
    this.#limits = limits;
    this.#lastProgress = now;
    this.#windowStart = now;
    this.#samples.push([now, 0]);
  }

  received(bytes: number, now: number): void {
    if (bytes <= 0) return;
    this.#total += bytes;
    this.#lastProgress = now;
  }

  /** The server is behind: the client is not to blame for the time up to now. */
  excuse(now: number): void {
    this.#lastProgress = now;
    this.#windowStart = now;
    this.#samples = [[now, this.#total]];
  }

  /** Why the body is too slow at `now`, or undefined. */
  check(now: number): string | undefined {
    const { idleTimeoutMs, minBytesPerSecond, windowMs } = this.#limits;
    if (now - this.#lastProgress >= idleTimeoutMs) return `no body bytes for ${idleTimeoutMs} ms`;
    this.#samples.push([now, this.#total]);
    // Keep the newest sample at or before the window's start as the base of the window.
    while (this.#samples.length > 1 && this.#samples[1]![0] <= now - windowMs) this.#samples.shift();
    if (minBytesPerSecond === 0 || now - this.#windowStart < windowMs) return undefined;
    const [t0, b0] = this.#samples[0]!;
    const seconds = (now - t0) / 1000;
    if (this.#total - b0 < minBytesPerSecond * seconds)
      return `less than ${minBytesPerSecond} bytes/s over ${windowMs} ms`;
    return undefined;
  }
}

/** How often the watcher looks: a quarter of the shorter limit, at most once a second. */
function tickMs(l: SlowBodyLimits): number {
  return Math.max(25, Math.min(1000, Math.floor(Math.min(l.idleTimeoutMs, l.windowMs) / 4)));
}

/**
 * Watches a request body until it ends or `stop()` is called; calls `onSlow` once with an
 * UploadTooSlow when a limit is crossed.
 */
export function watchSlowBody(
  body: Readable,
  limits: SlowBodyLimits,
  onSlow: (err: InstanceType<typeof UploadTooSlow>) => void,
): () => void {
  const judge = new BodyRateJudge(limits, performance.now());
  const original = body.push;
  // An own property shadows Readable.prototype.push for this one stream; removed at stop().
  body.push = function push(this: Readable, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null && chunk !== undefined) {
      judge.received((chunk as { length?: number }).length ?? 0, performance.now());
    }
    return original.call(this, chunk, encoding);
  };
  const timer = setInterval(() => {
    const now = performance.now();
    // Every byte is here (the parser says so before 'end' is emitted): nothing left to judge.
    if ((body as { complete?: boolean }).complete) return stop();
    if (body.readableLength > 0) return judge.excuse(now);
    const why = judge.check(now);
    if (why === undefined) return;
    stop();
    onSlow(new UploadTooSlow(why));
  }, tickMs(limits));
  timer.unref();
  let stopped = false;
  function stop(): void {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    // Removing the own property restores Readable.prototype.push.
    delete (body as { push?: unknown }).push;
    body.off('end', stop);
    body.off('close', stop);
  }
  body.once('end', stop);
  body.once('close', stop);
  return stop;
}
