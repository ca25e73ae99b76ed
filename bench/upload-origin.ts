/**
 * A child process running one origin for the upload benchmark, so its memory is measured
 * apart from the load generator: `node dist/bench/upload-origin.js '<config JSON>'` prints
 * `{"url": …}` once listening and exits when its stdin closes.
 */

import { LiveConfig } from '../src/config/live.js';
import { buildConfig } from '../src/config/load.js';
import { createLogger } from '../src/logger.js';
import { startOrigin } from '../src/server.js';

const raw = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const store = new LiveConfig(buildConfig(raw, undefined));
const origin = await startOrigin(store, createLogger({ level: 'silent', pretty: false }));
process.stdout.write(`${JSON.stringify({ url: origin.url })}\n`);
process.stdin.resume();
process.stdin.on('close', () => {
  void origin.shutdown(2000).then(() => process.exit(0));
});
