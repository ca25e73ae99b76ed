import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { runEdgePrimary } from '../edge/cluster/primary.js';
import { WorkerLink } from '../edge/cluster/worker.js';
import { startEdge } from '../edge/server.js';
import { createLogger } from '../logger.js';
import { type Command, configOption, configOptionHelp, EXIT_USAGE } from './command.js';
import { loadConfigOrReport } from './load.js';
import { reloadOnSighup, shutdownOnSignals } from './signals.js';

export const edge: Command = {
  path: ['edge'],
  summary:
    'Run the local edge only: a caching reverse proxy in front of origin.url that behaves like a CloudFront POP (cache behaviors from the classes, access logs, invalidation API). SIGHUP reloads classes and TTLs; SIGTERM drains and exits 0.',
  usage: '[--config <file>]',
  options: configOption,
  optionHelp: configOptionHelp,
  async run({ values }) {
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const logger = createLogger(store.current.logging);
    const e = store.current.edge;
    const workers = e.workers === 0 ? availableParallelism() : e.workers;
    if (workers > 1 && cluster.isPrimary) {
      // The primary only coordinates; workers (this same command, forked) serve the port.
      const primary = runEdgePrimary(workers, logger, e.shutdownDeadlineMs);
      shutdownOnSignals(logger, async () => {
        await primary.stop();
        logger.info({ result: 'clean' }, 'edge stopped');
      });
      return new Promise<number>(() => {});
    }
    const link = cluster.isWorker ? new WorkerLink() : undefined;
    await link?.warm();
    const running = await startEdge(store, logger, link ? { cluster: link } : {});
    if (link) {
      reloadOnSighup(store, logger);
      // One Ctrl-C reaches a worker twice: the terminal's SIGINT (same process group) and then
      // the primary's SIGTERM. The second must not cut the drain short with exit 1.
      shutdownOnSignals(
        logger,
        async () => {
          const result = await running.shutdown();
          logger.info({ result, worker: process.pid }, 'edge worker stopped');
        },
        { repeat: 'ignore' },
      );
      link.send({ t: 'listening', url: running.url });
      return new Promise<number>(() => {});
    }
    // Signal handlers before the announcement, as in serve.
    reloadOnSighup(store, logger);
    shutdownOnSignals(logger, async () => {
      const result = await running.shutdown();
      logger.info({ result }, 'edge stopped');
    });
    logger.info(
      {
        url: running.url,
        functions: running.app.functions,
        logs: e.logs.enabled ? e.logs.dir : false,
        viewerProtocolPolicy: e.tls || e.trustForwardedProto ? 'enforced' : 'not enforced (no TLS listener)',
      },
      'edge listening',
    );
    // Runs until a signal ends the process.
    return new Promise<number>(() => {});
  },
};
