/**
 * A real origin on 127.0.0.1:0 for upload tests, over the fs driver or the S3 driver against
 * s3rver, with its log lines captured so tests can check what was logged (and what was not).
 */
import { readdir, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { pino } from 'pino';
import { buildOrigin } from '../../src/app.js';
import { LiveConfig } from '../../src/config/live.js';
import { buildConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { closeGracefully } from '../../src/server.js';
import { FsDriver } from '../../src/storage/fs.js';
import { S3Driver } from '../../src/storage/s3.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { tempDir } from '../helpers/origin.js';
import { type RunningS3rver, startS3rver, TEST_CREDENTIALS } from '../helpers/s3rver.js';

export const API_KEY = 'test-api-key-0123456789abcdef';
export const SECRET = { id: 'k1', secret: 'a'.repeat(16) + 'b'.repeat(16) + 'c'.repeat(8) };

export type DriverKind = 'fs' | 's3';

export interface UploadOrigin {
  app: FastifyInstance;
  url: string;
  store: LiveConfig;
  storage: StorageDriver;
  logs: Array<Record<string, unknown>>;
  /** Temp files or multipart uploads left by failed writes. */
  leftovers(): Promise<number>;
  /** The s3rver behind the s3 driver. */
  s3rver?: RunningS3rver | undefined;
  dataDir: string;
  close(): Promise<void>;
}

export async function startUploadOrigin(
  kind: DriverKind,
  uploads: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
  fastifyOptions: Record<string, unknown> = {},
): Promise<UploadOrigin> {
  const dataDir = await tempDir('edgewise-up-');
  let s3rver: RunningS3rver | undefined;
  let storage: StorageDriver;
  let leftovers: () => Promise<number>;
  if (kind === 's3') {
    s3rver = await startS3rver();
    const running = s3rver;
    storage = new S3Driver({
      bucket: running.bucket,
      region: 'us-east-1',
      endpoint: running.endpoint,
      forcePathStyle: true,
      checksumMode: 'WHEN_REQUIRED',
      partSizeBytes: 5 * 1024 * 1024,
      queueSize: 2,
      credentials: TEST_CREDENTIALS,
    });
    leftovers = async () => (await running.pendingUploads()).length;
  } else {
    storage = new FsDriver({ dataDir });
    leftovers = async () => (await readdir(join(dataDir, 'tmp')).catch(() => [])).length;
  }
  const config = buildConfig(
    {
      ...extra,
      // Client, origin and s3rver share one event loop here, so streaming saturates it; load
      // shedding would turn that into 503s that say nothing about uploads.
      server: {
        ...(extra.server as object | undefined),
        overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 },
      },
      storage: { driver: 'fs', fs: { dataDir } },
      uploads: { apiKeys: [API_KEY], signing: { secrets: [SECRET] }, ...uploads },
    },
    undefined,
  );
  const store = new LiveConfig(config);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', pretty: false }, sink as unknown as pino.DestinationStream);
  const app = await buildOrigin({ config: store, storage, logger, fastify: fastifyOptions });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    store,
    storage,
    logs,
    leftovers,
    s3rver,
    dataDir,
    async close() {
      // As a deploy closes it (reaping connections that go idle while it drains): a bare
      // app.close() waits out the keep-alive timeout of any response that ended meanwhile.
      await closeGracefully(app, logger, 10_000);
      await s3rver?.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it is true (bounded: 200 × 25 ms); for effects that follow a socket close. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface Held {
  socket: Socket;
  /** Resolves with what the server wrote once it closes the connection. */
  closed: Promise<{ status: number; json: Record<string, unknown> | undefined }>;
  /** Stops trickling (the socket stays open). */
  stopTrickle(): void;
}

/**
 * A PUT (or `method`) on a raw socket that declares `length` bytes, sends `first` at once, then (optionally)
 * one byte every `trickleMs`: the abusive client of the issue.
 */
export function heldPut(
  base: string,
  path: string,
  o: { length: number; first: Buffer; trickleMs?: number; headers?: Record<string, string>; method?: string },
): Held {
  const u = new URL(base);
  const socket = connect(Number(u.port), u.hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const head = {
    host: u.host,
    'content-type': 'application/octet-stream',
    'content-length': String(o.length),
    ...(o.headers ?? { 'x-api-key': API_KEY }),
  };
  socket.write(
    `${o.method ?? 'PUT'} ${path} HTTP/1.1\r\n${Object.entries(head)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
  );
  socket.write(o.first);
  let sent = o.first.length;
  const timer = o.trickleMs
    ? setInterval(() => {
        if (sent < o.length - 1 && socket.writable) {
          socket.write('x');
          sent++;
        }
      }, o.trickleMs)
    : undefined;
  const closed = new Promise<{ status: number; json: Record<string, unknown> | undefined }>((resolve) => {
    socket.on('close', () => {
      if (timer) clearInterval(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const status = Number(raw.split(' ')[1] ?? 0);
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      let json: Record<string, unknown> | undefined;
      try {
        // A chunked answer (the edge streams what the origin sends): the JSON inside the framing.
        json = JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1)) as Record<
          string,
          unknown
        >;
      } catch {
        json = undefined;
      }
      resolve({ status, json });
    });
  });
  return { socket, closed, stopTrickle: () => timer && clearInterval(timer) };
}
