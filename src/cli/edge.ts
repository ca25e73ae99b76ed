import { startEdge } from '../edge/server.js';
import { createLogger } from '../logger.js';
import { type Command, configOption, configOptionHelp, EXIT_USAGE } from './command.js';
import { loadStoreOrReport } from './load.js';
import { reloadOnSighup, shutdownOnSignals } from './signals.js';

export const edge: Command = {
  path: ['edge'],
  summary:
    'Run the local edge only: a caching reverse proxy in front of origin.url that behaves like a CloudFront POP (cache behaviors from the classes, access logs, invalidation API). SIGHUP reloads classes and TTLs; SIGTERM drains and exits 0.',
  usage: '[--config <file>]',
  options: configOption,
  optionHelp: configOptionHelp,
  async run({ values }) {
    const store = loadStoreOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const logger = createLogger(store.current.logging);
    const running = await startEdge(store, logger);
    const e = store.current.edge;
    logger.info(
      {
        url: running.url,
        functions: running.app.functions,
        logs: e.logs.enabled ? e.logs.dir : false,
        viewerProtocolPolicy: e.tls || e.trustForwardedProto ? 'enforced' : 'not enforced (no TLS listener)',
      },
      'edge listening',
    );
    reloadOnSighup(store, logger);
    shutdownOnSignals(logger, async () => {
      const result = await running.shutdown();
      logger.info({ result }, 'edge stopped');
    });
    // Runs until a signal ends the process.
    return new Promise<number>(() => {});
  },
};
