/**
 * Fastify's per-request logger (`request.log`, `reply.log`), made when a request first logs at
 * an enabled level instead of for every request. Fastify calls `logger.child({ reqId })` for
 * each request; with our redaction paths (src/logger.ts) pino runs the redactor over those
 * bindings each time, about 0.8 µs of a 1 KiB answer's ~20 µs, and most requests never log (at
 * the default level a served object logs nothing beyond Fastify's own lines, and at `warn`
 * nothing at all). The lines written are the same: the child is pino's own, made with the same
 * bindings and options, at the first call that would write.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString } from 'pino';

type LogFn = FastifyBaseLogger['info'];
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

class LazyChild {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  /** The real pino child, made once. */
  get #real(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  get level(): LevelWithSilentOrString {
    return this.#child ? this.#child.level : this.#parent.level;
  }
  set level(level: LevelWithSilentOrString) {
    this.#real.level = level;
  }

  isLevelEnabled(level: string): boolean {
    return (
      (this.#child ?? this.#parent) as unknown as { isLevelEnabled(l: string): boolean }
    ).isLevelEnabled(level);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real.child(bindings, options);
  }

  bindings(): Bindings {
    return (this.#real as unknown as { bindings(): Bindings }).bindings();
  }

  silent(): void {}

  declare fatal: LogFn;
  declare error: LogFn;
  declare warn: LogFn;
  declare info: LogFn;
  declare debug: LogFn;
  declare trace: LogFn;

  static {
    for (const level of LEVELS) {
      Object.defineProperty(LazyChild.prototype, level, {
        value: function (this: LazyChild, ...args: unknown[]): void {
          // A disabled level never makes the child (the common case: nothing is written).
          if (!this.isLevelEnabled(level)) return;
          const real = this.#real as unknown as Record<string, (...a: unknown[]) => void>;
          real[level]!(...args);
        },
        writable: true,
        configurable: true,
      });
    }
  }
}

/** Fastify's `childLoggerFactory`: a logger that becomes `logger.child(bindings, options)` on first use. */
export function lazyChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  // A per-route level changes which calls write: let pino decide, with the real child.
  if (options.level !== undefined) return logger.child(bindings, options);
  return new LazyChild(logger, bindings, options) as unknown as FastifyBaseLogger;
}
