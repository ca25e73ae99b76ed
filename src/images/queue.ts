/**
 * A bounded work queue for sharp: at most `concurrency` transforms run, at most `queueSize`
 * wait, and anything beyond is refused at once (EDGEWISE_IMAGE_BUSY → 503 + Retry-After)
 * rather than piling up decoded images in memory. Limits are read on every call so a config
 * reload applies to the next transform.
 */
import { ImageBusy } from '../errors.js';

export interface QueueLimits {
  concurrency: number;
  queueSize: number;
  retryAfterSeconds: number;
}

export class BoundedQueue {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(private readonly limits: () => QueueLimits) {}

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `fn` when a slot is free; throws EDGEWISE_IMAGE_BUSY when the queue is full. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const { concurrency, queueSize, retryAfterSeconds } = this.limits();
    if (this.#running >= concurrency) {
      if (this.#waiting.length >= queueSize) throw new ImageBusy(retryAfterSeconds);
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await fn();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    const next = this.#waiting.shift();
    // The slot passes straight to the next waiter, so #running stays the same.
    if (next) next();
    else this.#running--;
  }
}
