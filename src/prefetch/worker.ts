/**
 * One pass of the prefetch worker: read the log files not read yet (within the lookback),
 * feed their records to the model, plan within the budgets, warm every target, remember what
 * was read. `prefetch run` does one pass; `prefetch watch` repeats it.
 */

import { classify } from '../classes.js';
import type { EdgewiseConfig } from '../config/schema.js';
import type { PrefetchTargetConfig } from '../config/sections/prefetch.js';
import { type ClassReport, Payoff } from './backoff.js';
import { PrefetchModel } from './model.js';
import { trafficOf } from './own-traffic.js';
import { newParseStats, type ParseStats, parseLog } from './parse.js';
import { budgetBytes, inWindow, makePlan, modelKey, type Plan } from './plan.js';
import { type AccessRecord, CACHEABLE, isFill } from './record.js';
import type { LogSource } from './sources.js';
import { loadState, pruneState, saveState, type WorkerState } from './state.js';
import { type WarmReport, warm } from './warm.js';

export interface PassResult {
  files: { read: number; alreadyRead: number; tooOld: number };
  parse: ParseStats;
  records: { learned: number; ownRequests: number; notCacheable: number };
  modelKeys: number;
  plan: Plan;
  /** The byte budget this pass planned with (after the wasted-bytes window). */
  budgetBytes: number;
  /** Per class: outcomes tallied since the last judgement, and whether it is warmed, suspended or probed. */
  payoff: ClassReport[];
  /** Undefined when nothing was sent: outside the window, or a dry run. */
  warm: WarmReport | undefined;
  outsideWindow: boolean;
  stateProblem?: string | undefined;
}

export interface PassOptions {
  signal?: AbortSignal | undefined;
  /** Plan only. */
  dryRun?: boolean | undefined;
  onFile?: ((name: string, index: number, total: number) => void) | undefined;
  onWarmProgress?: ((done: number, total: number) => void) | undefined;
}

/** Statuses whose response the edge could hold and a warm request would reproduce. */

export function defaultTargets(config: Readonly<EdgewiseConfig>): PrefetchTargetConfig[] {
  if (config.prefetch.targets.length > 0) return config.prefetch.targets;
  const host = config.edge.host === '0.0.0.0' ? '127.0.0.1' : config.edge.host;
  const h = host.includes(':') ? `[${host}]` : host;
  return [{ url: `${config.edge.tls ? 'https' : 'http'}://${h}:${config.edge.port}`, pinnedIps: [] }];
}

/** The model a worker learns into, sized by `prefetch.model` (the simulator builds the same one). */
export function workerModel(config: Readonly<EdgewiseConfig>): PrefetchModel {
  const m = config.prefetch.model;
  return new PrefetchModel({
    maxKeys: m.maxKeys,
    maxClients: m.maxClients,
    successorsPerKey: 4,
    windowMs: m.sessionWindowSeconds * 1000,
    windowRequests: 16,
    halfLifeMs: m.halfLifeSeconds * 1000,
  });
}

export class PrefetchWorker {
  readonly model: PrefetchModel;
  readonly payoff: Payoff;
  readonly #config: () => Readonly<EdgewiseConfig>;
  readonly #source: LogSource;
  readonly #stateFile: string;
  readonly #targets: PrefetchTargetConfig[] | undefined;
  readonly #now: () => number;
  #state: WorkerState | undefined;
  #stateProblem: string | undefined;

