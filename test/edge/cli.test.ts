/**
 * `edgewise edge` as a real process (the built CLI): listens where the config says, caches in
 * front of origin.url, publishes its access log and exits 0 on SIGTERM; a bad edge config exits 2.
 */
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { type CountingOrigin, startCountingOrigin } from './helpers.js';

let origin: CountingOrigin;
let dir: string;

beforeAll(async () => {
  origin = await startCountingOrigin();
  dir = await mkdtemp(join(tmpdir(), 'edgewise-edge-cli-'));
  origin.route('/static/a.txt', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end('from origin');
  });
});
afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

describe('edgewise edge', () => {
  it('serves and caches in front of origin.url, and exits 0 on SIGTERM with its log published', async () => {
    const edge = startCli(['edge'], {
      cwd: dir,
      env: {
        EDGEWISE__EDGE__PORT: '0',
        EDGEWISE__ORIGIN__URL: origin.url,
        EDGEWISE__ORIGIN__PROTOCOL: 'http1.1',
      },
    });
    try {
      const line = await edge.waitFor((l) => l.includes('edge listening'));
      const url = (JSON.parse(line) as { url: string }).url;
      const first = await request(`${url}/static/a.txt`);
      expect(await first.body.text()).toBe('from origin');
      const second = await request(`${url}/static/a.txt`);
      await second.body.dump();
      expect(second.headers['x-cache']).toBe('Hit from edgewise');
      expect(origin.count('/static/a.txt')).toBe(1);
    } finally {
      expect(await edge.stop('SIGTERM')).toBe(0);
    }
    const logs = readdirSync(join(dir, 'data', 'logs', 'edge'));
    expect(logs.some((f) => /^EDGEWISE[A-Z]*\.\d{4}-\d{2}-\d{2}-\d{2}\.[0-9A-F]+\.gz$/.test(f))).toBe(true);
  });

  it('exits 2 with the option path when the edge config is invalid', async () => {
    const r = await runCli(['edge'], {
      cwd: dir,
      env: { EDGEWISE__EDGE__TARGETS: '{api_responses: nowhere}' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('edge.targets.api_responses');
  });
});
