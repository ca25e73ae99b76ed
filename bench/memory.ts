/**
 * `npm run bench memory`: does `edge.cache.memoryBytes` bound the process? (issue #20 item 6)
 *
 *   1. Per entry: an edge in this process caches N distinct objects of each body size
 *      (0 B, 100 B, 1 KiB, 10 KiB) with room for all; what the process grew by (V8 heap +
 *      array buffers after forced GCs) per entry, against what the memory tier counted per
 *      entry (src/edge/entry.ts entryCost). Each size twice: stored only, and stored then hit
 *      once (a hit compiles the entry's response head, src/edge/hit-head.ts, kept while the
 *      entry lives). Goal: counted ≥ real, so the setting is a bound.
 *   2. A flood: unique 100-byte objects, three times as many as memoryBytes (16 MiB) counts
 *      room for, through a real edge; the process's growth against memoryBytes. Goal ≤ 1.0×
 *      with follow-on prefetch off (the tier alone); the same with it on (the default), whose
 *      model of what follows what is bounded by prefetch.model.maxKeys, not by memoryBytes.
 * Every row but the last runs with prefetch.follow off.
 *
 * The origin is a node:http server in this process answering every path with a body of the
 * asked size; requests go over loopback HTTP/1.1 (16 connections). Needs --expose-gc, which
 * `npm run bench` passes. Bounded: fixed request counts, a deadline per request.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { LiveConfig } from '../src/config/live.js';
import { buildConfig } from '../src/config/load.js';
import { startEdge } from '../src/edge/server.js';
import { createLogger } from '../src/logger.js';
import { printTable } from './lib.js';

const MiB = 1024 * 1024;
const N = Number(process.env.BENCH_MEMORY_ENTRIES ?? 20_000);
const FLOOD_BYTES = 16 * MiB;

function heldBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench memory needs node --expose-gc (npm run bench passes it)');
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function origin(): Promise<{ server: Server; url: string }> {
  const bodies = new Map<number, Buffer>();
  const server = createServer((req, res) => {
    const size = Number(/\/s(\d+)\//.exec(req.url ?? '')?.[1] ?? 100);
    const body = bodies.get(size) ?? Buffer.alloc(size, 97);
    bodies.set(size, body);
    res.writeHead(200, {
      'content-type': 'text/plain',
      'cache-control': 'max-age=3600',
      etag: `"${(req.url ?? '').length}-${size}"`,
      'last-modified': 'Mon, 07 Dec 2026 11:00:00 GMT',
    });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

async function withEdge<T>(
  originUrl: string,
  memoryBytes: number,
  fn: (get: (path: string) => Promise<void>, counted: () => { bytes: number; size: number }) => Promise<T>,
  follow = false,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-bench-memory-'));
  const config = buildConfig(
    {
      origin: { url: originUrl },
      logging: { level: 'silent' },
      edge: {
        host: '127.0.0.1',
        port: 0,
        cache: { diskDir: join(dir, 'cache'), memoryBytes, diskBytes: 0 },
        logs: { enabled: false, dir: join(dir, 'logs') },
      },
      // Follow-on prefetch (on by default) keeps a model of what follows what, bounded by
      // prefetch.model.maxKeys and not by memoryBytes: off unless a row measures it.
      prefetch: { follow: { enabled: follow } },
    },
    undefined,
  );
  const edge = await startEdge(new LiveConfig(config), createLogger({ level: 'silent', pretty: false }), {
    cwd: dir,
  });
  const agent = new Agent({ connections: 16 });
  const get = async (path: string) => {
    const r = await request(`${edge.url}${path}`, {
      dispatcher: agent,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode}`);
  };
  const memory = edge.app.store.memory;
  try {
    return await fn(get, () => ({ bytes: memory.bytes, size: memory.size }));
  } finally {
    await agent.close();
    await edge.shutdown(1000);
    await rm(dir, { recursive: true, force: true });
  }
}

async function flood(get: (p: string) => Promise<void>, count: number, prefix: string, size: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) await get(`/static/s${size}/${prefix}/item-${next++}.txt`);
    }),
  );
}

export async function run(): Promise<void> {
  const o = await origin();
  try {
    const rows: Array<Array<string | number>> = [
      ['body', 'entries', 'real B/entry', 'counted B/entry', 'counted ÷ real', 'goal ≥ 1.0'],
    ];
    for (const size of [0, 100, 1024, 10_240])
      for (const hit of [false, true])
        await withEdge(o.url, 4096 * MiB, async (get, counted) => {
          await flood(get, 500, 'warm', size);
          if (hit) await flood(get, 500, 'warm', size);
          const before = heldBytes();
          const c0 = counted();
          await flood(get, N, 'flood', size);
          if (hit) await flood(get, N, 'flood', size);
          const real = (heldBytes() - before) / N;
          const c1 = counted();
          const per = (c1.bytes - c0.bytes) / (c1.size - c0.size);
          rows.push([
            `${size} B${hit ? ', hit once' : ''}`,
            c1.size - c0.size,
            Math.round(real),
            Math.round(per),
            (per / real).toFixed(2),
            per >= real ? 'met' : 'NOT met',
          ]);
        });
    printTable('Per-entry cost: what the process holds vs what edge.cache.memoryBytes counts', rows);

    const floodRows: Array<Array<string | number>> = [
      ['prefetch.follow', 'entries held', 'counted', 'process growth', 'growth ÷ memoryBytes', 'goal ≤ 1.0'],
    ];
    // Three times what the tier counts room for: the flood's size is set by the first edge's
    // warm-up, what the tier counted (entryCost) per 100-byte entry, the same for both rows.
    let requests = 0;
    for (const follow of [false, true])
      await withEdge(
        o.url,
        FLOOD_BYTES,
        async (get, counted) => {
          await flood(get, 500, 'warm', 100);
          const warm = counted();
          if (requests === 0) requests = 3 * Math.ceil(FLOOD_BYTES / (warm.bytes / warm.size));
          const before = heldBytes();
          await flood(get, requests, 'flood', 100);
          const grown = heldBytes() - before;
          const c = counted();
          floodRows.push([
            follow
              ? 'on (the default; its model is bounded by prefetch.model.maxKeys)'
              : 'off (the tier alone)',
            c.size,
            `${(c.bytes / MiB).toFixed(1)} MiB`,
            `${(grown / MiB).toFixed(1)} MiB`,
            (grown / FLOOD_BYTES).toFixed(2),
            follow ? '—' : grown <= FLOOD_BYTES ? 'met' : 'NOT met',
          ]);
        },
        follow,
      );
    printTable(
      `Flood of unique 100-byte objects (${requests} requests) into memoryBytes = ${FLOOD_BYTES / MiB} MiB`,
      floodRows,
    );
  } finally {
    o.server.close();
  }
}
