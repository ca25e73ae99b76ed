/**
 * Signals to long-running commands, on the real CLI: an edge worker that is draining keeps
 * draining when a second signal arrives (a terminal's Ctrl-C gives each worker SIGINT, then the
 * primary forwards SIGTERM; before, that second signal made the worker exit 1 mid-drain).
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, logRecords } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('edge workers and a second signal', () => {
  it('a Ctrl-C to the process group drains the workers and exits 0', async () => {
    // An origin that holds every request open, so a worker has a request in flight to drain.
    const held: ServerResponse[] = [];
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((r) => (arrived = r));
    const origin = createServer((_req: IncomingMessage, res: ServerResponse) => {
      held.push(res);
      arrived();
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const res of held) res.destroy();
      origin.close();
    });
    const port = (origin.address() as { port: number }).port;
    const cwd = await tempDir('edgewise-signals-');
    // detached: the edge leads its own process group, as a shell job does, so the test can
    // signal the whole group the way a terminal's Ctrl-C does.
    const child = spawn(process.execPath, [CLI, 'edge'], {
      cwd,
      detached: true,
      env: {
        ...cleanEnv(),
        EDGEWISE__EDGE__PORT: '0',
        EDGEWISE__EDGE__WORKERS: '2',
        EDGEWISE__EDGE__SHUTDOWNDEADLINEMS: '1500',
        EDGEWISE__ORIGIN__URL: `http://127.0.0.1:${port}`,
        EDGEWISE__ORIGIN__PROTOCOL: 'http1.1',
        EDGEWISE__ORIGIN__RESPONSETIMEOUTMS: '60000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    });
    const lines: string[] = [];
    let listening: (url: string) => void = () => {};
    const url = new Promise<string>((r) => (listening = r));
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (l.includes('edge listening')) listening((JSON.parse(l) as { url: string }).url);
      }
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const base = await url;
    // A viewer request the origin never answers: one worker is now busy with it.
    const viewer = fetch(`${base}/static/slow.txt`).then(
      (r) => r.status,
      () => 'cut',
    );
    await requestArrived;
    process.kill(-child.pid!, 'SIGINT');
    const code = await exited;
    await viewer;
    const records = logRecords(lines);
    expect(records.filter((r) => r.msg === 'second signal; exiting now')).toEqual([]);
    expect(records.filter((r) => r.msg === 'edge worker stopped')).toHaveLength(2);
    expect(code).toBe(0);
  }, 60_000);
});
