/**
 * The access-log writer puts what was logged on disk within a flush interval, not only when a
 * file is published. Regression: the live `.partial` log of an edge in use for 45 minutes was
 * still its 10-byte gzip header, because gzip held every line until the file was closed.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LOG_HEADER } from '../../src/access-log/format.js';
import { AccessLogWriter } from '../../src/edge/access-log/writer.js';

const dirs: string[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function partialText(dir: string): Promise<string> {
  const files = (await readdir(join(dir, 'edge'))).filter((f) => f.endsWith('.gz.partial'));
  if (files.length !== 1) return '';
  const buf = await readFile(join(dir, 'edge', files[0]!));
  // The file is still open: read it as a stream cut after a sync flush.
  return gunzipSync(buf, { finishFlush: constants.Z_SYNC_FLUSH }).toString();
}

async function newWriter(flushIntervalMs: number): Promise<{ dir: string; writer: AccessLogWriter }> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-logw-'));
  dirs.push(dir);
  const writer = new AccessLogWriter({
    dir,
    prefix: 'edge/',
    distributionId: 'EDGEWISELOCAL',
    flushIntervalMs,
    rotateSeconds: 3600,
  });
  return { dir, writer };
}

describe('access log writer', () => {
  it('a flushed batch is readable in the open .partial file', async () => {
    const { dir, writer } = await newWriter(60_000);
    writer.write(Date.now(), 'line-one');
    await writer.flush();
    expect(await partialText(dir)).toBe(`${LOG_HEADER}line-one\n`);
    writer.write(Date.now(), 'line-two');
    await writer.flush();
    expect(await partialText(dir)).toBe(`${LOG_HEADER}line-one\nline-two\n`);
    await writer.close();
    const done = (await readdir(join(dir, 'edge'))).filter((f) => f.endsWith('.gz'));
    expect(done).toHaveLength(1);
    expect(gunzipSync(await readFile(join(dir, 'edge', done[0]!))).toString()).toBe(
      `${LOG_HEADER}line-one\nline-two\n`,
    );
  });

  it('the flush timer, not rotation, brings lines to disk', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { dir, writer } = await newWriter(1000);
    writer.write(Date.now(), 'by-the-timer');
    vi.advanceTimersByTime(1000);
    // Wait on the condition (bounded), never on wall-clock time.
    let text = '';
    for (let i = 0; i < 200 && !text.includes('by-the-timer'); i++) {
      await new Promise((r) => setImmediate(r));
      text = await partialText(dir).catch(() => '');
    }
    expect(text).toBe(`${LOG_HEADER}by-the-timer\n`);
    await writer.close();
  });
});
