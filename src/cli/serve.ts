import { createLogger } from '../logger.js';
import { startOrigin } from '../server.js';
import { type Command, configOption, configOptionHelp, EXIT_USAGE } from './command.js';
import { loadConfigOrReport } from './load.js';
import { reloadOnSighup, shutdownOnSignals } from './signals.js';

export const serve: Command = {
  path: ['serve'],
  summary:
    'Run the origin server only (production). SIGHUP reloads TTLs and limits; SIGTERM drains and exits 0.',
  usage: '[--config <file>]',
  options: configOption,
  optionHelp: configOptionHelp,
  async run({ values }) {
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    if (store.current.dev.demoUploads) {
      // The demo signs upload URLs for anyone who can reach the origin: never in production.
      process.stderr.write(
        'edgewise: dev.demoUploads is for `edgewise dev` only (it signs uploads without an API key)\n',
      );
      return EXIT_USAGE;
    }
    const logger = createLogger(store.current.logging);
    const origin = await startOrigin(store, logger);
    // Signal handlers before the announcement: a supervisor that signals as soon as it reads
    // 'origin listening' must find them (SIGHUP's default action would end the process).
    reloadOnSighup(store, logger);
    shutdownOnSignals(logger, async () => {
      const result = await origin.shutdown();
      logger.info({ result }, 'origin stopped');
    });
    logger.info({ url: origin.url, storage: store.current.storage.driver }, 'origin listening');
    // Runs until a signal ends the process.
    return new Promise<number>(() => {});
  },
};
