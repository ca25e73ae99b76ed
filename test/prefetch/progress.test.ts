import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../src/prefetch/progress.js';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';

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

const ADAPTSIZE = new URL('../fixtures/data/adaptsize-request.trace.xz', import.meta.url).pathname;
const run = promisify(execFile);

describe('prefetch simulate progress', () => {
  const args = ['prefetch', 'simulate', '--trace', ADAPTSIZE, '--cache-size', '1%,10%'];

  it('draws loading and replay progress on a terminal (a real pseudo-terminal, via script)', async () => {
    // util-linux `script` runs the CLI with a pty as its stdin/stdout/stderr, as a shell would.
    const cmd = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
    const { stdout } = await run('script', ['-qfec', cmd, '/dev/null'], {
      env: cleanEnv(),
      timeout: 60_000,
      maxBuffer: 16 * 1048576,
    });
    expect(stdout).toMatch(/\rloading +\[#*\.*\] \d+\/0 MiB/);
    // 1 + 4 replays per cache size, the last one drawn in full.
    expect(stdout).toContain(`\rreplay   [${'#'.repeat(30)}] 9/9 replays`);
    expect(stdout).toContain('66,987 requests');
  }, 90_000);

  it('is quiet when stderr is not a terminal', async () => {
    const res = await runCli(args, { timeoutMs: 60_000 });
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('');
    expect(res.stdout).toContain('66,987 requests');
    expect(res.stdout).not.toContain('\r');
  }, 90_000);
});
