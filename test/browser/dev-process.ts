/**
 * Runs `edgewise dev` as a real process (the built CLI) in a temp directory, on free loopback
 * ports, and reads the URLs it prints.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface DevProcess {
  edgeUrl: string;
  originUrl: string;
  dir: string;
  output(): string;
  stop(): Promise<void>;
}

const CLI = resolve('dist/src/cli.js');

/** A port free right now on 127.0.0.1 (the edge URL must be known before start for publicUrl). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  await new Promise<void>((ok) => server.close(() => ok()));
  if (typeof addr !== 'object' || !addr) throw new Error('no port');
  return addr.port;
}

export async function startDev(env: Record<string, string> = {}): Promise<DevProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-browser-'));
  await mkdir(join(dir, 'data'), { recursive: true });
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [CLI, 'dev'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      EDGEWISE__SERVER__HOST: '127.0.0.1',
      EDGEWISE__SERVER__PORT: '0',
      EDGEWISE__EDGE__HOST: '127.0.0.1',
      EDGEWISE__EDGE__PORT: '0',
      // Load shedding off: CI shares its cores, and this test is not about overload.
      EDGEWISE__SERVER__OVERLOAD__MAXEVENTLOOPDELAYMS: '0',
      EDGEWISE__SERVER__OVERLOAD__MAXEVENTLOOPUTILIZATION: '0',
      EDGEWISE__LOGGING__LEVEL: process.env.EDGEWISE_TEST_LOG ? 'debug' : 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  // A dev that dies while a test uses it would only show as refused connections: say why.
  child.once('exit', (code, signal) => {
    if (!stopping)
      process.stderr.write(`edgewise dev exited unexpectedly (${code ?? signal}):\n${out.slice(-4000)}\n`);
  });
  let stopping = false;
  const stop = async () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const urls = await new Promise<{ edge: string; origin: string }>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`edgewise dev did not print its URLs:\n${out}`)), 30_000);
      const check = () => {
        const edge = /^\s+edge\s+(http:\/\/\S+)/m.exec(out)?.[1];
        const origin = /^\s+origin\s+(http:\/\/\S+)/m.exec(out)?.[1];
        if (edge && origin) {
          clearTimeout(timer);
          ok({ edge, origin });
        }
      };
      child.stdout?.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`edgewise dev exited (${code}):\n${out}`));
      });
      check();
    });
    return { edgeUrl: urls.edge, originUrl: urls.origin, dir, output: () => out, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
