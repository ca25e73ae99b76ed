/**
 * `edgewise prefetch run|watch|simulate`: the prefetch worker's commands. run = one pass over
 * new log files (learn, plan, warm); watch = the same every watchIntervalSeconds until a
 * signal; simulate = replay a trace to show what the edge's store and warming buy.
 */
import { resolve } from 'node:path';
import { DEFAULT_POLICY, isPolicyName, POLICIES, type PolicyName } from '../cache-store/index.js';
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
import {
  CLOUDFRONT_START_MS,
  TRACEGEN_DEFAULTS,
  type TraceGenOptions,
  writeCloudFrontLogs,
  writeTimeIdSize,
} from '../prefetch/tracegen.js';
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
  follow: { type: 'boolean' },
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
    "Replay a trace (CloudFront log file or a directory of them, read as the worker reads them, or `time id size` lines; .xz, gzip or plain) through the edge's cache store, without and with the prefetch worker as deployed (log delivery delay, pass interval, rate budget, fetch latency) and, with --follow, the local edge following on the request, against LRU, the PFOO-L and PFOO-U offline bounds and an infinite cache.",
  usage:
    '--trace <file> [--cache-size <bytes|percent>[,…]] [--policy adaptive|s3fifo|sieve|lru] [--log-delay <s>] [--pass-interval <s>] [--rps <n>] [--concurrency <n>] [--fetch-latency <s>] [--seconds-per-unit <s>] [--follow] [--json]',
  options: simOptions,
  optionHelp: {
    ...configOptionHelp,
    trace: 'Trace file, or a directory of CloudFront log files (required)',
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
    follow:
      'Also run the local edge following on the request (prefetch.follow.*, as if enabled), alone and with the worker; its fills land --fetch-latency after the request',
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
      throw new UsageError(`--policy ${policyName}: expected ${POLICIES.join(', ')}`);
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
      trace = await loadTrace(file, {
        onRead: (read, size) => bar.update('loading', read, size, `${mib(read)}/${mib(size)} MiB`),
        config: store.current,
      });
      bar.done();
    } catch (err) {
      if (err instanceof TraceError) {
        process.stderr.write(`edgewise prefetch simulate: ${err.message}\n`);
        return EXIT_USAGE;
      }
      throw err;
    }
    const loadMs = performance.now() - t0;
    const report = simulateSizes(
      trace,
      sizes,
      policy,
      store.current,
      deployed,
      (done, total) => bar.update('replay', done, total, `${done}/${total} replays`),
      { follow: values.follow === true },
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
    const notLearned = trace.learn ? trace.learn.reduce((n, l) => n + (l === 0 ? 1 : 0), 0) : 0;
    const out = [
      `trace ${file}: ${trace.n.toLocaleString('en-US')} requests, ${trace.keys.length.toLocaleString('en-US')} objects, ${report.uniqueBytes.toLocaleString('en-US')} unique bytes (${trace.format}${trace.format === 'cloudfront' ? `, ${(trace.clientCount ?? 0).toLocaleString('en-US')} clients${notLearned > 0 ? `, ${notLearned.toLocaleString('en-US')} served but not learned from (not GET/HEAD or an uncacheable status)` : ''}${trace.skipped ? `, ${trace.skipped} of the worker's own requests dropped` : ''}` : ''}${trace.malformed + (trace.parse?.malformed ?? 0) > 0 ? `, ${trace.malformed + (trace.parse?.malformed ?? 0)} malformed lines skipped` : ''})`,
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

const genOptions = {
  requests: { type: 'string' },
  objects: { type: 'string' },
  kind: { type: 'string' },
  seed: { type: 'string' },
  rate: { type: 'string' },
  alpha: { type: 'string' },
  'size-median': { type: 'string' },
  'size-sigma': { type: 'string' },
  clients: { type: 'string' },
  'think-ms': { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  start: { type: 'string' },
} as const;

function integerOption(name: string, v: unknown, min: number, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} <n> is required`);
    return fallback;
  }
  const n = Number(v);
  if (v === '' || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got ${String(v)}`);
  return n;
}

export const prefetchTraceGenerate: Command<typeof genOptions> = {
  path: ['prefetch', 'trace', 'generate'],
  summary:
    'Generate a deterministic request trace for benchmarks: Zipf-popular pages each with 2–4 assets, log-normal sizes, correlated (each page view followed by its assets from the same client after a browser parse delay, views interleaved) or uncorrelated (each request on its own), as `time id size` lines or CloudFront standard log files. Streams: memory does not grow with --requests.',
  usage:
    '--requests <n> --objects <n> [--kind correlated|uncorrelated] [--seed <n>] [--rate <req/s>] [--alpha <a>] [--size-median <bytes>] [--size-sigma <s>] [--clients <n>] [--think-ms <ms>] [--format trace|cloudfront] [--out <file|dir>] [--start <ISO time>]',
  options: genOptions,
  optionHelp: {
    requests: 'Requests to generate (required)',
    objects:
      'Catalogue size, pages and their assets (about 4 objects a page; the least popular may never be requested) (required)',
    kind: 'correlated (page → its assets, per client) or uncorrelated (independent requests). Default correlated',
    seed: `Seed; the same options and seed give the same bytes. Default ${TRACEGEN_DEFAULTS.seed}`,
    rate: `Requests per second of trace time. Default ${TRACEGEN_DEFAULTS.rate}`,
    alpha: `Zipf exponent of page popularity. Default ${TRACEGEN_DEFAULTS.alpha}`,
    'size-median': `Median object size in bytes (log-normal, fixed per object). Default ${TRACEGEN_DEFAULTS.sizeMedian}`,
    'size-sigma': `σ of the log-normal size (0: all the same). Default ${TRACEGEN_DEFAULTS.sizeSigma}`,
    clients: `Distinct clients (IP + User-Agent). Default ${TRACEGEN_DEFAULTS.clients}`,
    'think-ms': `correlated: median ms from a page request to its first asset request (log-normal; 0: at once). Default ${TRACEGEN_DEFAULTS.thinkMs}`,
    format:
      'trace: `time id size` lines (to --out or stdout); cloudfront: gzip CloudFront standard log files, one per UTC hour from --start, into the directory --out. Default trace',
    out: 'Output file (trace) or directory (cloudfront; required there)',
    start:
      'cloudfront: the time of the first request (ISO 8601, e.g. 2026-12-07T10:00:00Z; `prefetch run` ignores files older than prefetch.logs.lookbackHours). Default 2026-01-01T00:00:00Z',
  },
  async run({ values }) {
    const kind = (values.kind as string | undefined) ?? 'correlated';
    if (kind !== 'correlated' && kind !== 'uncorrelated')
      throw new UsageError(`--kind must be correlated or uncorrelated, got ${kind}`);
    const format = (values.format as string | undefined) ?? 'trace';
    if (format !== 'trace' && format !== 'cloudfront')
      throw new UsageError(`--format must be trace or cloudfront, got ${format}`);
    const o: TraceGenOptions = {
      requests: integerOption('requests', values.requests, 1),
      objects: integerOption('objects', values.objects, 1),
      correlated: kind === 'correlated',
      seed: integerOption('seed', values.seed, 0, TRACEGEN_DEFAULTS.seed),
      rate: strictlyPositive('rate', values.rate) ?? TRACEGEN_DEFAULTS.rate,
      alpha: positiveNumber('alpha', values.alpha) ?? TRACEGEN_DEFAULTS.alpha,
      sizeMedian: strictlyPositive('size-median', values['size-median']) ?? TRACEGEN_DEFAULTS.sizeMedian,
      sizeSigma: positiveNumber('size-sigma', values['size-sigma']) ?? TRACEGEN_DEFAULTS.sizeSigma,
      clients: integerOption('clients', values.clients, 1, TRACEGEN_DEFAULTS.clients),
      thinkMs: positiveNumber('think-ms', values['think-ms']) ?? TRACEGEN_DEFAULTS.thinkMs,
    };
    if (o.seed > 0xffffffff) throw new UsageError(`--seed must be at most ${0xffffffff}, got ${o.seed}`);
    if (o.clients > 1 << 24) throw new UsageError(`--clients must be at most ${1 << 24}, got ${o.clients}`);
    const out = values.out as string | undefined;
    if (format === 'cloudfront') {
      if (!out) throw new UsageError('--format cloudfront needs --out <dir>');
      const start = values.start as string | undefined;
      const startMs = start === undefined ? CLOUDFRONT_START_MS : Date.parse(start);
      if (!Number.isFinite(startMs) || !/^\d{4}-\d{2}-\d{2}T/.test(start ?? '2026-01-01T'))
        throw new UsageError(`--start must be an ISO 8601 time such as 2026-12-07T10:00:00Z, got ${start}`);
      const r = await writeCloudFrontLogs(o, resolve(out), startMs);
      process.stderr.write(`${r.requests} requests in ${r.files.length} log files under ${out}\n`);
      return EXIT_OK;
    }
    if (values.start !== undefined) throw new UsageError('--start applies to --format cloudfront only');
    const { createWriteStream } = await import('node:fs');
    const stream = out ? createWriteStream(out) : process.stdout;
    const failed = new Promise<never>((_, reject) => stream.once('error', reject));
    failed.catch(() => {});
    try {
      await Promise.race([writeTimeIdSize(o, stream, out !== undefined), failed]);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // A closed pipe (`| head`) is the reader's choice, not a failure.
      if (e.code === 'EPIPE') return EXIT_OK;
      process.stderr.write(
        `edgewise prefetch trace generate: cannot write ${out ?? 'stdout'}: ${e.code ?? e.message}\n`,
      );
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  },
};
