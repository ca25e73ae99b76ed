/**
 * `edgewise prefetch run|watch|simulate`: the prefetch worker's commands. run = one pass over
 * new log files (learn, plan, warm); watch = the same every watchIntervalSeconds until a
 * signal; simulate = replay a trace to show what the edge's store and warming buy.
 */
import { resolve } from 'node:path';
import { DEFAULT_POLICY, isPolicyName, type PolicyName } from '../cache-store/index.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { createLogger } from '../logger.js';
import { ProgressBar } from '../prefetch/progress.js';
import {
  assumptions,
  formatTable,
  gainLines,
  parseCacheSizes,
  reportRows,
  simulateSizes,
} from '../prefetch/sim-report.js';
import {
  DEFAULT_FETCH_LATENCY_SECONDS,
  type DeployedOptions,
  deployedOptions,
} from '../prefetch/simulate.js';
import { DirSource, type LogSource, StorageSource } from '../prefetch/sources.js';
import { loadTrace, TraceError } from '../prefetch/trace.js';
import { type PassResult, PrefetchWorker } from '../prefetch/worker.js';
import { createStorage } from '../storage/index.js';
import type { StorageDriver } from '../storage/types.js';
import {
  type Command,
  configOption,
  configOptionHelp,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
} from './command.js';
import { loadConfigOrReport } from './load.js';

