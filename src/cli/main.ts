import { type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, helpText, parse, UsageError } from './command.js';
import { cloudfrontBuild, cloudfrontPlan } from './cloudfront.js';
import { configCheck, configPrint, configReferenceCmd } from './config.js';
import { dev } from './dev.js';
import { edge } from './edge.js';
import { imagesSrcset } from './images.js';
import { prefetchRun, prefetchSimulate, prefetchWatch } from './prefetch.js';
import { serve } from './serve.js';
import { signUpload } from './sign-upload.js';
import { signUrl } from './sign-url.js';
import { storageCleanup } from './storage.js';

/** Every command; each arrives with the issue that makes it work. */
export const commands: Command[] = [configCheck, configPrint, configReferenceCmd, dev, edge, serve, prefetchRun, prefetchWatch, prefetchSimulate, imagesSrcset, cloudfrontBuild, cloudfrontPlan, signUrl, signUpload, storageCleanup];

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return [
    'Usage: edgewise <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary.split('. ')[0]}`),
    '',
    "Run `edgewise <command> --help` for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  // Longest path first, so `config check` wins over a hypothetical `config`.
  const sorted = [...commands].sort((a, b) => b.path.length - a.path.length);
  const cmd = sorted.find((c) => c.path.every((word, i) => argv[i] === word));
  if (!cmd) {
    const asksHelp = argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help';
    (asksHelp ? process.stdout : process.stderr).write(`${topHelp()}\n`);
    if (!asksHelp) process.stderr.write(`\nedgewise: unknown command "${argv.join(' ')}"\n`);
    return asksHelp ? EXIT_OK : EXIT_USAGE;
  }
  try {
    const args = parse(cmd, argv.slice(cmd.path.length));
    if (args.values.help) {
      process.stdout.write(`${helpText(cmd)}\n`);
      return EXIT_OK;
    }
    return await cmd.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`edgewise ${cmd.path.join(' ')}: ${err.message}\n\n${helpText(cmd)}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`edgewise ${cmd.path.join(' ')}: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_FAILURE;
  }
}
