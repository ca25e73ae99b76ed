/**
 * A self-signed certificate for 127.0.0.1 made with the system openssl, and an origin started
 * through the production path (`startOrigin`) with a given server config.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LiveConfig } from '../../src/config/live.js';
import { buildConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logger.js';
import { type RunningOrigin, startOrigin } from '../../src/server.js';
import { tempDir } from '../helpers/origin.js';

export { makeSelfSigned, type SelfSigned } from '../../src/dev/self-signed.js';

export interface ProdOrigin {
  origin: RunningOrigin;
  store: LiveConfig;
  dir: string;
  close(): Promise<void>;
}

/** Starts an origin from raw config through startOrigin (transport options, timeouts, shutdown). */
export async function startProdOrigin(
  server: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<ProdOrigin> {
  const dir = await tempDir('edgewise-prod-');
  await mkdir(join(dir, 'data'), { recursive: true });
  const loaded = buildConfig(
    {
      ...extra,
      server: { host: '127.0.0.1', port: 0, ...server },
      storage: { driver: 'fs', fs: { dataDir: join(dir, 'data') } },
    },
    undefined,
  );
  const store = new LiveConfig(loaded);
  const logger = createLogger({ level: process.env.EDGEWISE_TEST_LOG ? 'debug' : 'silent', pretty: false });
  const origin = await startOrigin(store, logger, dir);
  return {
    origin,
    store,
    dir,
    async close() {
      await origin.shutdown(2000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
