/**
 * Runs the current HTTP caching test suite (cache-tests.fyi, vendored unchanged in
 * ./cache-tests) against the local edge and tallies it as the website does.
 *
 * - The suite's own server is the origin, in a child process with ./loopback.mjs preloaded so
 *   it binds 127.0.0.1 only (its server.mjs listens on every interface).
 * - The suite's own CLI client runs every shared-cache test through the edge, in a child
 *   process per edge (its results live in module state, so one process per run).
 * - Each result is classified with the suite's `determineTestResult(tests, id, results, true)`
 *   (depends_on applied, as the site shows it); the published results in ./cache-tests/results
 *   of other shared caches are classified the same way.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LiveConfig } from '../../../src/config/live.js';
import { buildConfig } from '../../../src/config/load.js';
import { DEFAULT_CLASSES } from '../../../src/config/sections/classes.js';
import { startEdge } from '../../../src/edge/server.js';
import { createLogger } from '../../../src/logger.js';

const SUITE = fileURLToPath(new URL('./cache-tests/', import.meta.url));
const PRELOAD = fileURLToPath(new URL('./loopback.mjs', import.meta.url));

type Results = Record<string, unknown>;
interface SuiteTest {
  id: string;
  name: string;
  kind?: string;
  browser_only?: boolean;
}
interface TestSuite {
  id: string;
  tests: SuiteTest[];
}
type Determine = (suites: TestSuite[], id: string, results: Results, honorDependencies: boolean) => string[];

export interface Tally {
  pass: number;
  fail: number;
  optionalFail: number;
  yes: number;
  no: number;
  /** Setup, harness, dependency failures, retries and untested. */
  other: number;
}

export interface Outcome {
  id: string;
  name: string;
  symbol: string;
  detail: string;
}

export interface EdgeRun {
  label: string;
  tally: Tally;
  /** Every ⛔ and ⚠️ with the suite's message. */
  outcomes: Outcome[];
}

export interface SuiteReport {
  edges: EdgeRun[];
  published: Array<{ name: string; version: string; tally: Tally }>;
  ms: number;
}

async function suiteModules(): Promise<{ tests: TestSuite[]; determine: Determine }> {
  const tests = (await import(join(SUITE, 'tests/index.mjs'))).default as TestSuite[];
  const { determineTestResult } = (await import(join(SUITE, 'test-engine/lib/results.mjs'))) as {
    determineTestResult: Determine;
  };
  return { tests, determine: determineTestResult };
}

export function tally(tests: TestSuite[], results: Results, determine: Determine): Tally {
  const t: Tally = { pass: 0, fail: 0, optionalFail: 0, yes: 0, no: 0, other: 0 };
  for (const suite of tests)
    for (const test of suite.tests) {
      if (test.browser_only) continue;
      const symbol = determine(tests, test.id, results, true)[2];
      if (symbol === '✅') t.pass++;
      else if (symbol === '⛔️') t.fail++;
      else if (symbol === '⚠️') t.optionalFail++;
      else if (symbol === 'Y') t.yes++;
      else if (symbol === 'N') t.no++;
      else t.other++;
    }
  return t;
}

function outcomes(tests: TestSuite[], results: Results, determine: Determine): Outcome[] {
  const out: Outcome[] = [];
  for (const suite of tests)
    for (const test of suite.tests) {
      if (test.browser_only) continue;
      const symbol = determine(tests, test.id, results, true)[2] ?? '-';
      if (symbol !== '⛔️' && symbol !== '⚠️') continue;
      const r = results[test.id];
      out.push({ id: test.id, name: test.name, symbol, detail: Array.isArray(r) ? String(r[1]) : String(r) });
    }
  return out;
}

/** The suite's server on 127.0.0.1 (child process); resolves with its URL. */
async function startSuiteServer(dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', PRELOAD, join(SUITE, 'test-engine/server/server.mjs')], {
    cwd: SUITE,
    env: {
      PATH: process.env.PATH,
      npm_config_protocol: 'http',
      npm_config_port: '0',
      npm_config_pidfile: join(dir, 'server.pid'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`suite server did not start: ${seen}`)), 20_000);
    child.stdout.on('data', (c: Buffer) => {
      seen += c.toString();
      const m = /Listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      seen += c.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`suite server exited (${code}): ${seen}`));
    });
  });
  return {
    url,
    stop: async () => {
      child.kill();
      await exited;
    },
  };
}

/** The suite's CLI against `base`; resolves with its results object. */
function runClient(base: string, testId = ''): Promise<Results> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings', join(SUITE, 'test-engine/cli.mjs')], {
      cwd: SUITE,
      env: { PATH: process.env.PATH, npm_config_base: base, npm_package_config_id: testId },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    // Bounded: the suite's requests time out at 10 s each; a run that hangs past this is a failure.
    const timer = setTimeout(() => child.kill(), 240_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString();
      if (code !== 0) return reject(new Error(`suite client exited ${code}: ${err.slice(-2000)}`));
      if (testId !== '') {
        process.stdout.write(text + err);
        return resolve({});
      }
      try {
        resolve(JSON.parse(text) as Results);
      } catch (e) {
        reject(new Error(`suite client output is not JSON: ${text.slice(0, 500)}`, { cause: e }));
      }
    });
  });
}