  constructor(options: {
    config: () => Readonly<EdgewiseConfig>;
    source: LogSource;
    stateFile: string;
    /** Overrides the configured (or default) targets. */
    targets?: PrefetchTargetConfig[] | undefined;
    now?: (() => number) | undefined;
  }) {
    this.#config = options.config;
    this.#source = options.source;
    this.#stateFile = options.stateFile;
    this.#targets = options.targets;
    this.#now = options.now ?? Date.now;
    this.model = workerModel(this.#config());
    this.payoff = new Payoff(this.#config);
  }

  /**
   * Refresh-ahead: when the soonest hot key the edge filled will go stale (its fill time from
   * the log plus its class's default TTL; the origin may send a shorter one, which the fresh
   * probe catches anyway). `watch` wakes then, so the warm request (or the probe, inside a
   * stale-while-revalidate window) refreshes the edge before a viewer meets a stale entry.
   */
  nextExpiry(now: number): number | undefined {
    const config = this.#config();
    let soonest: number | undefined;
    for (const h of this.model.hot(now, config.prefetch.model.maxCandidates)) {
      if (Number.isNaN(h.filledAt)) continue;
      const q = h.key.indexOf('?');
      const cls = classify(config, q === -1 ? h.key : h.key.slice(0, q));
      // Only what the planner would warm (see plan.ts).
      if (cls.signed || cls.cacheKey.headers.length > 0 || cls.cacheKey.cookies.length > 0) continue;
      const at = h.filledAt + cls.ttl.default * 1000;
      if (at > now && (soonest === undefined || at < soonest)) soonest = at;
    }
    return soonest;
  }

  /** Milliseconds `watch` waits before its next pass: the interval, or sooner for a refresh. */
  nextWait(now: number): number {
    const interval = this.#config().prefetch.watchIntervalSeconds * 1000;
    const exp = this.nextExpiry(now);
    // A second past expiry, so the edge already considers the entry stale.
    return exp === undefined ? interval : Math.max(1000, Math.min(interval, exp - now + 1000));
  }

  async #loadState(): Promise<WorkerState> {
    if (!this.#state) {
      const { state, problem } = await loadState(this.#stateFile);
      this.#state = state;
      this.#stateProblem = problem;
      this.model.restore(state.model);
      this.payoff.restore(state.payoff);
    }
    return this.#state;
  }

  /** Feeds one record to the model; returns why it was not learned from, if it was not. */
  learn(r: AccessRecord): 'learned' | 'own' | 'notCacheable' {
    const config = this.#config();
    if (trafficOf(r.userAgent, config.prefetch.userAgent) === 'prefetch') return 'own';
    if ((r.method !== 'GET' && r.method !== 'HEAD') || !CACHEABLE.has(r.status)) return 'notCacheable';
    const cls = classify(config, r.path);
    const key = modelKey(r.path, r.query, cls);
    // Did a warm of this key pay? A viewer Hit after it says so (see backoff.ts).
    this.payoff.viewer(key, r.time, r.resultType === 'Hit');
    // Only a full 200 tells the object's size; 206/304 bodies are parts or empty.
    this.model.observe(
      key,
      `${r.clientIp} ${r.userAgent}`,
      r.time,
      r.status === 200 ? r.bytes : 0,
      isFill(r.resultType),
    );
    return 'learned';
  }

  async pass(options: PassOptions = {}): Promise<PassResult> {
    const config = this.#config();
    const state = await this.#loadState();
    const now = this.#now();
    const oldest = now - config.prefetch.logs.lookbackHours * 3_600_000;
    pruneState(state, oldest);
    const result: PassResult = {
      files: { read: 0, alreadyRead: 0, tooOld: 0 },
      parse: newParseStats(),
      records: { learned: 0, ownRequests: 0, notCacheable: 0 },
      modelKeys: 0,
      plan: {
        tasks: [],
        skipped: { signed: 0, personalised: 0, tooLarge: 0, overBudget: 0, unknownSize: 0, backedOff: 0 },
        plannedBytes: 0,
      },
      budgetBytes: 0,
      payoff: [],
      warm: undefined,
      outsideWindow: false,
      stateProblem: this.#stateProblem,
    };
    const fresh: Array<{ name: string; hour: number }> = [];
    for await (const f of this.#source.list()) {
      if (f.hour < oldest) result.files.tooOld++;
      else if (state.files[f.name] !== undefined) result.files.alreadyRead++;
      else fresh.push(f);
    }
    // Oldest hour first, so late files slot into the model roughly in time order.
    fresh.sort((a, b) => a.hour - b.hour || (a.name < b.name ? -1 : 1));
    for (let i = 0; i < fresh.length; i++) {
      if (options.signal?.aborted) break;
      const f = fresh[i]!;
      options.onFile?.(f.name, i, fresh.length);
      try {
        for await (const r of parseLog(await this.#source.open(f.name), f.name, result.parse)) {
          // Stopped halfway through a file: keep the saved state as it was, so the next start
          // reads this pass's files again instead of counting half a file as read.
          if (options.signal?.aborted) return result;
          const why = this.learn(r);
          if (why === 'learned') result.records.learned++;
          else if (why === 'own') result.records.ownRequests++;
          else result.records.notCacheable++;
        }
      } catch (err) {
        result.parse.fileErrors.push({ source: f.name, reason: (err as Error).message });
      }
      state.files[f.name] = f.hour;
      result.files.read++;
    }
    result.modelKeys = this.model.keyCount;
    this.payoff.expire(now);
    const targets = this.#targets ?? defaultTargets(config);
    const budget = this.payoff.passBudget(now, budgetBytes(config), targets.length);
    result.budgetBytes = budget;
    result.plan = makePlan(this.model, config, now, budget, this.payoff);
    result.payoff = this.payoff.report(now);
    const save = async () => {
      state.model = this.model.snapshot();
      state.payoff = this.payoff.snapshot();
      await saveState(this.#stateFile, state);
    };
    await save();
    if (options.dryRun || options.signal?.aborted) return result;
    if (!inWindow(config, new Date(now))) {
      result.outsideWindow = true;
      return result;
    }
    const p = config.prefetch;
    result.warm = await warm(result.plan.tasks, {
      targets,
      userAgent: p.userAgent,
      concurrency: p.budget.concurrency,
      requestsPerSecond: p.budget.requestsPerSecond,
      budgetBytes: budget,
      freshCheck: p.freshCheck,
      timeoutMs: p.requestTimeoutMs,
      signal: options.signal,
      onProgress: options.onWarmProgress,
      // Bytes per key summed over variants and targets: one outcome, as many bytes as were fetched.
      onWarmed: (t, bytes) => this.payoff.warmed(t.key, now, bytes),
    });
    // The warms made this pass must survive a restart, or their outcomes are lost.
    await save();
    return result;
  }
}
