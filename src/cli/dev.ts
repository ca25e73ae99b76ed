import { seed } from '../dev/seed.js';
import { createLogger } from '../logger.js';
import { startOrigin } from '../server.js';
import { type Command, configOption, configOptionHelp, EXIT_USAGE } from './command.js';
import { loadStoreOrReport } from './load.js';
import { reloadOnSighup, shutdownOnSignals } from './signals.js';

export const dev: Command = {
  path: ['dev'],
  summary:
    'Run everything on this machine with embedded defaults: the origin on filesystem storage (./data), seeded with sample assets on first run. Prints the URLs to open.',
  usage: '[--config <file>]',
  options: configOption,
  optionHelp: configOptionHelp,
  async run({ values }) {
    const store = loadStoreOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const logging = store.current.logging;
    const logger = createLogger({ ...logging, pretty: logging.pretty || process.stdout.isTTY === true });
    const origin = await startOrigin(store, logger);
    const seeded = await seed(origin.app.edgewise.storage);
    if (seeded.length > 0) logger.info({ keys: seeded }, 'seeded sample assets');
    process.stdout.write(
      [
        '',
        'edgewise dev is running',
        `  origin   ${origin.url}`,
        `  try      curl -i ${origin.url}/static/hello.txt`,
        `  health   ${origin.url}/healthz`,
        '',
      ].join('\n'),
    );
    reloadOnSighup(store, logger);
    shutdownOnSignals(logger, () => origin.shutdown());
    // Runs until a signal ends the process.
    return new Promise<number>(() => {});
  },
};
