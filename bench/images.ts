/**
 * `npm run bench images`: image variants, in one run.
 *
 *  1. Cold variant generation through HTTP (the real `edgewise serve` in a child process: source
 *     HEAD, sniff, queue, read from disk, transform, store, serve) against sharp called in this
 *     process on the same bytes with exactly the route's pipeline (src/images/transform.ts).
 *     Sources: generated photo-like JPEG and PNG of 1, 4 and 12 MP. Runs alternate so drift
 *     hits both; the variant is deleted between HTTP runs so each one is cold.
 *  2. Warm requests (stored variant) against the same bytes served as a plain object through
 *     the same origin, and against the original source: autocannon, keep-alive.
 *  3. AVIF and WebP effort settings: bytes and ms per variant, to choose the defaults.
 *
 * Bounded: a fixed number of runs per case, fixed-duration load runs; about two minutes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { request } from 'undici';
import { buildConfig } from '../src/config/load.js';
import type { ImagesConfig } from '../src/config/sections/images.js';
import { parseImageParams } from '../src/images/params.js';
import { pipelineFor, probe } from '../src/images/transform.js';
import { imageVariantPrefix, type VariantSpec } from '../src/images/variant-key.js';
import { FsDriver } from '../src/storage/fs.js';
import { fmt, median, printTable } from './lib.js';

const COLD_RUNS = Number(process.env.BENCH_IMAGES_RUNS ?? 7);
const WARM_SECONDS = Number(process.env.BENCH_IMAGES_WARM_SECONDS ?? 1.5);
const WARM_ROUNDS = 6;
const CONNECTIONS = 16;
const CLI = join(import.meta.dirname, '..', 'src', 'cli.js');

const SOURCES = [
  { mp: 1, width: 1152, height: 864 },
  { mp: 4, width: 2304, height: 1728 },
  { mp: 12, width: 4000, height: 3000 },
];
/** What a product page asks for most: a mid breakpoint, WebP, default quality. */
const COLD_QUERY = 'w=640&fmt=webp';
/** A large AVIF: where the transform, not the fixed I/O, dominates. */
const HEAVY_QUERY = 'w=1920&fmt=avif';

