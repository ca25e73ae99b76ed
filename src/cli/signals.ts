/**
 * Process signals for long-running commands: SIGHUP re-reads the config (an invalid file is
 * rejected and the running config stays); SIGTERM/SIGINT shut down gracefully. `dev` is the
 * exception: it runs in a terminal and reloads when the file is saved, so there SIGHUP means
 * what it means to any foreground program, the terminal hung up, and it stops (docs/operations.md).
 */

import type { LiveConfig } from '../config/live.js';
import { ConfigError, formatIssue } from '../config/load.js';
import type { Logger } from '../logger.js';

/** Re-reads the config and logs what applied; an invalid file is logged and the old config stays. */
export function reloadConfig(store: LiveConfig, logger: Logger, trigger: string): void {
  try {
    const { applied, restartPending } = store.reload();
    logger.info({ trigger, applied, restartPending, file: store.loaded.file }, 'config reloaded');
    if (restartPending.length > 0) {
      logger.warn(
        { sections: restartPending },
        'config sections changed that apply only after a restart; running values kept',
      );
    }
  } catch (err) {
    const issues = err instanceof ConfigError ? err.issues.map(formatIssue) : [String(err)];
    logger.error({ trigger, issues }, 'config reload rejected; previous config stays in force');
  }
}

export function reloadOnSighup(store: LiveConfig, logger: Logger): () => void {
  const onHup = () => reloadConfig(store, logger, 'SIGHUP');
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}

export interface ShutdownOptions {
  /** Signals that stop the process (default SIGTERM and SIGINT; `dev` adds SIGHUP). */
  signals?: NodeJS.Signals[];
  /**
   * A hard bound: this long after the first signal the process exits whatever is still running
   * (exit 1, with a log line naming the bound). `dev` promises to be gone within 2 s.
   */
  exitDeadlineMs?: number;
  /**
   * A second signal while draining: 'exit' leaves at once with 1 (an operator pressing Ctrl-C
   * twice insists); 'ignore' keeps draining (an edge worker, which gets the terminal's SIGINT
   * and then its primary's SIGTERM for one and the same Ctrl-C).
   */
  repeat?: 'exit' | 'ignore';
}

export function shutdownOnSignals(
  logger: Logger,
  shutdown: () => Promise<unknown>,
  options: ShutdownOptions = {},
): void {
  const { signals = ['SIGTERM', 'SIGINT'], exitDeadlineMs, repeat = 'exit' } = options;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (repeat === 'ignore') {
        logger.info({ signal }, 'already shutting down; still draining');
        return;
      }
      logger.warn({ signal }, 'second signal; exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    if (exitDeadlineMs !== undefined) {
      setTimeout(() => {
        logger.warn({ exitDeadlineMs }, 'shutdown did not finish in time; exiting now');
        process.exit(1);
      }, exitDeadlineMs).unref();
    }
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
}
