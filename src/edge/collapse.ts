/**
 * Request collapsing: concurrent misses for one cache key become one origin fetch. The first
 * request leads; later ones wait for the leader's response head. When that response will be
 * cached, every waiter streams the same body as it arrives (a `Fill`: the chunks so far, then
 * the rest as they come), so a large object reaches all viewers while it fills the cache.
 * When it will not be cached (private, no-store, Set-Cookie, errors not cached) sharing it
 * would hand one viewer's response to another, so each waiter fetches on its own.
 */
import { EventEmitter } from 'node:events';
import type { StoredHeaders } from './entry.js';

export class Fill extends EventEmitter<{ chunk: [Buffer]; end: []; error: [Error] }> {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  done = false;
  error: Error | undefined;

  constructor(
    readonly status: number,
    readonly headers: StoredHeaders,
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** Set once the body outgrew what may be cached: chunks are no longer retained. */
  partial = false;

  push(chunk: Buffer): void {
    if (!this.partial) this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.emit('chunk', chunk);
  }

  end(): void {
    this.done = true;
    this.emit('end');
  }

  fail(err: Error): void {
    this.error = err;
    this.done = true;
    // Waiters that attached get the error; with none attached, emitting 'error' would throw.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /**
   * Stops retaining chunks (the object will not be cached): viewers already following keep
   * receiving live chunks, and memory stays bounded however long the body runs.
   */
  drop(): void {
    this.partial = true;
    this.chunks.length = 0;
  }

  body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
  }

  /** Replays the chunks so far, then follows the fill until it ends or fails. */
  follow(sink: { write(chunk: Buffer): void; end(): void; abort(err: Error): void }): () => void {
    if (this.partial) {
      sink.abort(new Error('fill outgrew the cacheable size before this viewer joined'));
      return () => {};
    }
    for (const c of this.chunks) sink.write(c);
    if (this.done) {
      if (this.error) sink.abort(this.error);
      else sink.end();
      return () => {};
    }
    const onChunk = (c: Buffer) => sink.write(c);
    const onEnd = () => {
      detach();
      sink.end();
    };
    const onError = (err: Error) => {
      detach();
      sink.abort(err);
    };
    const detach = () => {
      this.off('chunk', onChunk);
      this.off('end', onEnd);
      this.off('error', onError);
    };
    this.on('chunk', onChunk);
    this.on('end', onEnd);
    this.on('error', onError);
    return detach;
  }
}

/** What waiters receive: a shared fill, or `undefined` meaning "fetch on your own". */
export type Shared = Fill | undefined;

export class Collapser {
  readonly #inflight = new Map<string, Promise<Shared>>();

  /** The in-flight fetch for a key, if any. */
  join(key: string): Promise<Shared> | undefined {
    return this.#inflight.get(key);
  }

  /**
   * Registers the caller as the leader for a key. `share` settles what waiters get;
   * `release` lets the next miss lead again (call it once the entry is stored or abandoned).
   */
  lead(key: string): { share(fill: Shared): void; release(): void } {
    let settle!: (fill: Shared) => void;
    const pending = new Promise<Shared>((resolve) => {
      settle = resolve;
    });
    this.#inflight.set(key, pending);
    let settled = false;
    return {
      share: (fill) => {
        if (settled) return;
        settled = true;
        settle(fill);
      },
      release: () => {
        if (!settled) {
          settled = true;
          settle(undefined);
        }
        if (this.#inflight.get(key) === pending) this.#inflight.delete(key);
      },
    };
  }

  get size(): number {
    return this.#inflight.size;
  }
}
