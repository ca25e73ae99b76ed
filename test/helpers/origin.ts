/**
 * Starts a real origin on 127.0.0.1:0 over a temp data directory. Config overrides are plain
 * objects validated by the real loader.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildOrigin } from '../../src/app.js';
import { LiveConfig } from '../../src/config/live.js';
import { buildConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { closeGracefully } from '../../src/server.js';
import { FsDriver } from '../../src/storage/fs.js';
import type { StorageDriver } from '../../src/storage/types.js';

export interface TestOrigin {
  app: FastifyInstance;
  url: string;
  store: LiveConfig;
  storage: StorageDriver;
  dataDir: string;
  close(): Promise<void>;
}

export async function tempDir(prefix = 'edgewise-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function startTestOrigin(
  raw: Record<string, unknown> = {},
  opts: { storage?: StorageDriver; fastify?: Record<string, unknown> } = {},
): Promise<TestOrigin> {
  const dataDir = await tempDir();
  const config = buildConfig({ ...raw, storage: { driver: 'fs', fs: { dataDir } } }, undefined);
  const store = new LiveConfig(config);
  const storage = opts.storage ?? new FsDriver({ dataDir });
  const logger = createLogger({ level: process.env.EDGEWISE_TEST_LOG ? 'debug' : 'silent', pretty: false });
  const app = await buildOrigin({
    config: store,
    storage,
    logger,
    ...(opts.fastify ? { fastify: opts.fastify } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    store,
    storage,
    dataDir,
    async close() {
      // As a deploy closes it: connections that go idle while it drains are reaped.
      await closeGracefully(app, logger, 10_000);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
