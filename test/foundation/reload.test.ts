/**
 * Live tuning end to end: a real `edgewise serve` process, a TTL edited in its file, SIGHUP,
 * and the next response carries the new Cache-Control while a long download that started
 * before the reload completes intact on its own connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FsDriver } from '../../src/storage/fs.js';
import { type LongRunning, logRecords, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';

const classes = (ttl: number) =>
  [
    'classes:',
    '  - name: static_assets',
    '    pathPatterns: ["/static/*"]',
    `    ttl: { min: 0, default: ${ttl}, max: 604800 }`,
    '    browserTtl: 60',
    'defaultClass: static_assets',
  ].join('\n');

let server: LongRunning | undefined;
afterEach(async () => {
  await server?.stop('SIGKILL');
  server = undefined;
});

describe('SIGHUP reload', () => {
  it('applies a new TTL to the next response while a long download completes intact', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    const big = randomBytes(48 * 1024 * 1024);
    const driver = new FsDriver({ dataDir });
    await driver.put('static/big.bin', Readable.from([big]), { contentType: 'application/octet-stream' });
    await driver.put('static/small.txt', Readable.from([Buffer.from('small')]), {
      contentType: 'text/plain',
    });
    const file = join(dir, 'edgewise.yaml');
    const base = `server:\n  port: 0\nstorage:\n  fs:\n    dataDir: ${JSON.stringify(dataDir)}\n`;
    await writeFile(file, `${base}${classes(3600)}\n`);

    server = startCli(['serve', '--config', file]);
    const listening = await server.waitFor((l) => l.includes('origin listening'));
    const url = (JSON.parse(listening) as { url: string }).url;

    const first = await fetch(`${url}/static/small.txt`);
    expect(first.headers.get('cache-control')).toContain('s-maxage=3600');

    // Start the long download and hold it mid-body.
    const hash = createHash('sha256');
    let received = 0;
    const downloadPaused = deferred();
    const resumeDownload = deferred();
    const download = new Promise<void>((resolve, reject) => {
      get(`${url}/static/big.bin`, { agent: false }, (res) => {
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          hash.update(chunk);
        });
        res.on('end', resolve);
        res.on('error', reject);
        res.pause();
        downloadPaused.resolve();
        resumeDownload.promise.then(() => res.resume());
      }).on('error', reject);
    });
    await downloadPaused.promise;

    await writeFile(file, `${base}${classes(120)}\n`);
    server.child.kill('SIGHUP');
    await server.waitFor((l) => l.includes('config reloaded'));

    const after = await fetch(`${url}/static/small.txt`);
    expect(after.headers.get('cache-control')).toContain('s-maxage=120');

    resumeDownload.resolve();
    await download;
    expect(received).toBe(big.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));

    // An invalid file is rejected and the running config stays in force.
    await writeFile(file, `${base}classes: nope\n`);
    server.child.kill('SIGHUP');
    const rejected = await server.waitFor((l) => l.includes('config reload rejected'));
    expect(JSON.stringify(logRecords([rejected])[0]?.issues)).toMatch(/classes/);
    const still = await fetch(`${url}/static/small.txt`);
    expect(still.headers.get('cache-control')).toContain('s-maxage=120');
  });
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
