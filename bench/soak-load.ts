/**
 * The load generator of `npm run bench soak`: undici requests of the soak mix (bench/soak-mix.ts)
 * checked against what a correct edge answers, closed-loop (capacity) or open-loop at a fixed
 * rate (the soak itself), and the tally both feed.
 *
 * Open loop: request k is due at t0 + k / rate whatever happened to the earlier ones, so a slow
 * edge cannot slow the offered load down; its latency is measured from when it was due (not when
 * the client got round to it), so queueing in the client counts against the edge as a viewer
 * would see it. Both loops are bounded: a request count, a deadline, a per-request timeout.
 *
 * A due request is not sent when maxInFlight are already outstanding: the generator refuses to
 * queue without bound. Those are counted apart (`notSent`), not as edge errors: they say the run
 * did not offer its load, and bench/soak.ts prints, per interval, what tells whose fault that
 * was (the generator's event-loop lag, the edge's own request durations and busy time).
 */
import { type Dispatcher, request } from 'undici';
import { KINDS, type Kind, type SoakMix, type SoakRequest } from './soak-mix.js';

const TIMEOUT_MS = 10_000;

interface KindTally {
  requests: number;
  errors: number;
  hits: number;
  latencies: number[];
}

/** Requests, errors and latencies: per sampling interval (taken and reset) and in total per kind. */
export class Tally {
  readonly byKind = new Map<Kind, KindTally>(
    KINDS.map((k) => [k, { requests: 0, errors: 0, hits: 0, latencies: [] }]),
  );
  /** "kind: what went wrong" → count. */
  readonly problems = new Map<string, number>();
  /** Due requests the open loop did not send (maxInFlight outstanding): not edge errors. */
  notSent = 0;
  #latencies: number[] = [];
  #requests = 0;
  #errors = 0;
  #notSent = 0;

  record(kind: Kind, ms: number, hit: boolean, problem: string | undefined): void {
    const k = this.byKind.get(kind)!;
    k.requests++;
    k.latencies.push(ms);
    if (hit) k.hits++;
    this.#latencies.push(ms);
    this.#requests++;
    if (problem !== undefined) this.problem(`${kind}: ${problem}`, k);
  }

  /** A failure not tied to one response (a worker exiting, a request the client could not send). */
  problem(what: string, k?: KindTally): void {
    this.problems.set(what, (this.problems.get(what) ?? 0) + 1);
    if (k) k.errors++;
    this.#errors++;
  }

  skipped(): void {
    this.notSent++;
    this.#notSent++;
  }

  get errors(): number {
    let n = 0;
    for (const c of this.problems.values()) n += c;
    return n;
  }

  takeInterval(): { requests: number; errors: number; notSent: number; latencies: number[] } {
    const out = {
      requests: this.#requests,
      errors: this.#errors,
      notSent: this.#notSent,
      latencies: this.#latencies,
    };
    this.#latencies = [];
    this.#requests = 0;
    this.#errors = 0;
    this.#notSent = 0;
    return out;
  }
}

/** One request; resolves with what was wrong with the answer (undefined: as expected). */
async function one(
  dispatcher: Dispatcher,
  base: string,
  r: SoakRequest,
): Promise<{ problem: string | undefined; hit: boolean }> {
  try {
    const res = await request(`${base}${r.path}`, {
      dispatcher,
      headers: r.headers,
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
    });
    let n = 0;
    for await (const chunk of res.body) n += (chunk as Buffer).length;
    const hit = /^(Refresh)?Hit/.test(String(res.headers['x-cache']));
    if (res.statusCode !== r.status)
      return { problem: `status ${res.statusCode} (expected ${r.status})`, hit };
    if (r.bytes !== undefined && n !== r.bytes)
      return { problem: `body ${n} B with ${res.statusCode} (expected ${r.bytes} B)`, hit };
    return { problem: undefined, hit };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { problem: e.code ?? e.message ?? String(err), hit: false };
  }
}

/** `connections` loops, each sending its next request when the last one finished, for `seconds`. */
export async function closedLoop(
  dispatcher: Dispatcher,
  base: string,
  next: () => SoakRequest | undefined,
  connections: number,
  seconds: number,
  tally: Tally,
): Promise<{ requests: number; seconds: number }> {
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let r = next(); r !== undefined && performance.now() < end; r = next()) {
        const start = performance.now();
        const { problem, hit } = await one(dispatcher, base, r);
        tally.record(r.kind, performance.now() - start, hit, problem);
        done++;
      }
    }),
  );
  return { requests: done, seconds: (performance.now() - t0) / 1000 };
}

export interface OpenLoopResult {
  /** Requests due in the run (rate × seconds). */
  due: number;
  sent: number;
  /** Due requests not sent because maxInFlight were already outstanding. */
  shed: number;
  /** The most the client fell behind the schedule when it sent a request, ms. */
  maxLagMs: number;
}

/** rate requests per second from the mix for `seconds`, at most maxInFlight outstanding. */
export function openLoop(
  dispatcher: Dispatcher,
  base: string,
  mix: SoakMix,
  rate: number,
  seconds: number,
  maxInFlight: number,
  tally: Tally,
): Promise<OpenLoopResult> {
  const due = Math.round(rate * seconds);
  const t0 = performance.now();
  let sent = 0;
  let shed = 0;
  let next = 0;
  let inFlight = 0;
  let maxLagMs = 0;
  return new Promise((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished || next < due || inFlight > 0) return;
      finished = true;
      clearInterval(timer);
      clearTimeout(deadline);
      resolve({ due, sent, shed, maxLagMs });
    };
    const fire = (intended: number) => {
      const r = mix.next();
      inFlight++;
      sent++;
      void one(dispatcher, base, r).then(({ problem, hit }) => {
        inFlight--;
        tally.record(r.kind, performance.now() - intended, hit, problem);
        finish();
      });
    };
    const timer = setInterval(() => {
      const now = performance.now();
      const upTo = Math.min(due, Math.floor(((now - t0) / 1000) * rate));
      for (; next < upTo; next++) {
        const intended = t0 + (next / rate) * 1000;
        maxLagMs = Math.max(maxLagMs, now - intended);
        if (inFlight >= maxInFlight) {
          shed++;
          tally.skipped();
        } else fire(intended);
      }
      finish();
    }, 2);
    // Past the schedule and every request's timeout: stop waiting (counted as lost).
    const deadline = setTimeout(
      () => {
        clearInterval(timer);
        if (!finished) tally.problem(`client: ${inFlight} requests unanswered at the deadline`);
        finished = true;
        resolve({ due, sent, shed, maxLagMs });
      },
      seconds * 1000 + 3 * TIMEOUT_MS,
    );
  });
}
