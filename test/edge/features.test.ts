import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { LOG_FIELDS } from '../../src/access-log/format.js';
import { ensureDevSigningKeys } from '../../src/cloudfront/keys.js';
import { signViewerUrl } from '../../src/cloudfront/signer.js';
import { ENTRY_OVERHEAD_BYTES } from '../../src/edge/entry.js';
import {
  type CountingOrigin,
  startTestEdge,
  type TestEdge,
  testClass,
  useCountingOriginAndEdge,
} from './helpers.js';

const { setup, cleanup } = useCountingOriginAndEdge();
const METRICS_KEY = 'metrics-key-for-feature-tests';
const metricsAccess = { apiKeys: [METRICS_KEY] };
const scrape = { authorization: `Bearer ${METRICS_KEY}` };

async function get(edge: TestEdge, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await request(`${edge.url}${path}`, { method: method as 'GET', headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, text: body.toString() };
}

function css(origin: CountingOrigin, path: string, size: number, extra: Record<string, string> = {}) {
  origin.route(path, (_req, res) => {
    const body = Buffer.from('a { color: red; }\n'.repeat(Math.ceil(size / 18)).slice(0, size));
    res.writeHead(200, {
      'content-type': 'text/css',
      'content-length': body.length,
      etag: '"css1"',
      'cache-control': 'max-age=60',
      ...extra,
    });
    res.end(body);
  });
}

describe('edge compression', () => {
  it('compresses compressible types of 1,000–10,000,000 bytes with Brotli or gzip, weakens the ETag, caches per encoding', async () => {
    const { origin, edge } = await setup({ classes: [testClass({ compress: true })] });
    css(origin, '/t/a.css', 5000);
    const br = await get(edge, '/t/a.css', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.etag).toBe('W/"css1"');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(brotliDecompressSync(br.body).length).toBe(5000);
    const br2 = await get(edge, '/t/a.css', { 'accept-encoding': 'br;q=1.0, gzip;q=0.8' });
    expect(br2.headers['x-cache']).toBe('Hit from edgewise');
    const gz = await get(edge, '/t/a.css', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).length).toBe(5000);
    const plain = await get(edge, '/t/a.css', { 'accept-encoding': 'gzip;q=0' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.etag).toBe('"css1"');
    expect(origin.count('/t/a.css')).toBe(3);
  });

  it('leaves small, already-encoded and non-compressible responses alone', async () => {
    const { origin, edge } = await setup({ classes: [testClass({ compress: true })] });
    css(origin, '/t/small.css', 999);
    css(origin, '/t/pre.css', 5000, { 'content-encoding': 'gzip' });
    origin.route('/t/img.png', (_req, res) => {
      res.writeHead(200, {
        'content-type': 'image/png',
        'content-length': 5000,
        'cache-control': 'max-age=60',
      });
      res.end(Buffer.alloc(5000));
    });
    for (const p of ['/t/small.css', '/t/pre.css', '/t/img.png']) {
      const r = await get(edge, p, { 'accept-encoding': 'br, gzip' });
      expect(r.headers['content-encoding'] ?? 'none').toBe(p === '/t/pre.css' ? 'gzip' : 'none');
    }
  });
});

describe('invalidation API', () => {
  const key = 'k'.repeat(32);
  it('requires a key, then removes every variant of the matched paths, with * at the end', async () => {
    const { origin, edge } = await setup({}, { invalidation: { apiKeys: [key] } });
    for (const p of ['/t/img/a', '/t/img/b', '/t/other']) {
      origin.route(p, (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language' });
        res.end(p);
      });
      await get(edge, p, { 'accept-language': 'fr' });
      await get(edge, p, { 'accept-language': 'de' });
    }
    const post = (body: unknown, auth?: string) =>
      request(`${edge.url}/_edge/invalidations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(body),
      });
    const anon = await post({ paths: ['/t/*'] });
    expect(anon.statusCode).toBe(401);
    expect((await anon.body.json()) as object).toMatchObject({ code: 'EDGEWISE_UNAUTHORIZED' });
    const wrong = await post({ paths: ['/t/*'] }, `Bearer ${'x'.repeat(32)}`);
    expect(wrong.statusCode).toBe(401);
    await wrong.body.dump();
    const bad = await post({ paths: ['/t/*/x'] }, `Bearer ${key}`);
    expect(bad.statusCode).toBe(400);
    expect((await bad.body.json()) as object).toMatchObject({ code: 'EDGEWISE_EDGE_BAD_INVALIDATION' });
    const ok = await post({ Paths: { Quantity: 1, Items: ['/t/img/*'] } }, `Bearer ${key}`);
    expect(ok.statusCode).toBe(201);
    expect((await ok.body.json()) as object).toMatchObject({ status: 'Completed', removed: 4 });
    expect((await get(edge, '/t/img/a', { 'accept-language': 'fr' })).headers['x-cache']).toBe(
      'Miss from edgewise',
    );
    expect((await get(edge, '/t/other', { 'accept-language': 'fr' })).headers['x-cache']).toBe(
      'Hit from edgewise',
    );
  });
});

describe('access logs', () => {
  it('writes gzipped CloudFront standard logs with 33 fields, published under the CloudFront name', async () => {
    const { origin, edge } = await setup({}, { logs: { prefix: 'cf/', distributionId: 'E2TEST' } });
    origin.route('/t/l', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end('log me');
    });
    await get(edge, '/t/l?x=a%20b', {
      'user-agent': 'Mozilla/5.0 (X11; Linux)',
      referer: 'https://shop.example/',
    });
    await get(edge, '/t/l?x=a%20b', { 'user-agent': 'curl/8' });
    await edge.edge.app.logs!.close();
    const dir = join(edge.dir, 'logs', 'cf');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^E2TEST\.\d{4}-\d{2}-\d{2}-\d{2}\.[0-9A-F]{12}\.gz$/);
    const text = gunzipSync(readFileSync(join(dir, files[0]!))).toString();
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('#Version: 1.0');
    expect(lines[1]).toBe(`#Fields: ${LOG_FIELDS.join(' ')}`);
    expect(LOG_FIELDS).toHaveLength(33);
    const rows = lines.slice(2).map((l) => l.split('\t'));
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r).toHaveLength(33);
    const [miss, hit] = rows as [string[], string[]];
    const f = (row: string[], name: (typeof LOG_FIELDS)[number]) => row[LOG_FIELDS.indexOf(name)];
    expect(f(miss, 'x-edge-result-type')).toBe('Miss');
    expect(f(hit, 'x-edge-result-type')).toBe('Hit');
    expect(f(miss, 'cs-uri-stem')).toBe('/t/l');
    expect(f(miss, 'cs-uri-query')).toBe('x=a%2520b');
    expect(f(miss, 'cs(User-Agent)')).toBe('Mozilla/5.0%20(X11;%20Linux)');
    expect(f(hit, 'cs(Referer)')).toBe('-');
    expect(f(miss, 'sc-status')).toBe('200');
    expect(f(miss, 'sc-content-type')).toBe('text/plain');
    expect(f(miss, 'c-ip')).toBe('127.0.0.1');
    // The prefetch worker's parser reads these files as CloudFront's.
    const { parseLog, newParseStats } = await import('../../src/prefetch/parse.js');
    const stats = newParseStats();
    const records = [];
    for await (const r of parseLog(
      (async function* () {
        yield readFileSync(join(dir, files[0]!));
      })(),
      files[0]!,
      stats,
    ))
      records.push(r);
    expect(stats.malformed).toBe(0);
    expect(records.map((r) => [r.path, r.query, r.status])).toEqual([
      ['/t/l', 'x=a%20b', 200],
      ['/t/l', 'x=a%20b', 200],
    ]);
  });
});

describe('metrics', () => {
  it('exposes hit ratio, byte hit ratio, origin requests and store bytes per tier', async () => {
    const { origin, edge } = await setup({}, { metricsAccess });
    origin.route('/t/m', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('0123456789');
    });
    for (let i = 0; i < 4; i++) await get(edge, '/t/m');
    const m = (await get(edge, '/_edge/metrics', scrape)).text;
    expect(m).toContain('edgewise_edge_hit_ratio{class="*"} 0.75');
    expect(m).toContain('edgewise_edge_byte_hit_ratio{class="*"} 0.75');
    expect(m).toContain('edgewise_edge_origin_requests_total{kind="fill"} 1');
    expect(m).toMatch(/edgewise_edge_cache_bytes\{tier="memory"\} [1-9]\d*/);
  });
});

