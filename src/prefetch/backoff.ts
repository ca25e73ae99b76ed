/**
 * Whether the worker's warms pay, measured on the traffic it reads, and what it does when they
 * do not. Shared by the worker (src/prefetch/worker.ts) and the simulator (runDeployed), so the
 * simulated back-off is the deployed one.
 *
 * Outcome of a warm: every origin fetch the worker caused is remembered (key, content class,
 * time, bytes) until a later viewer request for its key shows up in the delivered logs. A viewer
 * Hit is "used"; a viewer Miss means the copy was gone (evicted or expired) before anyone asked,
 * and no viewer request within `useWindowSeconds` (or the class's default TTL, if shorter) of
 * the warm is "wasted". The clock that expires a warm is the newest record time read, not the
 * wall clock, so logs that arrive an hour late do not turn used warms into wasted ones.
 *
 * Back-off, per content class: once `minSamples` outcomes are in and the used share is below
 * `minUsefulShare`, the class is suspended for `initialSeconds` (no warms), then probed with at
 * most `probeWarms` warms; if the probe's used share reaches the threshold the class is warmed
 * in full again, otherwise the suspension doubles (up to `maxSeconds`) and the probe repeats.
 *
 * Wasted bytes over a window: `prefetch.budget.wastedBytes` caps the origin bytes of warms made
 * in the last `wastedWindowSeconds` that have not been seen used. Every wasted byte is such a
 * byte, so total wasted bytes in any window of that length stay under the cap (give or take one
 * object's size-estimate error).
 */
import { classify } from '../classes.js';
import type { EdgewiseConfig } from '../config/schema.js';

interface Pending {
  cls: string;
  at: number;
  until: number;
  bytes: number;
  probe: boolean;
}

interface ClassState {
  used: number;
  wasted: number;
  /** 0: warmed in full; n > 0: suspended for initial·2^(n−1), then probed. */
  level: number;
  /** While level > 0: no warms before this time (ms). */
  until: number;
  /** Probe warms not resolved yet. */
  probesOut: number;
}

export interface PayoffSnapshot {
  pending: Array<[string, Pending]>;
  classes: Array<[string, ClassState]>;
  /** Warms resolved as wasted, still inside the wasted-bytes window: [at, bytes]. */
  wastedLog: Array<[number, number]>;
  clock: number;
}

export interface ClassReport {
  cls: string;
  used: number;
  wasted: number;
  state: 'full' | 'suspended' | 'probing';
  level: number;
  until?: number | undefined;
}

