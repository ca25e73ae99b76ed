/**
 * Admission for warming requests: at most `concurrency` in flight, and starts spaced at least
 * 1/rps apart (a smooth rate rather than bursts, so an origin behind a cold edge sees a steady
 * trickle of fills). Time comes from setTimeout/Date.now, so tests drive it with fake timers.
 */
export class Limiter {
  readonly #concurrency: number;
  readonly #intervalMs: number;
  #active = 0;
  #nextStart = 0;
  readonly #waiting: Array<() => void> = [];
  /** Highest number of tasks that were in flight at once. */
  peak = 0;

  constructor(concurrency: number, requestsPerSecond: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be an integer >= 1');
    if (!(requestsPerSecond > 0)) throw new RangeError('requestsPerSecond must be > 0');
    this.#concurrency = concurrency;
    this.#intervalMs = 1000 / requestsPerSecond;
  }

  get active(): number {
    return this.#active;
  }

  /**
   * Runs `fn` once a slot is free and the rate allows; resolves with its result. An aborted
   * `signal` rejects at once, queued or spaced, so a stopped pass does not wait out the rate
   * budget of every task it had planned.
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await fn();
    } finally {
      this.#release();
    }
  }

  async #acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.#active >= this.#concurrency) {
      await abortable(signal, (resolve) => {
        this.#waiting.push(resolve);
        return () => {
          const i = this.#waiting.indexOf(resolve);
          if (i >= 0) this.#waiting.splice(i, 1);
        };
      });
    }
    this.#active++;
    this.peak = Math.max(this.peak, this.#active);
    // Reserve the next start time before waiting, so concurrent callers queue behind it.
    const now = Date.now();
    const start = Math.max(now, this.#nextStart);
    this.#nextStart = start + this.#intervalMs;
    if (start > now) {
      try {
        await abortable(signal, (resolve) => {
          const t = setTimeout(resolve, start - now);
          return () => clearTimeout(t);
        });
      } catch (err) {
        this.#release();
        throw err;
      }
    }
  }

  #release(): void {
    this.#active--;
    const next = this.#waiting.shift();
    next?.();
  }
}

/** A wait that `signal` cuts short: `begin` starts it and returns how to cancel it. */
function abortable(
  signal: AbortSignal | undefined,
  begin: (resolve: () => void) => () => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = begin(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
