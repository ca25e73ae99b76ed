/**
 * `edgewise ttl suggest`: proposes per class (or per path prefix) the edge TTL that the logged
 * revalidation outcomes support, shows it as a diff of edgewise.yaml with the expected hit
 * ratio and stale-served share under the current and the proposed TTL, and with `--apply`
 * writes the file and tells (or signals) the running process to reload. docs/ttl.md.
 */
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { EdgewiseConfig } from '../config/schema.js';
import { createLogger } from '../logger.js';
import { DirSource, isRevalidationLogName, type LogSource, StorageSource } from '../prefetch/sources.js';
import { createStorage } from '../storage/index.js';
import type { StorageDriver } from '../storage/types.js';
import { ApplyError, applyChanges, lineDiff } from '../ttl/apply.js';
import { MAX_STALE_LIMIT } from '../ttl/estimate.js';
import { gatherEvidence } from '../ttl/evidence.js';
import { hitRatio, staleRatio } from '../ttl/replay.js';
import { DEFAULT_MAX_STALE, DEFAULT_MIN_EVIDENCE, type Proposal, suggest } from '../ttl/suggest.js';
import {
  type Command,
  configOption,
  configOptionHelp,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
} from './command.js';
import { durationOption } from './duration.js';
import { loadConfigOrReport } from './load.js';

const DEFAULT_MAX_RECORDS = 10_000_000;

const options = {
  ...configOption,
  logs: { type: 'string' },
  source: { type: 'string' },
  by: { type: 'string' },
  class: { type: 'string', multiple: true },
  since: { type: 'string' },
  'max-records': { type: 'string' },
  'max-stale': { type: 'string' },
  'min-evidence': { type: 'string' },
  json: { type: 'boolean' },
  apply: { type: 'boolean' },
  pid: { type: 'string' },
} as const;

const optionHelp = {
  ...configOptionHelp,
  logs: 'Directory to read access logs and revalidation records from (every file under it)',
  source:
    'edge (default): the local edge’s edge.logs.dir/prefix; prefetch: where prefetch.logs points (a dir, or the storage driver, e.g. the S3 bucket CloudFront logs to)',
  by: 'class (default), or prefix[:depth]: per path prefix of depth segments (1 by default) within each class',
  class: 'Only this class (repeatable); default: every class',
  since: 'Only evidence newer than this duration (e.g. 24h); default: all files',
  'max-records': `Viewer requests read at most (memory: each is held for the replay; default ${DEFAULT_MAX_RECORDS.toLocaleString('en-US')}); once reached, the remaining files are not read`,
  'max-stale': `Largest probability a copy served before its TTL ends is stale (default ${DEFAULT_MAX_STALE}; at most ${MAX_STALE_LIMIT.toFixed(2)}, a TTL of one mean change interval)`,
  'min-evidence': `Revalidations a class needs before its TTL is changed (default ${DEFAULT_MIN_EVIDENCE})`,
  json: 'Print the proposals as JSON instead of the diff and table',
  apply: 'Write the proposed ttl.default values into the config file (comments kept) and reload',
  pid: 'With --apply: send SIGHUP to this `edgewise serve` or `edgewise edge` process so it reloads (dev reloads on save by itself)',
};

interface Sources {
  logs: LogSource;
  revalidations: LogSource;
  driver?: StorageDriver;
}

async function sourcesFor(
  config: Readonly<EdgewiseConfig>,
  values: Record<string, unknown>,
): Promise<Sources> {
  const dir = values.logs as string | undefined;
  const which = (values.source as string | undefined) ?? 'edge';
  if (which !== 'edge' && which !== 'prefetch')
    throw new UsageError(`--source must be edge or prefetch (got "${which}")`);
  if (dir !== undefined) {
    if (values.source !== undefined) throw new UsageError('--logs and --source are exclusive');
    const root = resolve(dir);
    return { logs: new DirSource(root, ''), revalidations: new DirSource(root, '', isRevalidationLogName) };
  }
  if (which === 'edge') {
    const l = config.edge.logs;
    const root = resolve(l.dir);
    return {
      logs: new DirSource(root, l.prefix),
      revalidations: new DirSource(root, l.prefix, isRevalidationLogName),
    };
  }
  const l = config.prefetch.logs;
  if (l.source === 'dir') {
    const root = resolve(l.dir);
    return {
      logs: new DirSource(root, l.prefix),
      revalidations: new DirSource(root, l.prefix, isRevalidationLogName),
    };
  }
  const driver = await createStorage(config.storage, createLogger({ level: 'silent', pretty: false }));
  return {
    logs: new StorageSource(driver, l.prefix),
    revalidations: new StorageSource(driver, l.prefix, isRevalidationLogName),
    driver,
  };
}