/** Which edge configurations are run: the conformance behavior and the shipped defaults. */
export type EdgeSetup = 'conformance' | 'default';

/** The edge config for a setup; the 0.4.5 runner (runner.ts) uses the conformance one too. */
export function edgeConfig(setup: EdgeSetup, originUrl: string, dir: string, errorCachingMinTtl = 0) {
  const edge = {
    port: 0,
    cache: { diskDir: join(dir, setup, 'cache') },
    logs: { enabled: false },
    functions: { dir: join(dir, 'none') },
  };
  const origin = { url: originUrl, protocol: 'http1.1' as const };
  // The suite PUTs each test's setup through the cache (/config/<uuid>): the default classes'
  // behaviors allow GET/HEAD/OPTIONS only (as CloudFront would), so this run allows all methods.
  if (setup === 'default')
    return buildConfig(
      { origin, edge, cloudfront: { allowAllMethods: ['static_assets', 'api_responses'] } },
      undefined,
    );
  return buildConfig(
    {
      classes: [
        {
          name: 'conformance',
          pathPatterns: ['/test/*'],
          // The behavior the docs recommend for an origin that states its own freshness.
          ttl: { min: 0, default: 0, max: 31536000 },
          browserTtl: 0,
          compress: false,
          cacheKey: { queryStrings: ['test'] },
          viewerProtocolPolicy: 'allow-all',
          staleWhileRevalidate: 0,
          staleIfError: 0,
        },
        ...DEFAULT_CLASSES,
      ],
      defaultClass: 'conformance',
      // Its behavior allows every method, so unsafe methods reach the origin (RFC 9111 §4.4).
      cloudfront: { allowAllMethods: ['conformance', 'api_responses'] },
      origin,
      // Error caching minimum TTL 0: RFC caching of errors, not CloudFront's extra 10 s.
      edge: { ...edge, errorCachingMinTtl },
    },
    undefined,
  );
}

export const SETUP_LABELS: Record<EdgeSetup, string> = {
  conformance: 'edgewise edge, conformance behavior (min/default TTL 0, error caching TTL 0)',
  default: 'edgewise edge, default classes (all methods allowed)',
};

export async function runCurrentSuite(
  setups: EdgeSetup[] = ['conformance', 'default'],
): Promise<SuiteReport> {
  const t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'edgewise-cache-tests-'));
  const { tests, determine } = await suiteModules();
  const server = await startSuiteServer(dir);
  const logger = createLogger({ level: 'silent', pretty: false });
  const edges = await Promise.all(
    setups.map((s) =>
      startEdge(new LiveConfig(edgeConfig(s, server.url, dir)), logger, {
        cwd: dir,
        host: '127.0.0.1',
        port: 0,
      }),
    ),
  );
  try {
    const only = process.env.CONFORMANCE_ONLY;
    if (only) {
      await runClient(edges[0]!.url, only);
      return { edges: [], published: [], ms: performance.now() - t0 };
    }
    // The runs are mostly waiting (the suite pauses 3 s in many tests), so they run side by side.
    const results = await Promise.all(edges.map((e) => runClient(e.url)));
    const runs = setups.map((s, i) => ({
      label: SETUP_LABELS[s],
      tally: tally(tests, results[i]!, determine),
      outcomes: outcomes(tests, results[i]!, determine),
    }));
    const index = (await import(join(SUITE, 'results/index.mjs'))).default as Array<{
      file: string;
      name: string;
      type: string;
      version: string;
    }>;
    const published: SuiteReport['published'] = [];
    for (const impl of index) {
      if (impl.type === 'browser') continue;
      const shipped = JSON.parse(await readFile(join(SUITE, 'results', impl.file), 'utf8')) as Results;
      published.push({ name: impl.name, version: impl.version, tally: tally(tests, shipped, determine) });
    }
    return { edges: runs, published, ms: performance.now() - t0 };
  } finally {
    await Promise.all(edges.map((e) => e.shutdown(1000)));
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The conformance table as the docs show it (markdown). */
export function formatTable(report: SuiteReport): string {
  const rows = [
    '| cache | ✅ | ⛔ | ⚠️ | other |',
    '|---|---|---|---|---|',
    ...report.edges.map((e) => row(e.label, e.tally)),
    ...[...report.published]
      .sort((a, b) => b.tally.pass - a.tally.pass)
      .map((p) => row(`${p.name} ${p.version} (published)`, p.tally)),
  ];
  return rows.join('\n');
}

function row(name: string, t: Tally): string {
  return `| ${name} | ${t.pass} | ${t.fail} | ${t.optionalFail} | ${t.other} |`;
}
