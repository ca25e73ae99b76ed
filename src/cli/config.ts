import { readFile, writeFile } from 'node:fs/promises';
import { Document, isPair, isScalar, isSeq, visit } from 'yaml';
import type { ValueSource } from '../config/load.js';
import { configReference, withReference } from '../config/reference.js';
import { type Command, configOption, configOptionHelp, EXIT_OK, EXIT_USAGE } from './command.js';
import { loadConfigOrReport } from './load.js';

export const configCheck: Command = {
  path: ['config', 'check'],
  summary:
    'Validate the config file and environment overrides; list every problem with its key path. Exit 0 when valid, 2 when not.',
  usage: '[--config <file>]',
  options: configOption,
  optionHelp: configOptionHelp,
  async run({ values }) {
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const { file } = store.loaded;
    process.stdout.write(
      `${file ?? 'embedded defaults'}: ok (${store.current.classes.length} content classes)\n`,
    );
    return EXIT_OK;
  },
};

export const configPrint: Command = {
  path: ['config', 'print'],
  summary:
    'Print the effective config (defaults filled in), each value annotated with where it came from: default, file or env.',
  usage: '[--config <file>] [--json]',
  options: { ...configOption, json: { type: 'boolean' } },
  optionHelp: { ...configOptionHelp, json: 'Print {config, sources} as JSON instead of annotated YAML' },
  async run({ values }) {
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const { sources, file } = store.loaded;
    const config = redactSecrets(store.current) as object;
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ file: file ?? null, config, sources: Object.fromEntries(sources) }, null, 2)}\n`,
      );
      return EXIT_OK;
    }
    process.stdout.write(`# effective config; file: ${file ?? '(none, embedded defaults)'}\n`);
    process.stdout.write(annotatedYaml(config, sources));
    return EXIT_OK;
  },
};

/** Option names whose values are credentials: printed as `[redacted]` (with their source kept). */
const SECRET_NAME = /secret|apikey|privatekey|password|token/i;

/** A copy of the config with every credential replaced, so `config print` output is safe to paste. */
export function redactSecrets(value: unknown, secret = false): unknown {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, secret));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, redactSecrets(v, secret || SECRET_NAME.test(k))]),
    );
  }
  return secret && typeof value === 'string' ? '[redacted]' : value;
}

/** YAML with a trailing `# default|file|env:NAME` comment on every leaf value. */
export function annotatedYaml(config: object, sources: ReadonlyMap<string, ValueSource>): string {
  const doc = new Document(config);
  visit(doc, {
    Pair(_key, pair, path) {
      const chain = [...path, pair];
      const segs: string[] = [];
      chain.forEach((node, i) => {
        if (isPair(node) && isScalar(node.key)) segs.push(String(node.key.value));
        else if (isSeq(node) && i + 1 < chain.length)
          segs.push(`[${node.items.indexOf(chain[i + 1] as never)}]`);
      });
      const dotted = segs.reduce((acc, s) => (s.startsWith('[') ? acc + s : acc ? `${acc}.${s}` : s), '');
      const source = sources.get(dotted);
      if (!source) return;
      if (isSeq(pair.value)) pair.value.flow = true;
      if (isScalar(pair.value) || isSeq(pair.value)) pair.value.comment = ` ${source}`;
    },
  });
  return doc.toString({ lineWidth: 0 });
}

export const configReferenceCmd: Command = {
  path: ['config', 'reference'],
  summary:
    'Print every config option with its type, limits, default and meaning, as a Markdown table generated from the schema.',
  usage: '[--readme <file>]',
  options: { readme: { type: 'string' } },
  optionHelp: {
    readme:
      'Rewrite the generated block between the config-reference markers of this file instead of printing',
  },
  async run({ values }) {
    if (typeof values.readme === 'string') {
      await writeFile(values.readme, withReference(await readFile(values.readme, 'utf8')));
      return EXIT_OK;
    }
    process.stdout.write(`${configReference()}\n`);
    return EXIT_OK;
  },
};
