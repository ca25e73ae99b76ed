/**
 * `npm run bench cloudfront`: cost per request of running the built viewer-request function
 * and of verifying a signed URL. Baseline, measured in the same run: compiling the function
 * source for every request (what a naive emulator does). Each case runs 5 rounds bounded by
 * both an iteration count and 1 s; medians of the rounds are reported.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext, Script } from 'node:vm';
import { buildFunctions } from '../src/cloudfront/build.js';
import { requestEvent } from '../src/cloudfront/events.js';
import { ensureDevSigningKeys } from '../src/cloudfront/keys.js';
import { loadViewerFunction } from '../src/cloudfront/runtime.js';
import { signViewerUrl } from '../src/cloudfront/signer.js';
import { verifySignedRequest } from '../src/cloudfront/verifier.js';
import { buildConfig } from '../src/config/index.js';
import { median, printTable } from './lib.js';

const ROUNDS = 5;
const ROUND_MS = 1000;

async function perOpMicros(maxOps: number, op: () => unknown): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    let n = 0;
    while (n < maxOps && performance.now() - start < ROUND_MS) {
      await op();
      n++;
    }
    rounds.push(((performance.now() - start) * 1000) / n);
  }
  return median(rounds);
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgewise-bench-cf-'));
  try {
    const keys = ensureDevSigningKeys(dir);
    const { config } = buildConfig(
      { cloudfront: { signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile } } },
      undefined,
    );
    const code = buildFunctions(config).viewerRequest.code;
    const event = () =>
      requestEvent({
        method: 'GET',
        url: '/img/p/shoe.jpg?w=500&q=80&utm_source=x&fmt=auto',
        headers: { host: 'cdn.example.com', accept: 'image/avif,image/webp,*/*' },
        clientIp: '198.51.100.11',
      });

    const baseline = await perOpMicros(2000, () => {
      const sandbox: Record<string, unknown> = { require: () => ({}) };
      const ctx = createContext(sandbox);
      new Script(code).runInContext(ctx);
      return (sandbox.handler as (e: unknown) => Promise<unknown>)(event());
    });
    const fn = loadViewerFunction(code);
    const emulator = await perOpMicros(200_000, () => fn.run(event()));
    const timed = loadViewerFunction(code, { timeoutMs: 50 });
    const watchdog = await perOpMicros(20_000, () => timed.run(event()));

    const signed = signViewerUrl(config, '/u/a.jpg');
    const verify = await perOpMicros(50_000, () =>
      verifySignedRequest(config, { url: signed, clientIp: '1.2.3.4' }),
    );
    const sign = await perOpMicros(5_000, () => signViewerUrl(config, '/u/a.jpg'));

    printTable('viewer-request per request (median of 5 rounds, µs/op; ratio = baseline / case)', [
      ['case', 'µs/op', 'speed-up'],
      ['baseline: compile per request', baseline, '1.00'],
      ['loadViewerFunction().run (compile once)', emulator, (baseline / emulator).toFixed(1)],
      ['same with timeoutMs: 50 (vm watchdog)', watchdog, (baseline / watchdog).toFixed(1)],
    ]);
    printTable('signed URLs (RSA-2048, SHA1; µs/op)', [
      ['case', 'µs/op', 'ratio to sign'],
      ['signViewerUrl (canned)', sign, '1.00'],
      ['verifySignedRequest (canned)', verify, (sign / verify).toFixed(1)],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
