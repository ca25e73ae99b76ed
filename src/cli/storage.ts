/**
 * `edgewise storage cleanup`: removes writes a crash left unfinished (fs temp files, S3
 * multipart uploads) older than --older-than; --dry-run lists them; --print-rule prints the
 * S3 lifecycle rule that does the same continuously.
 */

import { createLogger } from '../logger.js';
import { cleanupIncomplete, lifecycleRule } from '../storage/cleanup.js';
import { createStorage } from '../storage/index.js';
import { type Command, configOption, configOptionHelp, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';
import { durationOption } from './duration.js';
import { loadConfigOrReport } from './load.js';

export const storageCleanup: Command = {
  path: ['storage', 'cleanup'],
  summary:
    'Remove unfinished writes left by crashes: fs temp files and S3 multipart uploads older than --older-than (default 24h).',
  usage: '[--older-than 24h] [--dry-run] [--print-rule]',
  options: {
    ...configOption,
    'older-than': { type: 'string' },
    'dry-run': { type: 'boolean' },
    'print-rule': { type: 'boolean' },
  },
  optionHelp: {
    ...configOptionHelp,
    'older-than':
      'Only remove leftovers at least this old, a duration: 2h, 24h, 7d (default 24h; at least server.uploadTimeoutMs, 1h by default, since younger writes may still be running)',
    'dry-run': 'List what would be removed; remove nothing',
    'print-rule':
      'Print the S3 lifecycle configuration (JSON) that aborts incomplete multipart uploads after 1 day',
  },
  async run({ values, positionals }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const config = store.current;
    if (values['print-rule']) {
      process.stdout.write(`${JSON.stringify(lifecycleRule(config.storage.s3.prefix), null, 2)}\n`);
      return EXIT_OK;
    }
    const olderThanMs = durationOption(String(values['older-than'] ?? '24h'), '--older-than');
    // Younger leftovers may be uploads still running.
    if (olderThanMs < config.server.uploadTimeoutMs)
      throw new UsageError(
        `--older-than must be at least server.uploadTimeoutMs (${config.server.uploadTimeoutMs / 1000}s): younger writes may still be running`,
      );
    const logger = createLogger({ level: 'silent', pretty: false });
    const driver = await createStorage(config.storage, logger);
    try {
      const dryRun = Boolean(values['dry-run']);
      // Each leftover is printed as it is handled, so a long S3 listing shows its progress as
      // it goes (the total is not known until the listing ends), on a terminal or not.
      const found = await cleanupIncomplete(driver, {
        olderThanMs,
        dryRun,
        onFound: (f) =>
          process.stdout.write(
            `${dryRun ? 'would remove' : 'removed'} ${f.kind} ${f.name}${f.uploadId ? ` (${f.uploadId})` : ''} started ${f.startedAt.toISOString()}\n`,
          ),
      });
      process.stdout.write(`${found.length} ${dryRun ? 'to remove' : 'removed'} (${driver.name})\n`);
      return EXIT_OK;
    } finally {
      await driver.close();
    }
  },
};
