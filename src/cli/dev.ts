import { join, resolve } from 'node:path';
import { buildFunctions, writeBuild } from '../cloudfront/build.js';
import { devSigningEnv, ensureDevSigningKeys } from '../cloudfront/keys.js';
import { LiveConfig } from '../config/live.js';
import { demoUploadsEnv } from '../dev/demo.js';
import { seed } from '../dev/seed.js';
import { startEdge } from '../edge/server.js';
import { createLogger } from '../logger.js';
import { startDevPrefetch } from '../prefetch/dev.js';
import { startOrigin } from '../server.js';
import { type Command, configOption, configOptionHelp, EXIT_USAGE } from './command.js';
import { loadConfigOrReport } from './load.js';
import { reloadConfig, shutdownOnSignals } from './signals.js';
import { watchFile } from './watch-file.js';

/**
 * dev promises to be gone within 2 s of Ctrl-C, SIGTERM or a terminal hangup, whatever it is
 * doing: each server gets DEV_DRAIN_MS for requests in flight, and DEV_EXIT_MS bounds the lot.
 */
const DEV_DRAIN_MS = 500;
const DEV_EXIT_MS = 1800;

export const dev: Command = {
  path: ['dev'],
  summary:
    'Run everything on this machine with embedded defaults: the origin on filesystem storage (./data), seeded with sample assets on first run, and the local edge in front of it (open the edge URL). Prints the URLs to open. Saving the config file reloads it; Ctrl-C, SIGTERM or closing the terminal (SIGHUP) stops it within 2 s.',
  usage: '[--config <file>]',
  options: configOption,
  optionHelp: configOptionHelp,
  async run({ values }) {
    const file = values.config as string | undefined;
    // The upload demo page (dev.demoUploads) and, if none is set, an upload signing secret.
    Object.assign(process.env, demoUploadsEnv(file));
    let store = loadConfigOrReport(file);
    if (!store) return EXIT_USAGE;
    if (store.current.cloudfront.signing.keyPairId === undefined) {
      // Signed classes work with no setup: a dev key pair under ./data, used unless the
      // config or the environment names a real key.
      const keys = ensureDevSigningKeys(join(resolve(store.current.storage.fs.dataDir), '.keys'));
      store = LiveConfig.load({ file, env: { ...devSigningEnv(keys), ...process.env } });
    }
    const logging = store.current.logging;
    const logger = createLogger({ ...logging, pretty: logging.pretty || process.stdout.isTTY === true });
    // Upload answers point at the edge (the config reference: publicUrl "defaults to the local
    // edge in dev"); the edge starts after the origin, so the origin asks for its URL each time.
    let edgeUrl: string | undefined;
    const origin = await startOrigin(store, logger, process.cwd(), () => edgeUrl);
    const seeded = await seed(origin.app.edgewise.storage);
    if (seeded.length > 0) logger.info({ keys: seeded }, 'seeded sample assets');
    // The edge runs the CloudFront Functions built from this config, as CloudFront would.
    const functionsDir = join(resolve(store.current.storage.fs.dataDir), '.edge-functions');
    writeBuild(buildFunctions(store.current), functionsDir);
    const edge = await startEdge(store, logger, {
      originUrl: origin.url,
      functionsDir,
      loopbackOperators: true,
    });
    edgeUrl = edge.url;
    const prefetch = store.current.prefetch.inDev
      ? startDevPrefetch(store, logger, edge.url, edge.app.metrics.registry)
      : undefined;
    // Saving the file reloads it. The watch and the signal handlers exist before the banner is
    // printed: whoever reads the banner and acts at once (a script, a test) would otherwise save
    // before the watch exists (no reload ever) or signal before the handlers do.
    const live = store;
    const watcher = live.loaded.file
      ? watchFile(live.loaded.file, () => reloadConfig(live, logger, 'file saved'))
      : undefined;
    // dev runs in a terminal: SIGHUP is the terminal hanging up, which stops dev like Ctrl-C
    // (serve and edge keep SIGHUP = reload). Output has nowhere to go once the terminal is
    // gone, so write errors (EIO) no longer matter.
    process.once('SIGHUP', () => {
      for (const out of [process.stdout, process.stderr]) out.on('error', () => {});
    });
    shutdownOnSignals(
      logger,
      async () => {
        watcher?.close();
        await prefetch?.stop();
        await edge.shutdown(DEV_DRAIN_MS);
        await origin.shutdown(DEV_DRAIN_MS);
      },
      { signals: ['SIGINT', 'SIGTERM', 'SIGHUP'], exitDeadlineMs: DEV_EXIT_MS },
    );
    process.stdout.write(
      [
        '',
        'edgewise dev is running',
        `  edge     ${edge.url}   <- open this (caching, like CloudFront)`,
        `  origin   ${origin.url}`,
        ...(store.current.dev.demoUploads ? [`  uploads  ${edge.url}/   <- upload demo page`] : []),
        `  try      curl -i ${edge.url}/static/hello.txt`,
        `  health   ${origin.url}/healthz`,
        `  metrics  ${edge.url}${store.current.edge.metricsPath}`,
        `  dashboard ${edge.url}/_edge/dashboard`,
        '',
      ].join('\n'),
    );
    // Runs until a signal ends the process.
    return new Promise<number>(() => {});
  },
};
