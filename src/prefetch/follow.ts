/**
 * Follow-on-request prefetch: the decision the local edge makes when a viewer request arrives,
 * shared by the edge (src/edge) and the simulator (runDeployed with `follow`), so the simulated
 * follower is the deployed one.
 *
 * Why at the edge: the worker learns from delivered logs, a minute to an hour late, so what it
 * predicts follows a page lands after the browser has fetched the page's assets. The edge sees
 * the page request itself; filling its usual successors then can beat the browser's own asset
 * requests, which come after it has parsed the page (tens to hundreds of ms). CloudFront cannot
 * do this (CloudFront Functions make no network calls): there only the worker warms.
 *
 * What it does, per viewer request (never the edge's own fills):
 * - learns online with the worker's model (PrefetchModel, sized by prefetch.model.*): which keys
 *   the same client requests within sessionWindowSeconds after which;
 * - picks the request's successors with confidence ≥ follow.minConfidence and count ≥
 *   follow.minCount, strongest first, at most follow.maxPerRequest, that the cache does not hold
 *   and no fill is bringing, whose class the worker would warm too (plan.ts `unwarmable`), of a
 *   known size ≤ follow.maxObjectBytes, while fewer than follow.maxInFlight fills are out;
 * - judges its fills with the worker's Payoff (backoff.ts), per content class: a fill a viewer
 *   later hits (or joins while in flight: it cost no extra origin bytes) is used; one a viewer
 *   misses (evicted) or nobody asks for within follow.useWindowSeconds is wasted; a class whose
 *   used share falls below prefetch.backoff.minUsefulShare is suspended and probed as the
 *   worker's are (prefetch.backoff.*), so on traffic with no structure it stops by itself.
 *
 * The caller fills each returned task (through its usual fill path, so a viewer asking meanwhile
 * joins it) and reports it back with `settled` exactly once, whatever happened.
 */
import { classify } from '../classes.js';
import type { EdgewiseConfig } from '../config/schema.js';
import { type ClassReport, Payoff } from './backoff.js';
import type { PrefetchModel } from './model.js';
import { unwarmable } from './plan.js';
import { workerModel } from './worker.js';

export interface FollowTask {
  /** Model key of the successor to fill: path + '?' + the query the class keeps (plan.ts modelKey). */
  readonly key: string;
  /** Its size last seen in a response. */
  readonly estBytes: number;
  /** Share of the trigger's requests it followed (0–1). */
  readonly confidence: number;
  /** When the request that triggered it arrived (ms, the caller's clock). */
  readonly atMs: number;
}

/** Counts since the follower was made (for metrics and reports). */
export interface FollowStats {
  /** Viewer requests seen. */
  requests: number;
  /** Tasks handed out. */
  started: number;
  /** Tasks settled with origin bytes > 0. */
  fetched: number;
  fetchedBytes: number;
  /** Tasks settled without origin bytes (held already, failed, cancelled). */
  notFetched: number;
  /** Viewer requests that arrived while their key's follow fill was in flight. */
  joined: number;
  /** Successors not filled, by why. */
  skipped: {
    /** The cache holds it or a fill is bringing it (`cached` said so, or it is one of ours). */
    held: number;
    /** follow.maxInFlight fills were out. */
    full: number;
    /** Its class backed off (or its probe is out). */
    backedOff: number;
    signed: number;
    personalised: number;
    tooLarge: number;
    unknownSize: number;
    /** Wasted fill bytes were over follow.maxWastedShare of viewer miss bytes. */
    wastedShare: number;
  };
  /** Origin bytes of viewer misses (the bytes follow.maxWastedShare is a share of). */
  missBytes: number;
}

interface Out {
  atMs: number;
  cls: string;
  /** Started while its class was probing: counts against the probe's allowance until settled. */
  probe: boolean;
  joined: boolean;
}

const NONE: readonly FollowTask[] = Object.freeze([]);
const EXPIRE_EVERY_MS = 100;

function pathOf(key: string): string {
  const q = key.indexOf('?');
  return q === -1 ? key : key.slice(0, q);
}

export class Follower {
  readonly model: PrefetchModel;
  readonly payoff: Payoff;
  readonly stats: FollowStats = {
    requests: 0,
    started: 0,
    fetched: 0,
    fetchedBytes: 0,
    notFetched: 0,
    joined: 0,
    skipped: {
      held: 0,
      full: 0,
      backedOff: 0,
      signed: 0,
      personalised: 0,
      tooLarge: 0,
      unknownSize: 0,
      wastedShare: 0,
    },
    missBytes: 0,
  };
  readonly #config: () => Readonly<EdgewiseConfig>;
  /** Follow fills handed out and not settled, by key. */
  readonly #out = new Map<string, Out>();
  /** Per class: probe fills out (started, not settled). */
  readonly #probesOut = new Map<string, number>();
  #nextExpire = Number.NEGATIVE_INFINITY;
  // The config Payoff reads: the caller's, with the use window of follow fills.
  #base: Readonly<EdgewiseConfig> | undefined;
  #judged: Readonly<EdgewiseConfig> | undefined;

