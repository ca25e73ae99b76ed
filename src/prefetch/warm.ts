/**
 * Sends the planned warming requests to every edge target through undici: GET with exactly
 * the variant's cache-key headers and our own User-Agent, one Agent per target (pinned IPs
 * go through the Agent's DNS lookup, so Host and TLS SNI stay the target's host name). When
 * `freshCheck` is on, a HEAD with `Cache-Control: only-if-cached` (RFC 9111 §5.2.1.7) asks
 * the edge first: 2xx means it holds the variant fresh and nothing is fetched; 504 means it
 * does not. Bodies are read to the end (the edge caches what it streamed fully) and counted.
 */
import type { LookupAddress } from 'node:dns';
import { Agent, request } from 'undici';
import type { PrefetchTargetConfig } from '../config/sections/prefetch.js';
import { Limiter } from './limiter.js';
import type { WarmTask } from './plan.js';

export interface WarmOptions {
  targets: PrefetchTargetConfig[];
  userAgent: string;
  concurrency: number;
  requestsPerSecond: number;
  /** Bytes that may be fetched per target in this pass. */
  budgetBytes: number;
  freshCheck: boolean;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** Each task this pass warmed (not already held fresh), with the body bytes it fetched. */
  onWarmed?: ((task: WarmTask, bytes: number) => void) | undefined;
}

export interface WarmFailure {
  target: string;
  url: string;
  variant: string;
  reason: string;
}

export interface WarmReport {
  planned: number;
  warmed: number;
  /** Already held fresh by the edge (probe said so, or the GET was a Hit). */
  fresh: number;
  failed: number;
  /** Left out because the target's byte budget ran out. */
  overBudget: number;
  bytes: number;
  /** Warming GETs the edge answered by going to the origin (X-Cache Miss / RefreshHit). */
  originRequests: number;
  /** Most warming requests that were in flight at once. */
  peakInFlight: number;
  failures: WarmFailure[];
}

const MAX_FAILURE_SAMPLES = 10;

/** A lookup that answers with the pinned addresses in turn (Node calls it with or without `all`). */
function pinnedLookup(ips: string[]) {
  let i = 0;
  return (
    _hostname: string,
    options: { all?: boolean } | number | undefined,
    cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    const address = ips[i++ % ips.length]!;
    if (typeof options === 'object' && options?.all) cb(null, [{ address, family: 4 }]);
    else cb(null, address, 4);
  };
}

function xCache(headers: Record<string, string | string[] | undefined>): string {
  const v = headers['x-cache'];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

export async function warm(tasks: WarmTask[], options: WarmOptions): Promise<WarmReport> {
  const report: WarmReport = {
    planned: tasks.length * options.targets.length,
    warmed: 0,
    fresh: 0,
    failed: 0,
    overBudget: 0,
    bytes: 0,
    originRequests: 0,
    peakInFlight: 0,
    failures: [],
  };
  const limiter = new Limiter(options.concurrency, options.requestsPerSecond);
  const agents = options.targets.map(
    (t) =>
      new Agent({
        connections: options.concurrency,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        connect: {
          timeout: Math.min(options.timeoutMs, 10_000),
          ...(t.pinnedIps.length > 0 ? { lookup: pinnedLookup(t.pinnedIps) } : {}),
        },
      }),
  );
  // Bytes used or reserved per target: a task reserves its estimate before it starts, so
  // concurrent tasks cannot together overshoot the budget by more than estimates are wrong.
  const used = options.targets.map(() => 0);
  let done = 0;
  const fail = (target: string, t: WarmTask, reason: string) => {
    report.failed++;
    if (report.failures.length < MAX_FAILURE_SAMPLES)
      report.failures.push({ target, url: t.url, variant: t.variant, reason });
  };

  const one = async (ti: number, t: WarmTask): Promise<void> => {
    const target = options.targets[ti]!;
    const dispatcher = agents[ti]!;
    const url = new URL(t.url, target.url).toString();
    const headers = { ...t.headers, 'user-agent': options.userAgent };
    if (options.freshCheck) {
      const probe = await limiter.run(
        () =>
          request(url, {
            method: 'HEAD',
            dispatcher,
            headers: { ...headers, 'cache-control': 'only-if-cached' },
            signal: options.signal,
          }).then(async (r) => {
            await r.body.dump();
            return r.statusCode;
          }),
        options.signal,
      );
      if (probe >= 200 && probe < 400) {
        report.fresh++;
        return;
      }
      if (probe !== 504) {
        fail(target.url, t, `probe answered ${probe}`);
        return;
      }
    }
    if (used[ti]! + t.estBytes > options.budgetBytes) {
      report.overBudget++;
      return;
    }
    used[ti]! += t.estBytes;
    await limiter.run(async () => {
      const res = await request(url, { method: 'GET', dispatcher, headers, signal: options.signal });
      let bytes = 0;
      for await (const chunk of res.body) bytes += (chunk as Buffer).length;
      used[ti]! += bytes - t.estBytes;
      report.bytes += bytes;
      if (res.statusCode >= 400) {
        fail(target.url, t, `GET answered ${res.statusCode}`);
        return;
      }
      const xc = xCache(res.headers);
      // A Hit after the probe said "not held fresh" is a stale copy served inside its
      // stale-while-revalidate window: the edge refreshes it in the background because of this
      // request, so it counts as warmed. Without a probe, a Hit means it was already fresh.
      if (/^Hit\b/i.test(xc) && !options.freshCheck) {
        report.fresh++;
        return;
      }
      report.warmed++;
      if (/^(Miss|RefreshHit)\b/i.test(xc)) report.originRequests++;
      options.onWarmed?.(t, bytes);
    }, options.signal);
  };

  try {
    const jobs: Array<Promise<void>> = [];
    // Interleave targets so every edge gets its most valuable objects first.
    for (const t of tasks) {
      for (let ti = 0; ti < options.targets.length; ti++) {
        jobs.push(
          one(ti, t)
            .catch((err: unknown) => {
              if (options.signal?.aborted) return;
              const e = err as Error & { code?: string };
              fail(options.targets[ti]!.url, t, e.code ?? e.message);
            })
            .finally(() => {
              done++;
              options.onProgress?.(done, report.planned);
            }),
        );
      }
    }
    await Promise.all(jobs);
  } finally {
    report.peakInFlight = limiter.peak;
    await Promise.all(agents.map((a) => a.close()));
  }
  return report;
}
