import { describe, expect, it } from 'vitest';
import { estimateRate, MAX_STALE_LIMIT, type Observation, ttlBound } from '../../src/ttl/estimate.js';
import { replay } from '../../src/ttl/replay.js';

const obs = (interval: number, changed: boolean): Observation => ({ interval, changed });

describe('change-rate estimate from interval-censored revalidations', () => {
  it('equal intervals: λ = ln(n / (n − k)) / d (4 revalidations at 60 s, 2 changed → ln 2 / 60)', () => {
    const e = estimateRate([obs(60, true), obs(60, false), obs(60, true), obs(60, false)]);
    expect(e.kind).toBe('mle');
    expect(e.n).toBe(4);
    expect(e.changed).toBe(2);
    expect(e.rate).toBeCloseTo(Math.LN2 / 60, 12);
  });

  it('unequal intervals: one change in 10 s, unchanged over 10 s and 30 s → e^(10λ) = 1.25', () => {
    // Score: −40 + 10 / (e^(10λ) − 1) = 0  ⇒  λ = ln(1.25) / 10 ≈ 0.0223144
    const e = estimateRate([obs(10, true), obs(10, false), obs(30, false)]);
    expect(e.rate).toBeCloseTo(Math.log(1.25) / 10, 12);
    expect(e.longestUnchanged).toBe(30);
  });

  it('two changes at different intervals: the score is zero at the estimate', () => {
    const data = [obs(5, true), obs(40, true), obs(20, false), obs(20, false)];
    const { rate } = estimateRate(data);
    const score = -40 + 5 / Math.expm1(rate * 5) + 40 / Math.expm1(rate * 40);
    expect(Math.abs(score)).toBeLessThan(1e-9);
  });

  it('no change seen: rate 0, and the bound is the longest interval seen unchanged', () => {
    const e = estimateRate([obs(60, false), obs(300, false), obs(120, false)]);
    expect(e).toMatchObject({ kind: 'no-change', rate: 0, longestUnchanged: 300, n: 3, changed: 0 });
    expect(ttlBound(e, 0.1)).toBe(300);
  });

  it('every revalidation changed: λ = ln(2n) / median interval (10, 20, 30 s → ln 6 / 20)', () => {
    const e = estimateRate([obs(30, true), obs(10, true), obs(20, true)]);
    expect(e.kind).toBe('all-changed');
    expect(e.rate).toBeCloseTo(Math.log(6) / 20, 12);
  });

  it('ignores intervals that are not positive numbers', () => {
    const e = estimateRate([obs(0, true), obs(Number.NaN, false), obs(60, true), obs(60, false)]);
    expect(e.n).toBe(2);
    expect(e.rate).toBeCloseTo(Math.LN2 / 60, 12);
  });

  it('the TTL bound: P(change within T) = q, never above the mean change interval', () => {
    const e = estimateRate([obs(60, true), obs(60, false)]); // λ = ln 2 / 60: mean 86.56 s
    expect(ttlBound(e, 0.1)).toBeCloseTo((-Math.log(0.9) * 60) / Math.LN2, 9); // 9.12 s
    expect(ttlBound(e, 0.9)).toBeCloseTo(60 / Math.LN2, 9); // capped at 1 − 1/e: 1/λ
    expect(MAX_STALE_LIMIT).toBeCloseTo(0.632, 3);
  });
});

describe('replay of logged request times', () => {
  it('counts hits, refreshes and misses under a TTL, with expected staleness', () => {
    const times = [0, 10_000, 30_000, 100_000];
    // TTL 20 s, nothing changes: miss, hit (age 10), refresh (age 30), refresh (age 70).
    expect(replay([times], 20, 0)).toEqual({ requests: 4, hits: 1, refreshHits: 2, misses: 1, stale: 0 });
    // λ = ln 2 / 10: the hit at age 10 is stale with p = ½; the copy at 30 s is unchanged with
    // p = 2^-3, the one at 100 s (70 s after the last validation) with p = 2^-7.
    const r = replay([times], 20, Math.LN2 / 10);
    expect(r.hits).toBe(1);
    expect(r.stale).toBeCloseTo(0.5, 12);
    expect(r.refreshHits).toBeCloseTo(1 / 8 + 1 / 128, 12);
    expect(r.misses).toBeCloseTo(1 + 7 / 8 + 127 / 128, 12);
  });

  it('a TTL covering the whole trace: one miss per object, every later request a hit', () => {
    const r = replay(
      [
        [0, 1000, 2000],
        [500, 600],
      ],
      3600,
      0,
    );
    expect(r).toEqual({ requests: 5, hits: 3, refreshHits: 0, misses: 2, stale: 0 });
  });
});

describe('whole-second log times', () => {
  it('places the requests one object logged in one second inside it, in order, repeatably', async () => {
    const { spreadSeconds } = await import('../../src/ttl/evidence.js');
    const input = [1000, 1000, 2000, 3000, 3000, 3000, 4123];
    const out = spreadSeconds([...input]);
    expect(out).toEqual(spreadSeconds([...input]));
    expect(out[6]).toBe(4123); // milliseconds given: left alone
    for (let i = 0; i < 6; i++) {
      expect(out[i]).toBeGreaterThanOrEqual(input[i]!);
      expect(out[i]).toBeLessThan(input[i]! + 1000);
      if (i > 0) expect(out[i]).toBeGreaterThanOrEqual(out[i - 1]!);
    }
  });

  it('keeps the gaps right on average: one request a second, TTL 1 s → about half are hits', async () => {
    const { spreadSeconds } = await import('../../src/ttl/evidence.js');
    const times = spreadSeconds(Array.from({ length: 4001 }, (_, i) => i * 1000));
    // Consecutive seconds: the gap is the difference of two uniform offsets plus 1 s, below 1 s
    // half the time; a hit renews nothing, so the expected share is a little under ½.
    const hits = replay([times], 1, 0).hits / 4001;
    expect(hits).toBeGreaterThan(0.3);
    expect(hits).toBeLessThan(0.55);
  });
});