describe('memory tier bound', () => {
  it('counts each entry at what the process holds for it, not only its body and headers', async () => {
    // 1 MiB, the smallest memoryBytes, and 1,500 distinct tiny objects. Counted at body + header
    // bytes (~250 B each) all would fit; each really costs the process ~1.5 KiB more (entry,
    // CachePolicy, Buffer, store node: bench memory), so fewer than 1 MiB / 1.5 KiB may stay.
    const { origin, edge } = await setup({}, { cache: { memoryBytes: 1048576 } });
    for (let i = 0; i < 1500; i++)
      origin.route(`/t/tiny/${i}`, (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
        res.end('x');
      });
    for (let i = 0; i < 1500; i++) expect((await get(edge, `/t/tiny/${i}`)).text).toBe('x');
    const store = edge.edge.app.store;
    expect(store.bytes('memory')).toBeLessThanOrEqual(1048576);
    expect(store.memory.size).toBeGreaterThan(100);
    expect(store.memory.size).toBeLessThanOrEqual(Math.floor(1048576 / ENTRY_OVERHEAD_BYTES));
    // Each held entry is counted at least at the fixed overhead.
    expect(store.bytes('memory') / store.memory.size).toBeGreaterThan(ENTRY_OVERHEAD_BYTES);
  });
});

