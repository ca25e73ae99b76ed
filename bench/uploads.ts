/**
 * `npm run bench uploads`: upload throughput and origin memory.
 *
 *   1. 100 MiB and 1 GiB streamed through PUT /uploads to the fs driver and to the s3 driver
 *      (s3rver), against the same bytes written directly in this process (fs: pipeline to a
 *      file then fsync, as the driver does; s3: lib-storage Upload with the same part size and
 *      queue). Ratio = origin throughput / direct throughput (target ≥ 0.8).
 *   2. Peak RSS growth of the origin process (a child, sampled from /proc every 20 ms) during
 *      each upload (target ≤ 64 MiB and flat across sizes).
 *   3. 32 concurrent 20 MiB multipart uploads (POST /uploads, fs driver): all must succeed with
 *      the SHA-256 the client computed, read back from storage; RSS growth vs the bound.
 *   4. Resumable uploads over a lossy mobile link (bench/uploads-resumable.ts): a 200 MiB file
 *      in parts vs one streamed PUT, cuts, bytes sent twice, what the origin carries with s3.
 * EDGEWISE_BENCH_UPLOADS=streamed|resumable runs one half (default both).
 * Bounded: EDGEWISE_BENCH_UPLOAD_MAX_MIB (default 1024) caps the large size, each request has
 * a 180 s deadline, and repetitions are fixed (3 for 100 MiB, 2 for 1 GiB).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { request } from 'undici';
import { startS3rver, TEST_CREDENTIALS } from '../test/helpers/s3rver.js';
import { median, mib, printTable } from './lib.js';
import { runResumable } from './uploads-resumable.js';

const MiB = 1024 * 1024;
const API_KEY = 'bench-api-key-0123456789abcdef';
const PART = 8 * MiB;
const QUEUE = 4;
const DEADLINE_MS = 180_000;
const CHUNK = randomBytes(MiB);

/** `size` bytes as 1 MiB chunks of one random buffer: no CPU spent generating data. */
function body(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const n = Math.min(left, CHUNK.length);
      left -= n;
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    },
  });
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** Runs `work` while sampling the child's RSS; returns its duration and peak growth. */
async function measured<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ ms: number; growth: number; out: T }> {
  const base = await rssOf(pid);
  let peak = base;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rssOf(pid).catch(() => peak));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const t = performance.now();
  try {
    const out = await work();
    return { ms: performance.now() - t, growth: peak - base, out };
  } finally {
    sampling = false;
    await sampler;
  }
}

