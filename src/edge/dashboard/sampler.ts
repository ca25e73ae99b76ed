/**
 * The dashboard's memory: the edge samples its own metrics every `kpi.sampleSeconds` and keeps
 * the last `kpi.historySamples`, so the page shows the last hour as soon as it is opened, with no
 * Prometheus server. Bounded (a ring), and the timer never keeps the process alive.
 */
import { type Point, parseExposition, pointBetween, type Sample } from './series.js';

export class MetricsSampler {
  readonly #scrape: () => Promise<string>;
  readonly #limit: () => number;
  readonly #samples: Sample[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(scrape: () => Promise<string>, limit: () => number) {
    this.#scrape = scrape;
    this.#limit = limit;
  }

  /** Takes a sample now, then one every `seconds()` (re-read after each, so a reload applies). */
  start(seconds: () => number): void {
    const tick = () => {
      void this.sample().finally(() => {
        this.#timer = setTimeout(tick, seconds() * 1000);
        this.#timer.unref();
      });
    };
    tick();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async sample(): Promise<void> {
    const text = await this.#scrape().catch(() => undefined);
    if (text === undefined) return;
    this.#samples.push(parseExposition(text, Date.now()));
    const extra = this.#samples.length - this.#limit();
    if (extra > 0) this.#samples.splice(0, extra);
  }

  /** One point per interval between consecutive samples, and one from the last sample to now. */
  async points(): Promise<Point[]> {
    const out: Point[] = [];
    for (let i = 1; i < this.#samples.length; i++)
      out.push(pointBetween(this.#samples[i - 1]!, this.#samples[i]!));
    const last = this.#samples.at(-1);
    const text = await this.#scrape().catch(() => undefined);
    if (last && text !== undefined) {
      const now = parseExposition(text, Date.now());
      if (now.t > last.t) out.push(pointBetween(last, now));
    }
    return out;
  }
}