const workerOptions = {
  ...configOption,
  json: { type: 'boolean' },
  target: { type: 'string', multiple: true },
  state: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

const workerHelp = {
  ...configOptionHelp,
  json: 'Print the result as JSON (one object per pass)',
  target: 'Edge base URL to warm (repeatable; overrides prefetch.targets)',
  state: 'State file (overrides prefetch.stateFile)',
  'dry-run': 'Read logs and plan, but send nothing',
};

function targetsFrom(values: Record<string, unknown>) {
  const t = values.target as string[] | undefined;
  if (!t) return undefined;
  return t.map((url) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new UsageError(`--target ${url}: not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new UsageError(`--target ${url}: must be http or https`);
    return { url, pinnedIps: [] };
  });
}

async function sourceFor(
  config: Readonly<EdgewiseConfig>,
): Promise<{ source: LogSource; driver?: StorageDriver }> {
  const l = config.prefetch.logs;
  if (l.source === 'dir') return { source: new DirSource(resolve(l.dir), l.prefix) };
  const driver = await createStorage(config.storage, createLogger({ level: 'silent', pretty: false }));
  return { source: new StorageSource(driver, l.prefix), driver };
}

function summaryRows(r: PassResult): string[][] {
  const w = r.warm;
  const mb = (b: number) => `${(b / 1048576).toFixed(2)} MiB`;
  return [
    ['', 'value'],
    ['log files read', String(r.files.read)],
    ['already read / too old', `${r.files.alreadyRead} / ${r.files.tooOld}`],
    ['records learned', String(r.records.learned)],
    ['malformed lines', String(r.parse.malformed)],
    ['keys in model', String(r.modelKeys)],
    ['planned', String(w ? w.planned : r.plan.tasks.length)],
    ['warmed', w ? String(w.warmed) : '—'],
    ['already fresh', w ? String(w.fresh) : '—'],
    ['failed', w ? String(w.failed) : '—'],
    ['over budget', String(r.plan.skipped.overBudget + (w ? w.overBudget : 0))],
    ['bytes', w ? mb(w.bytes) : `${mb(r.plan.plannedBytes)} planned`],
    ['origin requests', w ? String(w.originRequests) : '—'],
    ['peak in flight', w ? String(w.peakInFlight) : '—'],
  ];
}

function printPass(r: PassResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  if (r.stateProblem) process.stdout.write(`warning: ${r.stateProblem}\n`);
  process.stdout.write(`${formatTable(summaryRows(r))}\n`);
  if (r.outsideWindow) process.stdout.write('outside prefetch.budget.window: nothing sent\n');
  for (const s of r.parse.samples)
    process.stdout.write(`malformed ${s.source}:${s.line}: ${s.reason}: ${s.text}\n`);
  for (const f of r.parse.fileErrors) process.stdout.write(`file ${f.source} ended early: ${f.reason}\n`);
  for (const f of r.warm?.failures ?? [])
    process.stdout.write(`failed ${f.target}${f.url} [${f.variant}]: ${f.reason}\n`);
}

function exitFor(r: PassResult): number {
  const w = r.warm;
  // Everything failed (edge unreachable, say): a scheduler should notice.
  return w && w.failed > 0 && w.warmed === 0 && w.fresh === 0 ? EXIT_FAILURE : EXIT_OK;
}

async function runPasses(values: Record<string, unknown>, watch: boolean): Promise<number> {
  const store = loadConfigOrReport(values.config as string | undefined);
  if (!store) return EXIT_USAGE;
  const targets = targetsFrom(values);
  const json = values.json === true;
  const { source, driver } = await sourceFor(store.current);
  const worker = new PrefetchWorker({
    config: () => store.current,
    source,
    stateFile: resolve((values.state as string | undefined) ?? store.current.prefetch.stateFile),
    targets,
  });
  const bar = new ProgressBar(process.stderr, !json && process.stderr.isTTY === true);
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let code = EXIT_OK;
  try {
    do {
      const r = await worker.pass({
        signal: ac.signal,
        dryRun: values['dry-run'] === true,
        onFile: (_n, i, total) => bar.update('logs', i + 1, total),
        onWarmProgress: (done, total) => bar.update('warming', done, total),
      });
      bar.done();
      printPass(r, json);
      code = exitFor(r);
      if (!watch || ac.signal.aborted) break;
      await new Promise<void>((resolveWait) => {
        const t = setTimeout(resolveWait, worker.nextWait(Date.now()));
        ac.signal.addEventListener('abort', () => {
          clearTimeout(t);
          resolveWait();
        });
      });
    } while (!ac.signal.aborted);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await driver?.close();
  }
  return watch ? EXIT_OK : code;
}

export const prefetchRun: Command<typeof workerOptions> = {
  path: ['prefetch', 'run'],
  summary:
    'One pass of the prefetch worker: read new access logs, learn what is popular and what follows what, warm the edge within the byte, rate and concurrency budgets. Prints a summary table.',
  usage: '[--config <file>] [--target <url>…] [--json] [--dry-run]',
  options: workerOptions,
  optionHelp: workerHelp,
  run: ({ values }) => runPasses(values, false),
};

export const prefetchWatch: Command<typeof workerOptions> = {
  path: ['prefetch', 'watch'],
  summary:
    'Run the prefetch worker continuously: every prefetch.watchIntervalSeconds read the log files that arrived (late or out of order too), learn and warm. Stops on SIGINT/SIGTERM.',
  usage: '[--config <file>] [--target <url>…] [--json] [--dry-run]',
  options: workerOptions,
  optionHelp: workerHelp,
  run: ({ values }) => runPasses(values, true),
};

const simOptions = {
  ...configOption,
  trace: { type: 'string' },
  'cache-size': { type: 'string' },
  policy: { type: 'string' },
  'log-delay': { type: 'string' },
  'pass-interval': { type: 'string' },
  rps: { type: 'string' },
  concurrency: { type: 'string' },
  'fetch-latency': { type: 'string' },
  'seconds-per-unit': { type: 'string' },
  json: { type: 'boolean' },
} as const;

function positiveNumber(name: string, v: unknown, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n < min)
    throw new UsageError(`--${name} must be a number >= ${min}, got ${String(v)}`);
  return n;
}

function strictlyPositive(name: string, v: unknown): number | undefined {
  const n = positiveNumber(name, v);
  if (n !== undefined && n <= 0) throw new UsageError(`--${name} must be a number > 0, got ${String(v)}`);
  return n;
}

export const prefetchSimulate: Command<typeof simOptions> = {
  path: ['prefetch', 'simulate'],
  summary:
    "Replay a trace (CloudFront log, or `time id size` lines; .xz, gzip or plain) through the edge's cache store, without and with the prefetch worker as deployed (log delivery delay, pass interval, rate budget, fetch latency), against LRU, the PFOO-L and PFOO-U offline bounds and an infinite cache.",
  usage:
    '--trace <file> [--cache-size <bytes|percent>[,…]] [--policy s3fifo|sieve|lru] [--log-delay <s>] [--pass-interval <s>] [--rps <n>] [--concurrency <n>] [--fetch-latency <s>] [--seconds-per-unit <s>] [--json]',
  options: simOptions,
  optionHelp: {
    ...configOptionHelp,
    trace: 'Trace file (required)',
    'cache-size':
      'Cache sizes: bytes (64MiB) or percent of the unique bytes (1%); comma-separated. Default 0.1%,1%,10%',
    policy: 'Store policy (default: edge.cache.policy from the config)',
    'log-delay':
      'Seconds from a request to its log record reaching the worker, as a constant (CloudFront standard logs: minutes to an hour). Default: when the local edge publishes the log file (edge.logs.rotateSeconds or the end of the UTC hour)',
    'pass-interval': 'Seconds between worker passes. Default prefetch.watchIntervalSeconds',
    rps: 'Warming requests per second. Default prefetch.budget.requestsPerSecond',
    concurrency: 'Warming requests in flight. Default prefetch.budget.concurrency',
    'fetch-latency': `Seconds from a warm GET to the object being cached. Default ${DEFAULT_FETCH_LATENCY_SECONDS}`,
    'seconds-per-unit':
      'Seconds per time unit of a "time id size" trace (its unit is not in the file; ignored for CloudFront logs). Default 1',
    json: 'Print the report as JSON',
  },
  async run({ values }) {
    const file = values.trace as string | undefined;
    if (!file) throw new UsageError('--trace <file> is required');
    let sizes: ReturnType<typeof parseCacheSizes>;
    try {
      sizes = parseCacheSizes((values['cache-size'] as string | undefined) ?? '0.1%,1%,10%');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const policyName =
      (values.policy as string | undefined) ?? store.current.edge?.cache?.policy ?? DEFAULT_POLICY;
    if (!isPolicyName(policyName))
      throw new UsageError(`--policy ${policyName}: expected s3fifo, sieve or lru`);
    const policy: PolicyName = policyName;
    const defaults = deployedOptions(store.current);
    const logDelay = positiveNumber('log-delay', values['log-delay']);
    const concurrency = positiveNumber('concurrency', values.concurrency, 1);
    if (concurrency !== undefined && !Number.isInteger(concurrency))
      throw new UsageError(`--concurrency must be an integer >= 1, got ${String(values.concurrency)}`);
    const deployed: DeployedOptions = {
      delivery: logDelay === undefined ? defaults.delivery : { kind: 'delay', seconds: logDelay },
      passIntervalSeconds:
        strictlyPositive('pass-interval', values['pass-interval']) ?? defaults.passIntervalSeconds,
      requestsPerSecond: strictlyPositive('rps', values.rps) ?? defaults.requestsPerSecond,
      concurrency: concurrency ?? defaults.concurrency,
      fetchLatencySeconds:
        positiveNumber('fetch-latency', values['fetch-latency']) ?? defaults.fetchLatencySeconds,
      secondsPerUnit:
        strictlyPositive('seconds-per-unit', values['seconds-per-unit']) ?? defaults.secondsPerUnit,
    };
    const t0 = performance.now();
    // Progress on stderr when it is a terminal (a 10 M-request trace takes minutes); stdout
    // keeps only the report, and pipes and logs get no progress at all.
    const bar = new ProgressBar(process.stderr);
    const mib = (b: number) => Math.round(b / 1048576);
    let trace: Awaited<ReturnType<typeof loadTrace>>;
    try {
      trace = await loadTrace(file, (read, size) =>
        bar.update('loading', read, size, `${mib(read)}/${mib(size)} MiB`),
      );
      bar.done();
    } catch (err) {
      if (err instanceof TraceError) {
        process.stderr.write(`edgewise prefetch simulate: ${err.message}\n`);
        return EXIT_USAGE;
      }
      throw err;
    }
    const loadMs = performance.now() - t0;
    const report = simulateSizes(trace, sizes, policy, store.current, deployed, (done, total) =>
      bar.update('replay', done, total, `${done}/${total} replays`),
    );
    bar.done();
    const totalMs = performance.now() - t0;
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ trace: file, format: trace.format, malformed: trace.malformed + (trace.parse?.malformed ?? 0), loadMs, totalMs, peakRssBytes, ...report })}\n`,
      );
      return EXIT_OK;
    }
    const out = [
      `trace ${file}: ${trace.n.toLocaleString('en-US')} requests, ${trace.keys.length.toLocaleString('en-US')} objects, ${report.uniqueBytes.toLocaleString('en-US')} unique bytes (${trace.format}${trace.malformed + (trace.parse?.malformed ?? 0) > 0 ? `, ${trace.malformed + (trace.parse?.malformed ?? 0)} malformed lines skipped` : ''})`,
      `store ${policy}`,
      '',
      formatTable(reportRows(report)),
      '',
      ...gainLines(report),
      '',
      ...assumptions(report),
      '',
      `loaded in ${(loadMs / 1000).toFixed(2)} s, total ${(totalMs / 1000).toFixed(2)} s, peak RSS ${(peakRssBytes / 1048576).toFixed(0)} MiB`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    return EXIT_OK;
  },
};