  constructor(config: () => Readonly<EdgewiseConfig>) {
    this.#config = config;
    this.model = workerModel(config());
    this.payoff = new Payoff(() => this.#judgedConfig());
  }

  #judgedConfig(): Readonly<EdgewiseConfig> {
    const c = this.#config();
    if (c !== this.#base || !this.#judged) {
      const p = c.prefetch;
      this.#base = c;
      this.#judged = {
        ...c,
        prefetch: { ...p, backoff: { ...p.backoff, useWindowSeconds: p.follow.useWindowSeconds } },
      };
    }
    return this.#judged;
  }

  /** Follow fills handed out and not settled yet. */
  get inFlight(): number {
    return this.#out.size;
  }

  /**
   * A viewer request for `key` (a model key) by `client` (IP + User-Agent) at `timeMs`, answered
   * with `bytes` (0 when unknown: a 304, a HEAD); `hit` when answered from the cache. `cached(k)`
   * says whether the cache holds a fresh copy of `k` or a fill for it is in flight. Returns the
   * successors to fill now (often none; then nothing is allocated for the answer).
   */
  request(
    key: string,
    client: string,
    timeMs: number,
    bytes: number,
    hit: boolean,
    cached: (key: string) => boolean,
  ): readonly FollowTask[] {
    const config = this.#config();
    const f = config.prefetch.follow;
    if (!f.enabled) return NONE;
    this.stats.requests++;
    const mine = this.#out.get(key);
    if (mine && !mine.joined && timeMs >= mine.atMs) {
      mine.joined = true;
      this.stats.joined++;
    }
    this.payoff.viewer(key, timeMs, hit);
    if (timeMs >= this.#nextExpire) {
      // Every 100 ms, so fills nobody asked for are judged as their window ends, among the used
      // ones, and not in batches that would read as a burst of waste.
      this.payoff.expire(timeMs);
      this.#nextExpire = timeMs + EXPIRE_EVERY_MS;
    }
    this.model.observe(key, client, timeMs, bytes, !hit);
    if (!hit) this.stats.missBytes += bytes;

    const predictions = this.model.predict(key, f.minConfidence, f.minCount, true);
    if (predictions.length === 0) return NONE;
    let tasks: FollowTask[] | undefined;
    let n = 0;
    for (const p of predictions) {
      if (n >= f.maxPerRequest) break;
      n++;
      if (this.#out.has(p.key) || cached(p.key)) {
        this.stats.skipped.held++;
        continue;
      }
      const cls = classify(config, pathOf(p.key));
      const not = unwarmable(cls);
      if (not) {
        this.stats.skipped[not]++;
        continue;
      }
      const est = this.model.bytesOf(p.key) ?? 0;
      if (est <= 0) {
        this.stats.skipped.unknownSize++;
        continue;
      }
      if (est > f.maxObjectBytes) {
        this.stats.skipped.tooLarge++;
        continue;
      }
      if (this.#out.size >= f.maxInFlight) {
        this.stats.skipped.full++;
        continue;
      }
      if (this.payoff.totals.wastedBytes > f.maxWastedShare * this.stats.missBytes) {
        this.stats.skipped.wastedShare++;
        continue;
      }
      const allowance = this.payoff.allowance(cls.name, timeMs);
      const probing = allowance !== Number.POSITIVE_INFINITY;
      if (probing && allowance - (this.#probesOut.get(cls.name) ?? 0) <= 0) {
        this.stats.skipped.backedOff++;
        continue;
      }
      if (probing) this.#probesOut.set(cls.name, (this.#probesOut.get(cls.name) ?? 0) + 1);
      this.#out.set(p.key, { atMs: timeMs, cls: cls.name, probe: probing, joined: false });
      this.stats.started++;
      if (!tasks) tasks = [];
      tasks.push({ key: p.key, estBytes: est, confidence: p.confidence, atMs: timeMs });
    }
    return tasks ?? NONE;
  }

  /**
   * A viewer miss for `key` (a model key) was answered with `bytes` (a whole body): the model
   * learns its size, and the bytes count as viewer miss bytes (follow.maxWastedShare). For a
   * caller that learns a miss's size only once it is answered (the edge) and so passed 0 bytes to
   * `request`; a caller that passed them there must not call this too.
   */
  sized(key: string, bytes: number): void {
    if (!(bytes > 0)) return;
    this.model.sized(key, bytes);
    this.stats.missBytes += bytes;
  }

  /**
   * A task handed out by `request` is over at `timeMs`: `originBytes` came from the origin for it
   * (0: nothing did — the cache held it by then, the fill failed or was cancelled). Call exactly
   * once per task; unknown keys are ignored.
   */
  settled(key: string, timeMs: number, originBytes: number): void {
    const o = this.#out.get(key);
    if (!o) return;
    this.#out.delete(key);
    if (o.probe) {
      const left = (this.#probesOut.get(o.cls) ?? 1) - 1;
      if (left > 0) this.#probesOut.set(o.cls, left);
      else this.#probesOut.delete(o.cls);
    }
    if (!(originBytes > 0)) {
      this.stats.notFetched++;
      return;
    }
    this.stats.fetched++;
    this.stats.fetchedBytes += originBytes;
    // Started while its class was filled in full, and the class backed off while it was out:
    // it is not one of the probe's fills, so its outcome is left out of the judgement.
    if (!o.probe && this.payoff.allowance(o.cls, timeMs) !== Number.POSITIVE_INFINITY) return;
    this.payoff.warmed(key, o.atMs, originBytes);
    // A viewer that joined the fill got it without a second origin fetch: the fill cost nothing extra.
    if (o.joined) this.payoff.viewer(key, Math.max(timeMs, o.atMs), true);
  }

  /** Per content class: outcomes since the last judgement and whether it is filled, suspended or probed. */
  report(nowMs: number): ClassReport[] {
    return this.payoff.report(nowMs);
  }
}
