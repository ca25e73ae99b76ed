/**
 * Process signals for long-running commands: SIGHUP re-reads the config (an invalid file is
 * rejected and the running config stays); SIGTERM/SIGINT shut down gracefully.
 */
import { ConfigError, formatIssue } from '../config/load.js';
import type { ConfigStore } from '../config/store.js';
import type { Logger } from '../logger.js';

export function reloadOnSighup(store: ConfigStore, logger: Logger): () => void {
  const onHup = () => {
    try {
      const { applied, restartPending } = store.reload();
      logger.info({ applied, restartPending, file: store.loaded.file }, 'config reloaded');
      if (restartPending.length > 0) {
        logger.warn(
          { sections: restartPending },
          'config sections changed that apply only after a restart; running values kept',
        );
      }
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues.map(formatIssue) : [String(err)];
      logger.error({ issues }, 'config reload rejected; previous config stays in force');
    }
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}

export function shutdownOnSignals(logger: Logger, shutdown: () => Promise<unknown>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal; exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
