import { type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, helpText, parse, UsageError } from './command.js';
import { packageVersion } from './version.js';

/**
 * Command modules by first word, loaded on demand: `edgewise config check` should not pay for
 * loading Fastify, sharp and the AWS SDK. Each command arrives with the issue that makes it work.
 */
const modules: Record<string, () => Promise<Command[]>> = {
  config: async () => {
    const m = await import('./config.js');
    return [m.configCheck, m.configPrint, m.configReferenceCmd];
  },
  dev: async () => [(await import('./dev.js')).dev],
  serve: async () => [(await import('./serve.js')).serve],
  edge: async () => [(await import('./edge.js')).edge],
  prefetch: async () => {
    const m = await import('./prefetch.js');
    return [m.prefetchRun, m.prefetchWatch, m.prefetchSimulate, m.prefetchTraceGenerate];
  },
  images: async () => [(await import('./images.js')).imagesSrcset],
  cloudfront: async () => {
    const m = await import('./cloudfront.js');
    const d = await import('./cloudfront-deploy.js');
    return [m.cloudfrontBuild, m.cloudfrontPlan, d.cloudfrontDeploy, d.cloudfrontKvsSync];
  },
  sign: async () => [(await import('./sign-url.js')).signUrl, (await import('./sign-upload.js')).signUpload],
  storage: async () => [(await import('./storage.js')).storageCleanup],
  health: async () => [(await import('./health.js')).health],
  kpi: async () => {
    const m = await import('./kpi.js');
    return [m.kpiRules, m.kpiGrafana];
  },
  ttl: async () => [(await import('./ttl.js')).ttlSuggest],
};

/** Every command (loads every command module). */
export async function allCommands(): Promise<Command[]> {
  return (await Promise.all(Object.values(modules).map((load) => load()))).flat();
}

function commandList(commands: Command[]): string[] {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary.split('. ')[0]}`);
}

function topHelp(commands: Command[]): string {
  return [
    'Usage: edgewise <command> [options]',
    '',
    'Commands:',
    ...commandList(commands),
    '',
    'Options:',
    '  -V, --version  Print the version of edgewise',
    '  -h, --help     Show this help',
    '',
    "Run `edgewise <command> --help` for a command's options.",
  ].join('\n');
}

/** Help for a group of subcommands (`edgewise config`). */
export function groupHelp(group: string, commands: Command[]): string {
  return [
    `Usage: edgewise ${group} <subcommand> [options]`,
    '',
    'Subcommands:',
    ...commandList(commands),
    '',
    `Run \`edgewise ${group} <subcommand> --help\` for a subcommand's options.`,
  ].join('\n');
}

const isHelp = (word: string | undefined) => word === '--help' || word === '-h' || word === 'help';

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT_OK;
  }
  const load = argv[0] === undefined ? undefined : modules[argv[0]];
  const commands = load ? await load() : await allCommands();
  // Longest path first, so `config check` wins over a hypothetical `config`.
  const sorted = [...commands].sort((a, b) => b.path.length - a.path.length);
  const cmd = sorted.find((c) => c.path.every((word, i) => argv[i] === word));
  if (!cmd && load) {
    // A group (`edgewise config`, `edgewise prefetch trace`): the longest run of the words given
    // that commands' paths start with. Its own help; without a subcommand, a usage error.
    let depth = 1;
    while (
      commands.some(
        (c) => c.path.length > depth + 1 && c.path.slice(0, depth + 1).every((w, i) => argv[i] === w),
      )
    )
      depth++;
    const words = argv.slice(0, depth);
    const group = words.join(' ');
    const members = commands.filter((c) => words.every((w, i) => c.path[i] === w));
    if (isHelp(argv[depth])) {
      process.stdout.write(`${groupHelp(group, members)}\n`);
      return EXIT_OK;
    }
    const problem =
      argv[depth] === undefined
        ? `missing subcommand: one of ${members.map((c) => c.path.slice(depth).join(' ')).join(', ')}`
        : `unknown subcommand "${argv.slice(depth).join(' ')}"`;
    process.stderr.write(`${groupHelp(group, members)}\n\nedgewise ${group}: ${problem}\n`);
    return EXIT_USAGE;
  }
  if (!cmd) {
    const asksHelp = argv.length === 0 || isHelp(argv[0]);
    (asksHelp ? process.stdout : process.stderr).write(`${topHelp(commands)}\n`);
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
    const listen = listenProblem(err);
    if (listen) {
      process.stderr.write(`edgewise ${cmd.path.join(' ')}: ${listen}\n`);
      return EXIT_FAILURE;
    }
    process.stderr.write(`edgewise ${cmd.path.join(' ')}: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_FAILURE;
  }
}

/** A listener that could not bind is an operator problem, not a bug: say what to change, no stack. */
function listenProblem(err: unknown): string | undefined {
  const e = err as { code?: string; address?: string; port?: number; syscall?: string };
  if (e.syscall !== 'listen') return undefined;
  const where = `${e.address ?? ''}:${e.port ?? ''}`;
  if (e.code === 'EADDRINUSE')
    return `${where} is already in use; stop the other process or choose another port (server.port / edge.port, or EDGEWISE__SERVER__PORT / EDGEWISE__EDGE__PORT)`;
  if (e.code === 'EACCES')
    return `no permission to listen on ${where}; use a port above 1023 or grant the capability`;
  if (e.code === 'EADDRNOTAVAIL')
    return `${e.address} is not an address of this machine (server.host / edge.host)`;
  return undefined;
}