/** Smooth gradients and waves plus grain: photo-like for the encoders (pure noise is not). */
function photoPixels(width: number, height: number): Buffer {
  const raw = Buffer.alloc(width * height * 3);
  let seed = 0x2545f491;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const grain = ((seed >>> 16) & 7) - 4;
      const o = (y * width + x) * 3;
      const texture = 20 * Math.sin(x / 7) * Math.cos(y / 11);
      raw[o] = Math.max(0, Math.min(255, (x / width) * 200 + texture + grain));
      raw[o + 1] = Math.max(0, Math.min(255, (y / height) * 200 - texture + grain));
      raw[o + 2] = Math.max(0, Math.min(255, 128 + 100 * Math.sin((x + 2 * y) / 97) + grain));
    }
  return raw;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startServe(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const file = join(dir, 'edgewise.yaml');
  await writeFile(
    file,
    `server:\n  host: 127.0.0.1\n  port: ${port}\nstorage:\n  driver: fs\n  fs:\n    dataDir: ${JSON.stringify(join(dir, 'data'))}\nlogging:\n  level: warn\n`,
  );
  const child = spawn(process.execPath, [CLI, 'serve', '--config', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      const r = await request(`${url}/healthz`);
      await r.body.dump();
      if (r.statusCode === 200) return { url, child };
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('edgewise serve did not start');
}

async function timedGet(url: string): Promise<{ ms: number; bytes: number }> {
  const t = performance.now();
  const r = await request(url);
  const body = Buffer.from(await r.body.arrayBuffer());
  const ms = performance.now() - t;
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${body.toString().slice(0, 200)}`);
  return { ms, bytes: body.length };
}

async function directTransform(input: Buffer, spec: VariantSpec, limits: ImagesConfig) {
  const t = performance.now();
  const meta = await probe(input, limits);
  const { img } = pipelineFor(input, meta, spec, limits);
  const data = await img.toBuffer();
  return { ms: performance.now() - t, bytes: data.length };
}

/** The storage work the HTTP path adds to the transform: read the source, store the variant. */
async function storageWork(storage: FsDriver, key: string, variantBytes: number): Promise<number> {
  const t = performance.now();
  const got = await storage.get(key);
  if (!got) throw new Error(`missing ${key}`);
  for await (const _ of got.body);
  await storage.put('bench/io-probe', Readable.from([Buffer.alloc(variantBytes)]), {
    contentType: 'image/webp',
  });
  return performance.now() - t;
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function statusOf(url: string): Promise<number> {
  const r = await request(url);
  await r.body.dump();
  return r.statusCode;
}

async function clearVariants(storage: FsDriver, key: string): Promise<void> {
  for await (const m of storage.list(imageVariantPrefix(key))) await storage.delete(m.key);
}

/** The server's user+system CPU time in ms (Linux /proc; clock ticks at the usual 100 Hz). */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

interface LoadResult {
  rps: number;
  p50: number;
  /** Server CPU per request: unlike req/s, barely affected by other processes on the machine. */
  cpuUs: number;
}

async function load(url: string, pid: number, seconds = WARM_SECONDS): Promise<LoadResult> {
  const cpu0 = cpuMs(pid);
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, pipelining: 1 });
  const cpu = cpuMs(pid) - cpu0;
  if (r.non2xx + r.errors > 0) throw new Error(`${r.non2xx + r.errors} failed responses from ${url}`);
  return { rps: r.requests.average, p50: r.latency.p50, cpuUs: (cpu * 1000) / r.requests.total };
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-bench-images-'));
  const storage = new FsDriver({ dataDir: join(dir, 'data') });
  const images = buildConfig({}, undefined).config.images;
  // As the origin does (src/routes/images.ts): otherwise repeated direct runs on one buffer
  // would hit libvips' operation cache and flatter the baseline.
  sharp.cache(false);
  let server: { url: string; child: ChildProcess } | undefined;
  try {
    process.stdout.write('generating 1/4/12 MP JPEG and PNG sources…\n');
    const sources: Array<{ name: string; key: string; bytes: Buffer }> = [];
    for (const s of SOURCES) {
      const img = sharp(photoPixels(s.width, s.height), {
        raw: { width: s.width, height: s.height, channels: 3 },
      });
      const jpeg = await img.clone().jpeg({ quality: 85 }).toBuffer();
      const png = await img.clone().png().toBuffer();
      sources.push({ name: `${s.mp} MP JPEG`, key: `bench/${s.mp}mp.jpg`, bytes: jpeg });
      sources.push({ name: `${s.mp} MP PNG`, key: `bench/${s.mp}mp.png`, bytes: png });
    }
    for (const s of sources)
      await storage.put(s.key, Readable.from([s.bytes]), {
        contentType: s.key.endsWith('.png') ? 'image/png' : 'image/jpeg',
      });
    server = await startServe(dir);
    const base = server.url;

    // 1. Cold generation: a light variant on every source, then a heavy one on the largest.
    const cold = async (query: string, which: typeof sources, runs: number) => {
      const params = parseImageParams(query, images);
      const spec: VariantSpec = { ...params, fmt: params.fmt === 'auto' ? 'auto' : params.fmt };
      const rows: Array<Array<string | number>> = [
        ['source', 'source size', 'HTTP cold ms', 'sharp direct ms', 'overhead', 'of which storage I/O ms'],
      ];
      for (const s of which) {
        const http: number[] = [];
        const direct: number[] = [];
        const io: number[] = [];
        await timedGet(`${base}/img/${s.key}?${query}`); // warm-up: first sharp use, disk cache
        await directTransform(s.bytes, spec, images);
        for (let i = 0; i < runs; i++) {
          await clearVariants(storage, s.key);
          http.push((await timedGet(`${base}/img/${s.key}?${query}`)).ms);
          const out = await directTransform(s.bytes, spec, images);
          direct.push(out.ms);
          io.push(await storageWork(storage, s.key, out.bytes));
        }
        const h = median(http);
        const d = median(direct);
        rows.push([
          s.name,
          `${fmt(s.bytes.length / 1048576, 1)} MiB`,
          h,
          d,
          `${fmt(((h - d) / d) * 100, 1)}%`,
          median(io),
        ]);
      }
      printTable(
        `Cold variant (${query}), median of ${runs} runs, HTTP and direct alternating. ` +
          'Storage I/O = reading the source and storing a variant of that size with the same fs driver, timed here.',
        rows,
      );
    };
    await cold(COLD_QUERY, sources, COLD_RUNS);
    await cold(
      HEAVY_QUERY,
      sources.filter((s) => s.name.startsWith('12 MP')),
      3,
    );

    // 2. Warm: the stored variant vs the same bytes as a plain object vs the original source.
    const warmKey = 'bench/1mp.jpg';
    const variantUrl = `${base}/img/${warmKey}?${COLD_QUERY}`;
    const variantBytes = Buffer.from(await (await request(variantUrl)).body.arrayBuffer());
    await storage.put('static/variant-copy.webp', Readable.from([variantBytes]), {
      contentType: 'image/webp',
    });
    const plainUrl = `${base}/static/variant-copy.webp`;
    const sourceUrl = `${base}/${warmKey}`;
    const runs: Record<'variant' | 'plain' | 'source', LoadResult[]> = {
      variant: [],
      plain: [],
      source: [],
    };
    const urls = { variant: variantUrl, plain: plainUrl, source: sourceUrl };
    for (const u of Object.values(urls)) await load(u, server.child.pid!, 1); // JIT and caches warm for all three
    for (let round = 0; round < WARM_ROUNDS; round++) {
      // Alternate the order so drift and neighbours' load hit every case alike.
      const order = ['variant', 'plain', 'source'] as const;
      for (const k of round % 2 === 1 ? [...order].reverse() : order)
        runs[k].push(await load(urls[k], server.child.pid!));
    }
    const rps = (k: keyof typeof runs) => median(runs[k].map((r) => r.rps));
    const p50 = (k: keyof typeof runs) => median(runs[k].map((r) => r.p50));
    const cpu = (k: keyof typeof runs) => median(runs[k].map((r) => r.cpuUs));
    const row = (label: string, k: keyof typeof runs, bytes: number) => [
      label,
      bytes,
      rps(k),
      p50(k),
      fmt(rps('variant') / rps(k)),
      cpu(k),
      fmt(cpu(k) / cpu('variant')),
    ];
    printTable(
      `Warm requests, ${CONNECTIONS} connections, ${WARM_SECONDS} s × ${WARM_ROUNDS} rounds, alternating (medians). ` +
        'Ratios are the variant against each row: req/s ratio, and CPU ratio = row CPU per request / variant CPU per request (≥ 0.9 is the target).',
      [
        ['what', 'bytes', 'req/s', 'p50 ms', 'req/s ratio', 'server CPU µs/req', 'CPU ratio'],
        row('stored variant /img/1mp.jpg?w=640&fmt=webp', 'variant', variantBytes.length),
        row('same bytes as a plain object', 'plain', variantBytes.length),
        row('original source (1 MP JPEG)', 'source', sources[0]!.bytes.length),
      ],
    );

    // 2b. Hostile input and overload: status counts and the server's RSS (Linux /proc).
    const pid = server.child.pid!;
    const bomb = Buffer.from(
      await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
        .png()
        .toBuffer(),
    );
    bomb.writeUInt32BE(100_000, 16);
    bomb.writeUInt32BE(100_000, 20);
    bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
    const big = sources.find((s) => s.name === '12 MP JPEG')!.bytes;
    const hostile: Array<[string, Buffer]> = [
      ['bench/bomb.png', bomb],
      ['bench/truncated.jpg', big.subarray(0, big.length >> 1)],
      ['bench/text.jpg', Buffer.from('not an image\n'.repeat(100))],
    ];
    for (const [key, body] of hostile)
      await storage.put(key, Readable.from([body]), { contentType: 'image/jpeg' });
    const rss0 = rssMiB(pid);
    let peak = rss0;
    const poll = setInterval(() => {
      peak = Math.max(peak, rssMiB(pid));
    }, 50);
    const statuses = new Map<number, number>();
    const count = (code: number) => statuses.set(code, (statuses.get(code) ?? 0) + 1);
    try {
      const hostileUrls = hostile.flatMap(([key]) =>
        images.widths.map((w) => `${base}/img/${key}?w=${w}&fmt=webp`),
      );
      for (let i = 0; i < hostileUrls.length; i += 16)
        await Promise.all(hostileUrls.slice(i, i + 16).map(async (u) => count(await statusOf(u))));
      // Overload: every width × format of the 12 MP PNG at once (more than concurrency + queue).
      const burst = images.widths.flatMap((w) =>
        ['webp', 'avif', 'jpeg'].map((f) => `${base}/img/bench/12mp.png?w=${w}&fmt=${f}`),
      );
      await Promise.all(burst.map(async (u) => count(await statusOf(u))));
    } finally {
      clearInterval(poll);
    }
    const rss1 = rssMiB(pid);
    printTable('Hostile input and overload against the server (statuses; RSS of the server process)', [
      ['what', 'value'],
      ['requests: 48 hostile (bomb, truncated, non-image) + 48 concurrent 12 MP PNG variants', 96],
      ...[...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([code, n]) => [`HTTP ${code}`, n]),
      ['RSS before (MiB)', rss0],
      ['RSS peak (MiB)', peak],
      ['RSS after (MiB)', rss1],
    ]);

    // 3. Encoder settings: bytes and ms per variant on the 4 MP JPEG at w=1080, q=75.
    const src = sources.find((s) => s.name === '4 MP JPEG')!.bytes;
    const tradeRows: Array<Array<string | number>> = [
      ['format', 'effort', 'bytes', 'ms (p50 of 3)', 'bytes vs JPEG', 'ms vs JPEG'],
    ];
    const measure = async (fmtName: 'avif' | 'webp' | 'jpeg', effort: number) => {
      const limits = { ...images, avif: { ...images.avif, effort }, webp: { ...images.webp, effort } };
      const s2: VariantSpec = { w: 1080, h: undefined, fit: 'cover', q: 75, fmt: fmtName };
      const r: Array<{ ms: number; bytes: number }> = [];
      for (let i = 0; i < 3; i++) r.push(await directTransform(src, s2, limits));
      return { ms: median(r.map((x) => x.ms)), bytes: r[0]!.bytes };
    };
    const jpeg = await measure('jpeg', 0);
    tradeRows.push(['jpeg', '-', jpeg.bytes, jpeg.ms, '1.00', '1.00']);
    for (const [f, efforts] of [
      ['webp', [0, 2, 4, 6]],
      ['avif', [0, 1, 2, 3, 4]],
    ] as const) {
      for (const e of efforts) {
        const m = await measure(f, e);
        const isDefault = e === images[f].effort ? ' (default)' : '';
        tradeRows.push([
          f,
          `${e}${isDefault}`,
          m.bytes,
          m.ms,
          fmt(m.bytes / jpeg.bytes),
          fmt(m.ms / jpeg.ms),
        ]);
      }
    }
    printTable(
      `Encoder trade-off: 4 MP JPEG → w=1080, q=75 (AVIF encoded at q × ${images.avif.qualityScale}), sharp direct, as the route encodes`,
      tradeRows,
    );
  } finally {
    server?.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