function pathOf(key: string): string {
  const q = key.indexOf('?');
  return q === -1 ? key : key.slice(0, q);
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export class Payoff {
  readonly #config: () => Readonly<EdgewiseConfig>;
  #pending = new Map<string, Pending>();
  #classes = new Map<string, ClassState>();
  #wastedLog: Array<[number, number]> = [];
  /** Newest record time read (ms). */
  #clock = Number.NEGATIVE_INFINITY;
  /** Totals since this object was made (not persisted): for reports and tests. */
  readonly totals = { warms: 0, used: 0, wasted: 0, usedBytes: 0, wastedBytes: 0 };

  constructor(config: () => Readonly<EdgewiseConfig>) {
    this.#config = config;
  }

  #class(name: string): ClassState {
    let c = this.#classes.get(name);
    if (!c) {
      c = { used: 0, wasted: 0, level: 0, until: 0, probesOut: 0 };
      this.#classes.set(name, c);
    }
    return c;
  }

  /** The content class a key's outcomes count toward. */
  classOf(key: string): string {
    return classify(this.#config(), pathOf(key)).name;
  }

  /**
   * How many keys of this class a pass starting at `now` may warm: Infinity when warmed in full,
   * 0 while suspended (or while a probe is out), `probeWarms` when a probe is due.
   */
  allowance(cls: string, now: number): number {
    const c = this.#classes.get(cls);
    if (!c || c.level === 0) return Number.POSITIVE_INFINITY;
    if (now < c.until || c.probesOut > 0) return 0;
    return this.#config().prefetch.backoff.probeWarms;
  }

  /** A warm of `key` that went to the origin at `at` (ms) for `bytes`. */
  warmed(key: string, at: number, bytes: number): void {
    const config = this.#config();
    const cls = classify(config, pathOf(key));
    const c = this.#class(cls.name);
    const probe = c.level > 0;
    const prev = this.#pending.get(key);
    if (prev) {
      // Warmed again (another variant or target, or a refresh) before any viewer came: one outcome.
      prev.bytes += bytes;
      return;
    }
    if (probe) c.probesOut++;
    const window = Math.min(config.prefetch.backoff.useWindowSeconds, cls.ttl.default) * 1000;
    this.#pending.set(key, { cls: cls.name, at, until: at + window, bytes, probe });
    this.totals.warms++;
  }

  /** A viewer request for `key` at `time` (ms) read from the logs; `hit` when the edge held it. */
  viewer(key: string, time: number, hit: boolean): void {
    if (time > this.#clock) this.#clock = time;
    const p = this.#pending.get(key);
    if (!p || time < p.at) return;
    this.#resolve(key, p, hit && time <= p.until);
  }

  /** Resolves warms whose use window ended before the newest record read, and moves the window. */
  expire(now: number): void {
    for (const [key, p] of this.#pending) if (p.until < this.#clock) this.#resolve(key, p, false);
    const from = now - this.#config().prefetch.budget.wastedWindowSeconds * 1000;
    let drop = 0;
    while (drop < this.#wastedLog.length && this.#wastedLog[drop]![0] <= from) drop++;
    if (drop > 0) this.#wastedLog.splice(0, drop);
  }

  #resolve(key: string, p: Pending, used: boolean): void {
    this.#pending.delete(key);
    const b = this.#config().prefetch.backoff;
    const c = this.#class(p.cls);
    if (used) {
      c.used++;
      this.totals.used++;
      this.totals.usedBytes += p.bytes;
    } else {
      c.wasted++;
      this.totals.wasted++;
      this.totals.wastedBytes += p.bytes;
      this.#wastedLog.push([p.at, p.bytes]);
      // Kept in warm-time order (resolutions come out of order).
      for (let i = this.#wastedLog.length - 1; i > 0 && this.#wastedLog[i - 1]![0] > p.at; i--) {
        const t = this.#wastedLog[i]!;
        this.#wastedLog[i] = this.#wastedLog[i - 1]!;
        this.#wastedLog[i - 1] = t;
      }
    }
    if (c.level === 0) {
      const n = c.used + c.wasted;
      if (n >= b.minSamples) {
        if (c.used / n < b.minUsefulShare) this.#suspend(c, p.at);
        else {
          // A sliding tally: halve so the share follows the traffic as it changes.
          c.used /= 2;
          c.wasted /= 2;
        }
      }
      return;
    }
    if (!p.probe) return;
    c.probesOut--;
    if (c.probesOut > 0) return;
    const n = c.used + c.wasted;
    if (n > 0 && c.used / n >= b.minUsefulShare) {
      c.level = 0;
      c.until = 0;
      c.used = 0;
      c.wasted = 0;
    } else this.#suspend(c, Math.max(p.until, this.#clock));
  }

  #suspend(c: ClassState, from: number): void {
    const b = this.#config().prefetch.backoff;
    c.level++;
    const seconds = Math.min(b.maxSeconds, b.initialSeconds * 2 ** Math.min(c.level - 1, 40));
    c.until = from + seconds * 1000;
    c.used = 0;
    c.wasted = 0;
  }

  /** Origin bytes of warms since `now − wastedWindowSeconds` not seen used (pending or wasted). */
  unprovenBytes(now: number): number {
    const from = now - this.#config().prefetch.budget.wastedWindowSeconds * 1000;
    let t = 0;
    for (const p of this.#pending.values()) if (p.at > from) t += p.bytes;
    for (const [at, bytes] of this.#wastedLog) if (at > from) t += bytes;
    return t;
  }

  /**
   * The pass's byte budget, cut so unproven bytes over the window stay within budget.wastedBytes
   * (absent: no cap over the window, only the per-pass budget).
   */
  passBudget(now: number, passBytes: number, targets = 1): number {
    const cap = this.#config().prefetch.budget.wastedBytes;
    if (cap === undefined) return passBytes;
    // The pass budget is per target; the cap is across them.
    return Math.max(
      0,
      Math.min(passBytes, Math.floor((cap - this.unprovenBytes(now)) / Math.max(1, targets))),
    );
  }

  report(now: number): ClassReport[] {
    const out: ClassReport[] = [];
    for (const [cls, c] of this.#classes) {
      const state = c.level === 0 ? 'full' : now < c.until || c.probesOut > 0 ? 'suspended' : 'probing';
      out.push({
        cls,
        used: c.used,
        wasted: c.wasted,
        state,
        level: c.level,
        until: c.level ? c.until : undefined,
      });
    }
    return out;
  }

  snapshot(): PayoffSnapshot {
    return {
      pending: [...this.#pending],
      classes: [...this.#classes],
      wastedLog: this.#wastedLog.slice(),
      clock: Number.isFinite(this.#clock) ? this.#clock : 0,
    };
  }

  /** Restores a snapshot; malformed entries are left out. */
  restore(snap: unknown): void {
    if (typeof snap !== 'object' || snap === null) return;
    const s = snap as Partial<PayoffSnapshot>;
    if (Array.isArray(s.pending))
      for (const e of s.pending) {
        if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'object' || e[1] === null)
          continue;
        const p = e[1] as Pending;
        if (typeof p.cls !== 'string' || !num(p.at) || !num(p.until) || !num(p.bytes)) continue;
        this.#pending.set(e[0], {
          cls: p.cls,
          at: p.at,
          until: p.until,
          bytes: p.bytes,
          probe: p.probe === true,
        });
      }
    if (Array.isArray(s.classes))
      for (const e of s.classes) {
        if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'object' || e[1] === null)
          continue;
        const c = e[1] as ClassState;
        if (![c.used, c.wasted, c.level, c.until, c.probesOut].every(num)) continue;
        this.#classes.set(e[0], {
          used: c.used,
          wasted: c.wasted,
          level: c.level,
          until: c.until,
          probesOut: c.probesOut,
        });
      }
    if (Array.isArray(s.wastedLog))
      this.#wastedLog = s.wastedLog.filter(
        (e): e is [number, number] => Array.isArray(e) && num(e[0]) && num(e[1]),
      );
    if (num(s.clock) && s.clock > 0) this.#clock = s.clock;
  }
}
