import { isCodedError } from '../errors.js';
import { srcset } from '../images/srcset.js';
import { type Command, configOption, configOptionHelp, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';
import { loadConfigOrReport } from './load.js';

function positiveInt(name: string, raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^[1-9][0-9]{0,5}$/.test(raw))
    throw new UsageError(`--${name} must be a positive integer (got ${String(raw)})`);
  return Number(raw);
}

export const imagesSrcset: Command = {
  path: ['images', 'srcset'],
  summary:
    'Print the srcset for an image key over the configured widths (images.widths), so pages request exactly the variants the edge caches.',
  usage:
    '<key> [--config <file>] [--base <url>] [--fmt <format>] [--q <quality>] [--max-width <px>] [--html]',
  options: {
    ...configOption,
    base: { type: 'string' },
    fmt: { type: 'string' },
    q: { type: 'string' },
    h: { type: 'string' },
    fit: { type: 'string' },
    'max-width': { type: 'string' },
    sizes: { type: 'string' },
    html: { type: 'boolean' },
  },
  optionHelp: {
    ...configOptionHelp,
    base: 'URL prefix (default: server.publicUrl, else root-relative /img/… URLs)',
    fmt: 'Output format (default: none, i.e. auto negotiation from Accept)',
    q: 'Quality, one of images.qualities (default: none, i.e. images.defaultQuality)',
    h: 'Height, one of images.widths (with --fit)',
    fit: 'cover, contain, fill, inside or outside (with --h)',
    'max-width': "Leave out widths above this (the source's own width)",
    sizes: 'The sizes attribute for --html (default: 100vw)',
    html: 'Print an <img> element instead of the bare srcset string',
  },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one image key');
    const key = positionals[0]!;
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const cfg = store.current;
    const base = (values.base as string | undefined) ?? cfg.server.publicUrl ?? '';
    let set: string;
    try {
      set = srcset(key, cfg.images, {
        base,
        fmt: values.fmt as string | undefined,
        q: positiveInt('q', values.q),
        h: positiveInt('h', values.h),
        fit: values.fit as string | undefined,
        maxWidth: positiveInt('max-width', values['max-width']),
      });
    } catch (err) {
      if (isCodedError(err)) throw new UsageError(err.message);
      throw err;
    }
    if (!values.html) {
      process.stdout.write(`${set}\n`);
      return EXIT_OK;
    }
    const candidates = set.split(', ');
    const largest = candidates[candidates.length - 1]!.replace(/ \d+w$/, '');
    const attr = (s: string) => s.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
    const sizes = (values.sizes as string | undefined) ?? '100vw';
    process.stdout.write(
      `<img src="${attr(largest)}" srcset="${attr(set)}" sizes="${attr(sizes)}" alt="">\n`,
    );
    return EXIT_OK;
  },
};
