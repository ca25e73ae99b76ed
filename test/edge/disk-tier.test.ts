/**
 * The disk tier's reused descriptors (src/edge/cache/disk-files.ts): a hit reads through a
 * descriptor kept open across hits, the table is bounded, a dropped file is never read again,
 * and a viewer that goes away mid-body leaves no descriptor behind. Descriptors are counted in
 * /proc/self/fd (the edge runs in this process).
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as connectH2 } from 'node:http2';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { DISK_CHUNK_BYTES, DiskFiles } from '../../src/edge/cache/disk-files.js';
import { type TestEdge, useCountingOriginAndEdge } from './helpers.js';

const { setup, cleanup } = useCountingOriginAndEdge();
const KEY = 'd'.repeat(32);

/** This process's descriptors whose target lies under `dir` (deleted files included). */
function fdsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // closed while we listed
    }
  }
  return out;
}

async function get(edge: TestEdge, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${edge.url}${path}`, { headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

const diskEdge = {
  cache: { diskThresholdBytes: 4096, diskBytes: 64 * 1024 * 1024 },
  invalidation: { apiKeys: [KEY] },
};

describe('DiskFiles', () => {
  it('reuses one descriptor per file and keeps at most `max` open, closing lent ones on release', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgewise-diskfiles-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const files = new DiskFiles(2);
    const names = [0, 1, 2, 3].map((i) => join(dir, `f${i}`));
    for (const n of names) await writeFile(n, n);
    const a = await files.acquire(names[0]!);
    const b = await files.acquire(names[0]!);
    expect(b.fd).toBe(a.fd);
    a.release();
    b.release();
    const again = await files.acquire(names[0]!);
    expect(again.fd).toBe(a.fd);
    // names[0] stays lent while three others pass through the table of two.
    for (const n of names.slice(1)) (await files.acquire(n)).release();
    expect(files.size).toBe(2);
    expect(files.open).toBe(3);
    // Evicted descriptors close through fs.close's callback: wait for the kernel's view to match.
    await until(() => fdsUnder(dir).length === 3, 'the evicted descriptors to close');
    again.release();
    expect(files.open).toBe(2);
    await until(() => fdsUnder(dir).length === 2, 'the released descriptor to close');
    files.remove(names[3]!);
    await expect(files.acquire(names[3]!)).rejects.toMatchObject({ code: 'ENOENT' });
    files.closeAll();
    expect(files.open).toBe(0);
    await until(() => fdsUnder(dir).length === 0, 'every descriptor to close');
  });
});

describe('disk-tier hits', () => {
  it('serve every byte and ranges across chunks through one reused descriptor', async () => {
    const { origin, edge } = await setup({}, diskEdge);
    const big = pattern(2 * DISK_CHUNK_BYTES + 12345, 7);
    origin.route('/t/big', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"big1"', 'content-length': big.length });
      res.end(big);
    });
    const store = edge.edge.app.store;
    const cacheDir = join(edge.dir, 'cache');
    expect((await get(edge, '/t/big')).body.equals(big)).toBe(true);
    await until(() => (store.disk?.size ?? 0) === 1, 'the fill to reach the disk tier');
    for (let i = 0; i < 3; i++) {
      const hit = await get(edge, '/t/big');
      expect(hit.headers['x-cache']).toBe('Hit from edgewise');
      expect(hit.body.equals(big)).toBe(true);
    }
    const start = DISK_CHUNK_BYTES - 5;
    const end = 2 * DISK_CHUNK_BYTES + 100;
    const part = await get(edge, '/t/big', { range: `bytes=${start}-${end}` });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes ${start}-${end}/${big.length}`);
    expect(part.body.equals(big.subarray(start, end + 1))).toBe(true);
    const head = await request(`${edge.url}/t/big`, { method: 'HEAD' });
    await head.body.dump();
    expect(head.headers['content-length']).toBe(String(big.length));
    const notModified = await get(edge, '/t/big', { 'if-none-match': '"big1"' });
    expect(notModified.status).toBe(304);
    // Five hits, one descriptor, still open for the next hit.
    expect(store.files.size).toBe(1);
    expect(fdsUnder(cacheDir)).toHaveLength(1);
  });

  it('never serves an invalidated or evicted file, and closes its descriptor', async () => {
    const { origin, edge } = await setup(
      {},
      { ...diskEdge, cache: { ...diskEdge.cache, diskBytes: 40_000 } },
    );
    let version = 1;
    origin.route('/t/v', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      res.end(pattern(10_000, version));
    });
    const store = edge.edge.app.store;
    const cacheDir = join(edge.dir, 'cache');
    await get(edge, '/t/v');
    await until(() => (store.disk?.size ?? 0) === 1, 'the fill to reach the disk tier');
    expect((await get(edge, '/t/v')).body.equals(pattern(10_000, 1))).toBe(true);
    expect(fdsUnder(cacheDir)).toHaveLength(1);
    version = 2;
    const inv = await request(`${edge.url}/_edge/invalidations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ paths: ['/t/v'] }),
    });
    expect(inv.statusCode).toBe(201);
    await inv.body.dump();
    await until(() => fdsUnder(cacheDir).length === 0, 'the invalidated file to be closed');
    const after = await get(edge, '/t/v');
    expect(after.headers['x-cache']).toBe('Miss from edgewise');
    expect(after.body.equals(pattern(10_000, 2))).toBe(true);
    await until(() => (store.disk?.size ?? 0) === 1, 'the new fill to reach the disk tier');
    const hit = await get(edge, '/t/v');
    expect(hit.headers['x-cache']).toBe('Hit from edgewise');
    expect(hit.body.equals(pattern(10_000, 2))).toBe(true);
    // Evictions: four more objects push /t/v out of 40,000 disk bytes.
    for (let i = 0; i < 4; i++) {
      origin.route(`/t/o${i}`, (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600' });
        res.end(pattern(10_000, 100 + i));
      });
      // Read it until it is a hit, so its descriptor is in the table.
      let result: string | undefined;
      for (let n = 0; n < 50 && result !== 'Hit from edgewise'; n++)
        result = (await get(edge, `/t/o${i}`)).headers['x-cache'] as string;
      expect(result).toBe('Hit from edgewise');
    }
    expect(store.disk?.size).toBeLessThan(5);
    await until(() => fdsUnder(cacheDir).every((t) => !t.endsWith('(deleted)')), 'evicted files to close');
    expect(store.files.open).toBeLessThanOrEqual(store.disk?.size ?? 0);
  });

  it('a viewer that goes away mid-body leaves no descriptor lent out', async () => {
    const { origin, edge } = await setup({}, diskEdge);
    const size = 16 * DISK_CHUNK_BYTES;
    const big = pattern(size, 3);
    origin.route('/t/huge', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': size });
      res.end(big);
    });
    const store = edge.edge.app.store;
    const cacheDir = join(edge.dir, 'cache');
    await get(edge, '/t/huge');
    await until(() => (store.disk?.size ?? 0) === 1, 'the fill to reach the disk tier');
    const { port } = new URL(edge.url);
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        const sock = connect(Number(port), '127.0.0.1', () => {
          sock.write('GET /t/huge HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        });
        let got = 0;
        sock.on('data', (c: Buffer) => {
          got += c.length;
          // Part of the body, then gone without reading the rest.
          if (got > 100_000) {
            sock.destroy();
            resolve();
          }
        });
        sock.on('error', reject);
      });
    }
    // Every aborted response released its descriptor: only the table's one stays open.
    await until(() => store.files.open === store.files.size, 'aborted responses to release');
    expect(store.files.open).toBe(1);
    expect(fdsUnder(cacheDir)).toHaveLength(1);
    await store.invalidate('/t/huge');
    await until(() => fdsUnder(cacheDir).length === 0, 'the descriptor to close');
  });

  it('over HTTP/2, concurrent streams of one file each get every byte (chunk buffers are reused)', async () => {
    const { origin, edge } = await setup({}, { ...diskEdge, h2c: true });
    const big = pattern(3 * DISK_CHUNK_BYTES + 777, 11);
    const other = pattern(2 * DISK_CHUNK_BYTES + 5, 99);
    for (const [path, body] of [
      ['/t/h2a', big],
      ['/t/h2b', other],
    ] as const) {
      origin.route(path, (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': body.length });
        res.end(body);
      });
    }
    const session = connectH2(edge.url);
    cleanup.push(async () => session.close());
    const fetchH2 = (path: string) =>
      new Promise<Buffer>((resolve, reject) => {
        const s = session.request({ ':path': path });
        const chunks: Buffer[] = [];
        s.on('data', (d: Buffer) => chunks.push(d));
        s.on('end', () => resolve(Buffer.concat(chunks)));
        s.on('error', reject);
      });
    for (const path of ['/t/h2a', '/t/h2b']) await fetchH2(path);
    const store = edge.edge.app.store;
    await until(() => (store.disk?.size ?? 0) === 2, 'the fills to reach the disk tier');
    const paths = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? '/t/h2a' : '/t/h2b'));
    const bodies = await Promise.all(paths.map(fetchH2));
    bodies.forEach((b, i) => {
      expect(b.equals(paths[i] === '/t/h2a' ? big : other)).toBe(true);
    });
    await until(() => store.files.open === store.files.size, 'every stream to release its descriptor');
  });
});
