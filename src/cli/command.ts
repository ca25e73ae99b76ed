/**
 * The shape every `edgewise` subcommand has. Exit codes: 0 success, 1 runtime failure,
 * 2 bad usage or invalid config (nothing was started).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command<O extends Options = Options> {
  /** Words after `edgewise`, e.g. ['config', 'check']. */
  path: string[];
  summary: string;
  usage: string;
  options: O;
  /** Help lines for each option, by name. */
  optionHelp: Record<keyof O & string, string>;
  run(args: { values: Record<string, unknown>; positionals: string[] }): Promise<number>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const configOption = {
  config: { type: 'string', short: 'c' },
} as const satisfies Options;

export const configOptionHelp = {
  config: 'Config file (default: ./edgewise.yaml if present, else embedded defaults)',
};

export function helpText(cmd: Command): string {
  const lines = [
    `Usage: edgewise ${cmd.path.join(' ')} ${cmd.usage}`.trimEnd(),
    '',
    cmd.summary,
    '',
    'Options:',
  ];
  for (const [name, spec] of Object.entries(cmd.options)) {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ' <value>' : ''}`;
    lines.push(`  ${flag.padEnd(28)} ${cmd.optionHelp[name as keyof typeof cmd.optionHelp] ?? ''}`);
  }
  lines.push(`      --help                   Show this help`);
  return lines.join('\n');
}

export function parse(cmd: Command, argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