function prefixDepth(by: string | undefined): number | undefined {
  if (by === undefined || by === 'class') return undefined;
  const m = /^prefix(?::(\d{1,2}))?$/.exec(by);
  if (!m) throw new UsageError(`--by must be class, prefix or prefix:<depth> (got "${by}")`);
  const depth = m[1] === undefined ? 1 : Number(m[1]);
  if (depth < 1 || depth > 16) throw new UsageError('--by prefix:<depth>: depth must be 1 to 16');
  return depth;
}

function numberOption(raw: string | undefined, name: string, min: number, max: number, integer: boolean) {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got "${raw}")`,
    );
  return n;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const secs = (s: number) => (s >= 100 ? `${Math.round(s)} s` : `${Number(s.toPrecision(3))} s`);

function evidenceText(p: Proposal): string {
  return `${p.estimate.n} reval, ${p.estimate.changed} changed`;
}

function intervalText(p: Proposal): string {
  const e = p.estimate;
  if (e.n === 0) return '—';
  if (e.kind === 'no-change') return e.longestUnchanged > 0 ? `> ${secs(e.longestUnchanged)}` : '—';
  return `${e.kind === 'all-changed' ? '< ' : ''}mean ${secs(1 / e.rate)}`;
}

/** Columns padded to width; counts right-aligned, words left. */
function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const right = (c: string) => /^[\d.→% –>n/a-]+$/.test(c) && c !== '—';
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : right(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function rows(proposals: Proposal[], byPrefix: boolean, mode: 'edge' | 'logs'): string[][] {
  const head = [
    'class',
    ...(byPrefix ? ['prefix'] : []),
    'requests',
    'evidence',
    'change interval',
    'ttl (s)',
    'hit ratio',
    'stale-served',
    'note',
  ];
  const out = [head];
  for (const p of proposals) {
    const stale = (r: typeof p.before) =>
      mode === 'logs' || p.estimate.n === 0 ? 'n/a' : pct(staleRatio(r));
    const after = p.after;
    out.push([
      p.cls,
      ...(byPrefix ? [p.prefix || '—'] : []),
      String(p.requests),
      evidenceText(p),
      intervalText(p),
      p.proposed === undefined ? String(p.current) : `${p.current} → ${p.proposed}`,
      after && p.proposed !== undefined
        ? `${pct(hitRatio(p.before))} → ${pct(hitRatio(after))}`
        : pct(hitRatio(p.before)),
      after && p.proposed !== undefined ? `${stale(p.before)} → ${stale(after)}` : stale(p.before),
      p.note || (p.requests === 0 && p.estimate.n === 0 ? 'no requests in the logs' : ''),
    ]);
  }
  return out;
}

/** Whether `pid` runs `edgewise dev`, where /proc can say (SIGHUP stops dev: a terminal hangup). */
function isDev(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes('dev');
  } catch {
    return false;
  }
}

export const ttlSuggest: Command<typeof options> = {
  path: ['ttl', 'suggest'],
  summary:
    'Propose per-class edge TTLs from access logs and revalidation outcomes, as a diff of the config with the expected hit-ratio and staleness change; --apply writes it and reloads.',
  usage:
    '[--config f] [--logs dir | --source edge|prefetch] [--by class|prefix[:depth]] [--class name] [--apply [--pid N]]',
  options,
  optionHelp,
  async run({ values, positionals }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const depth = prefixDepth(values.by as string | undefined);
    const maxStale = numberOption(
      values['max-stale'] as string | undefined,
      'max-stale',
      0.001,
      MAX_STALE_LIMIT,
      false,
    );
    const maxRecords = numberOption(values['max-records'] as string | undefined, 'max-records', 1, 1e9, true);
    const minEvidence = numberOption(
      values['min-evidence'] as string | undefined,
      'min-evidence',
      1,
      1e9,
      true,
    );
    const since =
      values.since === undefined ? undefined : Date.now() - durationOption(values.since as string, '--since');
    const pidRaw = values.pid as string | undefined;
    if (pidRaw !== undefined && !values.apply) throw new UsageError('--pid goes with --apply');
    const pid = numberOption(pidRaw, 'pid', 1, 2 ** 22, true);
    if (values.apply && depth !== undefined)
      throw new UsageError(
        '--apply writes class TTLs; per-prefix proposals are advice (make a prefix its own class to apply one)',
      );
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const config = store.current;
    const file = store.loaded.file;
    const only = values.class as string[] | undefined;
    for (const name of only ?? [])
      if (!config.classes.some((c) => c.name === name))
        throw new UsageError(
          `--class ${name}: no such class; the config has ${config.classes.map((c) => c.name).join(', ')}`,
        );
    if (values.apply && file === undefined)
      throw new UsageError('--apply needs a config file: pass --config, or run where edgewise.yaml is');
    if (pid !== undefined) {
      if (isDev(pid))
        throw new UsageError(
          `process ${pid} is \`edgewise dev\`: it reloads when the file is saved, and SIGHUP would stop it; leave out --pid`,
        );
      try {
        process.kill(pid, 0);
      } catch {
        throw new UsageError(`--pid ${pid}: no such process (or not ours to signal)`);
      }
    }

    const sources = await sourcesFor(config, values);
    try {
      const evidence = await gatherEvidence({
        config,
        logs: sources.logs,
        revalidations: sources.revalidations,
        prefixDepth: depth,
        since,
        maxRecords: maxRecords ?? DEFAULT_MAX_RECORDS,
      });
      if (evidence.logFiles === 0) {
        process.stderr.write(
          `edgewise: no access log files in ${sources.logs.description}: nothing to suggest from (point --logs at a log directory, or let the edge log first)\n`,
        );
        return EXIT_FAILURE;
      }
      if (evidence.truncated)
        process.stderr.write(
          `edgewise: warning: stopped reading at ${maxRecords ?? DEFAULT_MAX_RECORDS} viewer requests (--max-records): later log files were not read\n`,
        );
      const proposals = suggest(evidence, config, {
        maxStale: maxStale ?? DEFAULT_MAX_STALE,
        minEvidence: minEvidence ?? DEFAULT_MIN_EVIDENCE,
      }).filter((p) => only === undefined || only.includes(p.cls));
      const changes =
        depth === undefined
          ? proposals.flatMap((p) => (p.proposed === undefined ? [] : [{ cls: p.cls, ttl: p.proposed }]))
          : [];
      const text = file === undefined ? '' : readFileSync(file, 'utf8');
      let next = text;
      if (changes.length > 0) {
        try {
          next = applyChanges(text, file ?? 'edgewise.yaml', config, changes, process.env);
        } catch (err) {
          if (err instanceof ApplyError) {
            process.stderr.write(`edgewise: ${err.message}\n`);
            return EXIT_USAGE;
          }
          throw err;
        }
      }
      if (values.json) {
        process.stdout.write(
          `${JSON.stringify({
            mode: evidence.mode,
            logFiles: evidence.logFiles,
            records: evidence.parse.records,
            malformed: evidence.parse.malformed,
            truncated: evidence.truncated,
            revalidationFiles: evidence.revalidations.files,
            proposals: proposals.map((p) => ({
              class: p.cls,
              prefix: p.prefix,
              requests: p.requests,
              objects: p.objects,
              revalidations: p.estimate.n,
              changed: p.estimate.changed,
              rate: p.estimate.rate,
              estimate: p.estimate.kind,
              current: p.current,
              proposed: p.proposed ?? null,
              hitRatio: { current: hitRatio(p.before), proposed: p.after ? hitRatio(p.after) : null },
              staleServed: { current: staleRatio(p.before), proposed: p.after ? staleRatio(p.after) : null },
              note: p.note,
            })),
          })}\n`,
        );
      } else {
        const w = (s: string) => process.stdout.write(s);
        w(
          `read ${evidence.parse.records} log records in ${evidence.logFiles} files from ${sources.logs.description}` +
            ` (${evidence.parse.malformed} malformed, ${evidence.skipped} not viewer GET/HEAD < 400)\n`,
        );
        w(
          evidence.mode === 'edge'
            ? `revalidation outcomes: ${evidence.revalidations.lines - evidence.revalidations.malformed} records in ${evidence.revalidations.files} revalidation log files (the local edge's)\n`
            : 'revalidation outcomes: none recorded; RefreshHits in the access logs give "unchanged" evidence only (docs/ttl.md)\n',
        );
        for (const s of evidence.parse.samples) w(`malformed ${s.source}:${s.line}: ${s.reason}\n`);
        for (const s of evidence.revalidations.samples) w(`malformed ${s.source}:${s.line}: ${s.reason}\n`);
        w(
          'replay: the logged requests under each TTL, infinite cache, no eviction; hit = served with no origin request\n\n',
        );
        const diff = file === undefined ? '' : lineDiff(text, next, file);
        if (depth === undefined) w(diff === '' ? 'no change to propose\n\n' : `${diff}\n`);
        w(`${formatTable(rows(proposals, depth !== undefined, evidence.mode))}\n`);
      }
      if (!values.apply) return EXIT_OK;
      if (changes.length === 0) {
        process.stdout.write('--apply: nothing to write\n');
        return EXIT_OK;
      }
      const target = file as string;
      // Written beside it and renamed: a watcher (dev) never reads half a file.
      const tmp = `${target}.ttl-suggest.tmp`;
      await writeFile(tmp, next);
      await rename(tmp, target);
      process.stdout.write(`wrote ${target}\n`);
      if (pid !== undefined) {
        process.kill(pid, 'SIGHUP');
        process.stdout.write(`sent SIGHUP to ${pid}: it reloads the file\n`);
      } else {
        process.stdout.write(
          'reload: `edgewise dev` reloads on save (done); a running `edgewise serve` or `edgewise edge`: kill -HUP <pid> (or --apply --pid <pid>)\n',
        );
      }
      return EXIT_OK;
    } finally {
      await sources.driver?.close();
    }
  },
};
