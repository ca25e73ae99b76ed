/**
 * No Docker engine runs here, so this test builds the Dockerfile's runtime layout by hand:
 * the files its final stage copies, production dependencies installed with `npm ci
 * --omit=dev`, its ENV, its CMD, and its HEALTHCHECK command — then checks the origin is
 * healthy and that no dev dependency was needed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { type LongRunning, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';

const run = promisify(execFile);
// The npm beside this node binary: node_modules/.bin (on PATH under vitest) holds an old npm
// that a dev dependency bundles.
const npmBin = existsSync(join(dirname(process.execPath), 'npm'))
  ? join(dirname(process.execPath), 'npm')
  : 'npm';
const root = new URL('../../', import.meta.url).pathname;

interface RuntimeStage {
  copies: Array<{ from: string; fromBuild: boolean }>;
  env: Record<string, string>;
  cmd: string[];
  healthcheck: string[];
}

async function runtimeStage(): Promise<RuntimeStage> {
  const text = (await readFile(join(root, 'Dockerfile'), 'utf8')).replace(/\\\n\s*/g, ' ');
  const stages = text.split(/^FROM /m);
  const last = stages[stages.length - 1]!;
  expect(stages[0]!.includes('node:24') || text.includes('FROM node:24')).toBe(true);
  const copies = [...last.matchAll(/^COPY (--from=build )?(\S+) (\S+)$/gm)].map((m) => ({
    fromBuild: Boolean(m[1]),
    from: m[2]!.replace(/^\/app\//, ''),
  }));
  const env: Record<string, string> = {};
  for (const m of last.matchAll(/^ENV (.+)$/gm))
    for (const kv of m[1]!.trim().split(/\s+/)) {
      const [k, v] = kv.split('=');
      env[k!] = v!;
    }
  const cmd = JSON.parse(/^CMD (\[.+\])$/m.exec(last)![1]!) as string[];
  const healthcheck = JSON.parse(/^HEALTHCHECK .* CMD (\[.+\])$/m.exec(last)![1]!) as string[];
  expect(last).toMatch(/^USER node$/m);
  return { copies, env, cmd, healthcheck };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

let server: LongRunning | undefined;
afterAll(async () => {
  await server?.stop('SIGKILL');
});

describe('production layout (the Dockerfile runtime stage without Docker)', () => {
  it('installs with --omit=dev, starts the compiled CLI and passes the HEALTHCHECK', async () => {
    const stage = await runtimeStage();
    const app = await tempDir('edgewise-prod-');
    await cp(join(root, 'package-lock.json'), join(app, 'package-lock.json'));
    for (const c of stage.copies) {
      if (c.from === 'node_modules') continue; // installed below, as `npm prune --omit=dev` leaves it
      await cp(join(root, c.from), join(app, c.from), { recursive: true });
    }
    await run(npmBin, ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: app,
      timeout: 240_000,
    });
    const installed = JSON.parse(
      (await run(npmBin, ['ls', '--json', '--depth=0', '--omit=dev'], { cwd: app })).stdout,
    ) as {
      dependencies: Record<string, unknown>;
    };
    expect(Object.keys(installed.dependencies)).toContain('fastify');
    await expect(readFile(join(app, 'node_modules/vitest/package.json'))).rejects.toThrow();

    const port = await freePort();
    const dataDir = join(app, 'data');
    await mkdir(dataDir);
    const env = {
      ...stage.env,
      EDGEWISE__SERVER__HOST: '127.0.0.1',
      EDGEWISE__SERVER__PORT: String(port),
      EDGEWISE__STORAGE__FS__DATADIR: dataDir,
    };
    expect(stage.cmd.slice(0, 2)).toEqual(['node', 'dist/src/cli.js']);
    server = startCli(stage.cmd.slice(2), { cwd: app, env });
    await server.waitFor((l) => l.includes('origin listening'));
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);

    const [bin, ...args] = stage.healthcheck;
    expect(bin).toBe('node');
    const hc = await run(process.execPath, args, { cwd: app, env: { ...process.env, ...env } }).then(
      () => 0,
      (e: { code?: number }) => e.code ?? 1,
    );
    expect(hc).toBe(0);
    expect(await server.stop('SIGTERM')).toBe(0);
    server = undefined;
  }, 300_000);
});