describe('disk tier', () => {
  it('keeps large objects on disk within its byte bound, serving hits and ranges from files', async () => {
    const { origin, edge } = await setup(
      {},
      { cache: { diskThresholdBytes: 4096, diskBytes: 20000, memoryBytes: 1048576 }, metricsAccess },
    );
    for (let i = 0; i < 5; i++) {
      origin.route(`/t/big${i}`, (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600' });
        res.end(Buffer.alloc(6000, 65 + i));
      });
    }
    for (let i = 0; i < 5; i++) await get(edge, `/t/big${i}`);
    const store = edge.edge.app.store;
    // A fill is written to the disk tier after its last byte reached the viewer.
    for (let i = 0; i < 100 && ![...(store.disk?.keys() ?? [])].some((k) => k.startsWith('/t/big4\n')); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(store.bytes('disk')).toBeLessThanOrEqual(20000);
    expect(store.bytes('disk')).toBeGreaterThan(0);
    // Evicted files are unlinked asynchronously, right after the index drops them.
    let files = readdirSync(join(edge.dir, 'cache'));
    for (let i = 0; i < 100 && files.length > 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
      files = readdirSync(join(edge.dir, 'cache'));
    }
    expect(files.length).toBeLessThanOrEqual(3);
    const last = await get(edge, '/t/big4', { range: 'bytes=10-14' });
    expect(last.headers['x-cache']).toBe('Hit from edgewise');
    expect(last.text).toBe('EEEEE');
    const m = (await get(edge, '/_edge/metrics', scrape)).text;
    expect(m).toMatch(/edgewise_edge_evictions_total\{tier="disk"\} [1-9]/);
  });
});

describe('signed classes', () => {
  it('answers 403 with the verifier code without a signature, serves and caches a valid signed URL', async () => {
    const keysDir = await mkdtemp(join(tmpdir(), 'edgewise-keys-'));
    cleanup.push(() => rm(keysDir, { recursive: true, force: true }));
    const keys = ensureDevSigningKeys(keysDir);
    const cloudfront = { signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile } };
    const { origin, edge } = await setup({
      classes: [
        testClass({ signed: true, name: 'private_files', pathPatterns: ['/private/*'] }),
        testClass(),
      ],
      cloudfront,
    });
    origin.route('/private/doc.txt', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('secret');
    });
    const denied = await get(edge, '/private/doc.txt');
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text).code).toBe('EDGEWISE_SIGNATURE_MISSING');
    expect(origin.count('/private/doc.txt')).toBe(0);
    const signed = new URL(signViewerUrl(edge.store.current, '/private/doc.txt'));
    const ok = await get(edge, `${signed.pathname}${signed.search}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('secret');
    const tampered = await get(
      edge,
      `${signed.pathname}${signed.search.replace('Signature=', 'Signature=A')}`,
    );
    expect(tampered.status).toBe(403);
  });
});

describe('viewer functions', () => {
  it('runs viewer-request (rewrite, generated response) and viewer-response from the functions dir', async () => {
    const fnDir = await mkdtemp(join(tmpdir(), 'edgewise-fns-'));
    cleanup.push(() => rm(fnDir, { recursive: true, force: true }));
    await mkdir(fnDir, { recursive: true });
    await writeFile(
      join(fnDir, 'viewer-request.js'),
      `function handler(event) {
        var r = event.request;
        if (r.uri === '/t/blocked') return { statusCode: 403, statusDescription: 'Forbidden', headers: { 'content-type': { value: 'text/plain' } }, body: 'no' };
        if (r.uri.endsWith('/')) r.uri += 'index.html';
        return r;
      }`,
    );
    await writeFile(
      join(fnDir, 'viewer-response.js'),
      `function handler(event) {
        var res = event.response;
        res.headers['strict-transport-security'] = { value: 'max-age=63072000' };
        return res;
      }`,
    );
    const { origin, edge } = await setup({}, { functions: { dir: fnDir } });
    origin.route('/t/index.html', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end('index');
    });
    const idx = await get(edge, '/t/');
    expect(idx.text).toBe('index');
    expect(idx.headers['strict-transport-security']).toBe('max-age=63072000');
    expect(idx.headers['x-cache']).toBe('Miss from edgewise');
    const hit = await get(edge, '/t/');
    expect(hit.headers['x-cache']).toBe('Hit from edgewise');
    const blocked = await get(edge, '/t/blocked');
    expect(blocked.status).toBe(403);
    expect(blocked.text).toBe('no');
    expect(origin.count('/t/blocked')).toBe(0);
  });
});

describe('built CloudFront Functions', () => {
  it('runs the viewer functions `edgewise cloudfront build` writes for this config', async () => {
    const { buildFunctions, writeBuild } = await import('../../src/cloudfront/build.js');
    const fnDir = await mkdtemp(join(tmpdir(), 'edgewise-built-'));
    cleanup.push(() => rm(fnDir, { recursive: true, force: true }));
    const { origin, edge } = await setup({}, { functions: { dir: fnDir } });
    writeBuild(buildFunctions(edge.store.current), fnDir);
    await edge.close();
    cleanup.pop();
    const restarted = await startTestEdge(origin.url, {}, { functions: { dir: fnDir } });
    cleanup.push(() => restarted.close());
    expect(restarted.edge.app.functions.map((f) => f.split('/').pop())).toEqual([
      'viewer-request.js',
      'viewer-response.js',
    ]);
    origin.route('/static/app.css', (req, res) => {
      res.writeHead(200, {
        'content-type': 'text/css',
        'cache-control': 'max-age=60',
        'x-query': req.url ?? '',
      });
      res.end('body{}');
    });
    const first = await get(restarted, '/static/app.css?w=100&utm_source=mail');
    expect(first.status).toBe(200);
    expect(first.text).toBe('body{}');
    const second = await get(restarted, '/static/app.css?utm_source=other&w=100');
    expect(second.headers['x-cache']).toBe('Hit from edgewise');
    expect(origin.count('/static/app.css')).toBe(1);
    expect(String(origin.requests[0]?.url)).not.toContain('utm_source');
  });
});
