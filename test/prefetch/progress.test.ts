import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../src/prefetch/progress.js';

/** A hand-made stand-in for stderr at the seam the bar writes to. */
function sink() {
  const writes: string[] = [];
  return {
    writes,
    stream: { write: (s: string) => writes.push(s) > 0, isTTY: true } as unknown as NodeJS.WriteStream,
  };
}

describe('progress bar', () => {
  it('redraws one line on a terminal and clears it when done', () => {
    const s = sink();
    const bar = new ProgressBar(s.stream, true);
    bar.update('logs', 3, 3);
    expect(s.writes[0]).toBe(`\rlogs     [${'#'.repeat(30)}] 3/3\x1b[K`);
    bar.done();
    expect(s.writes.at(-1)).toBe('\r\x1b[K');
  });

  it('writes nothing when the output is not a terminal', () => {
    const s = sink();
    const bar = new ProgressBar(s.stream, false);
    bar.update('warming', 1, 2);
    bar.done();
    expect(s.writes).toEqual([]);
  });
});
