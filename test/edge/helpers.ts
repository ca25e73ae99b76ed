/**
 * Test harness for the edge: a real origin on 127.0.0.1:0 that counts the requests it gets
 * (routes are plain handlers, so each test states exactly what the origin answers), and a
 * real edge in front of it built from a config validated by the real loader.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { LiveConfig } from '../../src/config/live.js';
import { buildConfig } from '../../src/config/load.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';
import { type RunningEdge, startEdge } from '../../src/edge/server.js';
import { createLogger } from '../../src/logger.js';

export type Route = (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>;

export interface CountingOrigin {
  url: string;
  server: Server;
  /** Requests seen, per path (query excluded). */
  count(path?: string): number;
  requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  route(path: string, handler: Route): void;
  close(): Promise<void>;
}

export async function startCountingOrigin(): Promise<CountingOrigin> {
  const routes = new Map<string, Route>();
  const counts = new Map<string, number>();
  const requests: CountingOrigin['requests'] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no route');
      return;
    }
    Promise.resolve(route(req, res, n)).catch((err) => res.destroy(err));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    count: (path) => (path === undefined ? requests.length : (counts.get(path) ?? 0)),
    route: (path, handler) => routes.set(path, handler),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface TestEdge {
  edge: RunningEdge;
  url: string;
  dir: string;
  store: LiveConfig;
  close(): Promise<void>;
}

/** A permissive class for tests: everything under /t/ with the given TTLs, http allowed. */
export function testClass(overrides: Record<string, unknown> = {}) {
  return {
    name: 'test_class',
    pathPatterns: ['/t/*'],
    ttl: { min: 0, default: 60, max: 3600 },
    browserTtl: 0,
    compress: false,
    viewerProtocolPolicy: 'allow-all',
    staleWhileRevalidate: 0,
    staleIfError: 0,
    ...overrides,
  };
}

function withDefaults(classes: Array<{ name: string }>) {
  return [...classes, ...DEFAULT_CLASSES.filter((d) => !classes.some((c) => c.name === d.name))];
}

export async function startTestEdge(
  originUrl: string,
  raw: Record<string, unknown> = {},
  edge: Record<string, unknown> = {},
): Promise<TestEdge> {
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-edge-'));
  const config = buildConfig(
    {
      defaultClass: 'test_class',
      ...raw,
      // The test class's behavior allows every method (cloudfront.allowAllMethods), so tests of
      // unsafe methods reach the origin; a test that wants CloudFront's 403 sets its own list.
      cloudfront: {
        allowAllMethods: ['test_class', 'api_responses'],
        ...((raw.cloudfront as object) ?? {}),
      },
      // Other sections refer to the default classes by name; keep them after the test's own.
      classes: withDefaults((raw.classes as Array<{ name: string }> | undefined) ?? [testClass()]),
      origin: { url: originUrl, protocol: 'http1.1', ...((raw.origin as object) ?? {}) },
      edge: {
        port: 0,
        cache: { diskDir: join(dir, 'cache'), ...((edge.cache as object) ?? {}) },
        logs: { dir: join(dir, 'logs'), flushIntervalMs: 50, ...((edge.logs as object) ?? {}) },
        functions: { dir: join(dir, 'functions'), ...((edge.functions as object) ?? {}) },
        ...Object.fromEntries(
          Object.entries(edge).filter(([k]) => !['cache', 'logs', 'functions'].includes(k)),
        ),
      },
    },
    undefined,
  );
  const store = new LiveConfig(config);
  const logger = createLogger({ level: process.env.EDGEWISE_TEST_LOG ? 'debug' : 'silent', pretty: false });
  const running = await startEdge(store, logger, { cwd: dir, host: '127.0.0.1', port: 0 });
  return {
    edge: running,
    url: running.url,
    dir,
    store,
    async close() {
      await running.shutdown(1000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For a test file: a `setup(raw, edgeCfg)` that starts a counting origin and an edge in front of
 * it, and a `cleanup` list run (last first) after each test; both servers are closed through it.
 */
export function useCountingOriginAndEdge() {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const setup = async (raw: Record<string, unknown> = {}, edgeCfg: Record<string, unknown> = {}) => {
    const origin = await startCountingOrigin();
    const edge = await startTestEdge(origin.url, raw, edgeCfg);
    cleanup.push(
      () => origin.close(),
      () => edge.close(),
    );
    return { origin, edge };
  };
  return { setup, cleanup };
}