interface Origin {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startOriginChild(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<Origin> {
  const script = fileURLToPath(new URL('./upload-origin.js', import.meta.url));
  const child = spawn(process.execPath, [script, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      const line = buf.split('\n')[0];
      if (buf.includes('\n') && line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`origin exited with ${code}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

async function putThroughOrigin(o: Origin, key: string, size: number): Promise<void> {
  const res = await request(`${o.url}/uploads/${key}`, {
    method: 'PUT',
    body: body(size),
    headers: {
      authorization: `Bearer ${API_KEY}`,
      'content-type': 'application/octet-stream',
      'content-length': String(size),
    },
    headersTimeout: DEADLINE_MS,
    bodyTimeout: DEADLINE_MS,
  });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${text}`);
}

function originConfig(dataDir: string, storage: Record<string, unknown>) {
  return {
    server: { host: '127.0.0.1', port: 0, overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 } },
    storage: { driver: 'fs', fs: { dataDir }, ...storage },
    uploads: {
      apiKeys: [API_KEY],
      maxConcurrent: 64,
      precompress: { enabled: false },
      // Signs the fs driver's part URLs (the resumable protocol).
      signing: { secrets: [{ id: 'bench', secret: 'b'.repeat(64) }] },
    },
  };
}

export async function run(): Promise<void> {
  // EDGEWISE_BENCH_UPLOADS: streamed, resumable, or both (the default).
  const which = process.env.EDGEWISE_BENCH_UPLOADS ?? 'both';
  if (which !== 'resumable') await runStreamed();
  if (which !== 'streamed') {
    const work = await mkdtemp(join(tmpdir(), 'edgewise-bench-up-'));
    try {
      await runResumable(
        (driver, s3) =>
          driver === 'fs'
            ? startOriginChild(originConfig(join(work, 'origin-fs'), {}))
            : startOriginChild(
                originConfig(join(work, 'origin-s3'), {
                  driver: 's3',
                  s3: {
                    bucket: s3!.bucket,
                    endpoint: s3!.endpoint,
                    forcePathStyle: true,
                    checksumMode: 'WHEN_REQUIRED',
                  },
                }),
                {
                  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
                  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
                },
              ),
        API_KEY,
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}

async function runStreamed(): Promise<void> {
  const maxMib = Number(process.env.EDGEWISE_BENCH_UPLOAD_MAX_MIB ?? 1024);
  const sizes = [Math.min(100, maxMib), maxMib].filter((v, i, a) => a.indexOf(v) === i);
  const reps = (size: number) => (size <= 100 ? 3 : 2);
  const work = await mkdtemp(join(tmpdir(), 'edgewise-bench-up-'));
  const s3 = await startS3rver();
  const s3Storage = {
    driver: 's3',
    s3: {
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      partSizeBytes: PART,
      queueSize: QUEUE,
    },
  };
  const s3Env = {
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  };
  const fsOrigin = await startOriginChild(originConfig(join(work, 'origin-fs'), {}));
  const s3Origin = await startOriginChild(originConfig(join(work, 'origin-s3'), s3Storage), s3Env);
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  // Warm-up: the first request compiles routes, loads lazy modules and grows V8's heap once;
  // that is start-up cost, not upload memory.
  for (const o of [fsOrigin, s3Origin])
    for (let i = 0; i < 3; i++) await putThroughOrigin(o, `warmup/${i}.bin`, 6 * MiB);
  const rows: Array<Array<string | number>> = [
    ['case', 'size', 'direct MiB/s', 'origin MiB/s', 'ratio', 'origin RSS growth'],
  ];
  try {
    for (const sizeMib of sizes) {
      const size = sizeMib * MiB;
      const result = {
        fsDirect: [] as number[],
        fsOrigin: [] as number[],
        s3Direct: [] as number[],
        s3Origin: [] as number[],
      };
      const growth = { fs: [] as number[], s3: [] as number[] };
      for (let i = 0; i < reps(sizeMib); i++) {
        const t0 = performance.now();
        const file = join(work, `direct-${i}.bin`);
        await pipeline(body(size), createWriteStream(file));
        const fh = await open(file, 'r+');
        await fh.sync();
        await fh.close();
        result.fsDirect.push(size / MiB / ((performance.now() - t0) / 1000));
        await rm(file);

        const f = await measured(fsOrigin.child.pid!, () =>
          putThroughOrigin(fsOrigin, `bench/fs-${sizeMib}-${i}.bin`, size),
        );
        result.fsOrigin.push(size / MiB / (f.ms / 1000));
        growth.fs.push(f.growth);

        const t1 = performance.now();
        await new Upload({
          client,
          partSize: PART,
          queueSize: QUEUE,
          params: { Bucket: s3.bucket, Key: `direct/${sizeMib}-${i}.bin`, Body: body(size) },
        }).done();
        result.s3Direct.push(size / MiB / ((performance.now() - t1) / 1000));

        const s = await measured(s3Origin.child.pid!, () =>
          putThroughOrigin(s3Origin, `bench/s3-${sizeMib}-${i}.bin`, size),
        );
        result.s3Origin.push(size / MiB / (s.ms / 1000));
        growth.s3.push(s.growth);
      }
      const fsD = median(result.fsDirect);
      const fsO = median(result.fsOrigin);
      const s3D = median(result.s3Direct);
      const s3O = median(result.s3Origin);
      rows.push([
        `PUT fs (n=${reps(sizeMib)})`,
        `${sizeMib} MiB`,
        fsD,
        fsO,
        (fsO / fsD).toFixed(2),
        mib(Math.max(...growth.fs)),
      ]);
      rows.push([
        `PUT s3 (n=${reps(sizeMib)})`,
        `${sizeMib} MiB`,
        s3D,
        s3O,
        (s3O / s3D).toFixed(2),
        mib(Math.max(...growth.s3)),
      ]);
    }
    printTable('Streamed PUT /uploads vs direct writes (medians; RSS growth = worst run)', rows);

    // 32 concurrent 20 MiB multipart uploads through the fs origin.
    const n = 32;
    const each = 20 * MiB;
    // Distinct bodies without 640 MiB of buffers: chunk 0 is tagged with the index, the rest share CHUNK.
    const chunksOf = (i: number): Buffer[] => {
      const first = Buffer.from(CHUNK);
      first.writeUInt32BE(i, 0);
      return [first, ...Array.from({ length: each / MiB - 1 }, () => CHUNK)];
    };
    const expected = Array.from({ length: n }, (_, i) => {
      const h = createHash('sha256');
      for (const c of chunksOf(i)) h.update(c);
      return h.digest('hex');
    });
    const concurrent = await measured(fsOrigin.child.pid!, async () =>
      Promise.all(
        Array.from({ length: n }, async (_, i) => {
          // A hand-streamed multipart body, as a browser sends it; undici's FormData would
          // serialise the Blob slowly enough to measure the client instead of the origin.
          const boundary = `edgewiseBench${i}x${randomBytes(8).toString('hex')}`;
          async function* form() {
            yield Buffer.from(
              `--${boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\nbench/multi/${i}.bin\r\n` +
                `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${i}.bin"\r\n` +
                'Content-Type: application/octet-stream\r\n\r\n',
            );
            yield* chunksOf(i);
            yield Buffer.from(`\r\n--${boundary}--\r\n`);
          }
          const res = await request(`${fsOrigin.url}/uploads`, {
            method: 'POST',
            body: Readable.from(form()),
            headers: {
              authorization: `Bearer ${API_KEY}`,
              'content-type': `multipart/form-data; boundary=${boundary}`,
            },
            headersTimeout: DEADLINE_MS,
            bodyTimeout: DEADLINE_MS,
          });
          const json = (await res.body.json()) as { sha256?: string };
          return { status: res.statusCode, sha256: json.sha256 };
        }),
      ),
    );
    let ok = 0;
    for (const [i, r] of concurrent.out.entries()) {
      const want = expected[i];
      const back = await request(`${fsOrigin.url}/bench/multi/${i}.bin`);
      const got = createHash('sha256')
        .update(Buffer.from(await back.body.arrayBuffer()))
        .digest('hex');
      if (r.status === 201 && r.sha256 === want && got === want) ok++;
    }
    // fs driver per upload: the write stream's 1 MiB buffer + 64 KiB meter + socket and busboy
    // buffers (~64 KiB each): about 1.25 MiB, × 32 uploads = 40 MiB, plus 24 MiB of V8 slack.
    const bound = 64 * MiB;
    printTable('32 concurrent 20 MiB multipart uploads (fs driver)', [
      [
        'uploads',
        'succeeded, SHA-256 verified',
        'wall time',
        'aggregate MiB/s',
        'origin RSS growth',
        'bound (32 × 1.25 MiB + 24 MiB)',
      ],
      [
        n,
        `${ok}/${n}`,
        `${(concurrent.ms / 1000).toFixed(1)} s`,
        (n * each) / MiB / (concurrent.ms / 1000),
        mib(concurrent.growth),
        mib(bound),
      ],
    ]);
  } finally {
    client.destroy();
    await fsOrigin.stop();
    await s3Origin.stop();
    await s3.close();
    await rm(work, { recursive: true, force: true });
  }
}
