/**
 * Graceful shutdown of the real CLI process (`node dist/src/cli.js serve`, built by
 * `npm run build` / `npm test`): SIGTERM with a slow download in flight stops accepting, lets
 * the download finish, and exits 0; a download that outlives server.shutdownDeadlineMs is cut
 * and the process still exits 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'undici';
import { afterEach, describe, expect, test } from 'vitest';
import { FsDriver } from '../../src/storage/fs.js';
import { tempDir } from '../helpers/origin.js';

const CLI = join(import.meta.dirname, '../../dist/src/cli.js');
const SIZE = 16 * 1024 * 1024;

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function startCli(deadlineMs: number) {
  expect(existsSync(CLI), 'dist/src/cli.js missing: run `npx tsc -p tsconfig.build.json` first').toBe(true);
  const dir = await tempDir('edgewise-shutdown-');
  dirs.push(dir);
  const dataDir = join(dir, 'data');
  const payload = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
  await new FsDriver({ dataDir }).put('static/big.bin', Readable.from([payload]), {
    contentType: 'application/octet-stream',
  });
  const file = join(dir, 'edgewise.yaml');
  await writeFile(
    file,
    `server:\n  host: 127.0.0.1\n  port: 0\n  shutdownDeadlineMs: ${deadlineMs}\n` +
      `storage:\n  driver: fs\n  fs:\n    dataDir: ${JSON.stringify(dataDir)}\nlogging:\n  level: info\n`,
  );
  const child = spawn(process.execPath, [CLI, 'serve', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const rec = JSON.parse(line) as { msg?: string; url?: string };
          if (rec.msg === 'origin listening' && rec.url) resolve(rec.url);
        } catch {}
      }
    });
    child.once('exit', (code) => reject(new Error(`cli exited early with ${code}: ${out}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, url, exited, sha: createHash('sha256').update(payload).digest('hex'), logs: () => out };
}

/** Resolves once a TCP connect to the port is refused: the listener is closed. Bounded. */
async function waitUntilRefused(url: string): Promise<void> {
  const port = Number(new URL(url).port);
  for (let i = 0; i < 200; i++) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    if (refused) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('listener still accepting after SIGTERM');
}

describe('graceful shutdown (SIGTERM)', () => {
  test('a download in flight finishes, new connections are refused, exit code 0', async () => {
    const cli = await startCli(20_000);
    // Small client window: the server cannot finish writing until we read.
    const client = new Client(cli.url);
    const res = await client.request({ path: '/static/big.bin', method: 'GET', highWaterMark: 16 * 1024 });
    expect(res.statusCode).toBe(200);
    const it = res.body[Symbol.asyncIterator]();
    const hash = createHash('sha256');
    let received = 0;
    const first = await it.next();
    hash.update(first.value as Buffer);
    received += (first.value as Buffer).length;
    expect(received).toBeLessThan(SIZE);

    cli.child.kill('SIGTERM');
    await waitUntilRefused(cli.url);
    expect(cli.child.exitCode).toBeNull(); // still draining our download

    for (let next = await it.next(); !next.done; next = await it.next()) {
      hash.update(next.value as Buffer);
      received += (next.value as Buffer).length;
    }
    expect(received).toBe(SIZE);
    expect(hash.digest('hex')).toBe(cli.sha);
    expect(await cli.exited).toBe(0);
    expect(cli.logs()).toContain('"result":"clean"');
    await client.close();
  });

  test('a download that outlives shutdownDeadlineMs is cut, and the process still exits 0', async () => {
    const cli = await startCli(500);
    const client = new Client(cli.url);
    const res = await client.request({ path: '/static/big.bin', method: 'GET', highWaterMark: 16 * 1024 });
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    cli.child.kill('SIGTERM');
    // Never read again until the process has gone: the deadline must end it.
    expect(await cli.exited).toBe(0);
    expect(cli.logs()).toContain('"result":"deadline"');
    await expect(
      (async () => {
        for (let next = await it.next(); !next.done; next = await it.next()) {}
      })(),
    ).rejects.toThrow();
    await client.close().catch(() => {});
  });
});
