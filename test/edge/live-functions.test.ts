/**
 * A config reload reaches the viewer functions of the local edge on the next request (issue 16
 * item 1, first part): a browser-TTL edit changes what browsers are told through the edge, with
 * the class table inline (the edge swaps in rebuilt functions, as a publish would) and with
 * classSource kvs (only the KeyValueStore's contents change, as a KVS update would on CloudFront).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { buildFunctions, writeBuild } from '../../src/cloudfront/build.js';
import { LiveConfig } from '../../src/config/live.js';
import { type RunningEdge, startEdge } from '../../src/edge/server.js';
import { createLogger } from '../../src/logger.js';

let origin: Server | undefined;
let edge: RunningEdge | undefined;
afterEach(async () => {
  await edge?.shutdown(1000);
  origin?.closeAllConnections();
  await new Promise((r) => origin?.close(r));
});

function yamlFor(originUrl: string, dir: string, browserTtl: number, classSource: 'inline' | 'kvs'): string {
  return JSON.stringify({
    classes: [
      {
        name: 'pages',
        pathPatterns: ['/p/*'],
        ttl: { min: 0, default: 0, max: 3600 },
        browserTtl,
        compress: false,
        viewerProtocolPolicy: 'allow-all',
      },
      { name: 'rest', pathPatterns: ['/*'], ttl: { min: 0, default: 60, max: 3600 }, browserTtl: 0 },
    ],
    defaultClass: 'rest',
    origin: { url: originUrl, protocol: 'http1.1' },
    cloudfront: { functions: { classSource, ...(classSource === 'kvs' ? { kvsId: 'local-test-kvs' } : {}) } },
    edge: {
      port: 0,
      cache: { diskDir: join(dir, 'cache') },
      logs: { enabled: false, dir: join(dir, 'logs') },
      functions: { dir: join(dir, 'functions') },
    },
  });
}

describe('a reload reaches the edge’s viewer functions', () => {
  for (const mode of ['inline', 'kvs'] as const) {
    it(`browserTtl 60 → 120 applies on the next request through the edge (${mode})`, async () => {
      origin = createServer((_req, res) => {
        // No max-age from the origin: what browsers are told is the class's browser TTL.
        res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'public' });
        res.end('<p>hi</p>');
      });
      await new Promise<void>((r) => origin!.listen(0, '127.0.0.1', r));
      const addr = origin.address();
      const originUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      const dir = mkdtempSync(join(tmpdir(), 'edgewise-live-fns-'));
      const file = join(dir, 'edgewise.yaml');
      writeFileSync(file, yamlFor(originUrl, dir, 60, mode));
      const config = LiveConfig.load({ file, cwd: dir, env: {} });
      writeBuild(buildFunctions(config.current), join(dir, 'functions'));
      edge = await startEdge(config, createLogger({ level: 'silent', pretty: false }), {
        cwd: dir,
        host: '127.0.0.1',
        port: 0,
      });
      const browserCc = async () => {
        const res = await request(`${edge!.url}/p/a`);
        await res.body.text();
        return res.headers['cache-control'];
      };
      expect(await browserCc()).toMatch(/max-age=60\b/);
      writeFileSync(file, yamlFor(originUrl, dir, 120, mode));
      expect(config.reload().applied).toContain('classes');
      expect(await browserCc()).toMatch(/max-age=120\b/);
    });
  }
});
