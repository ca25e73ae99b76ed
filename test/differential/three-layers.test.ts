/**
 * The differential harness (issue 13 item 5): every request of the corpus (corpus.ts) is sent
 *   (a) to the origin directly,
 *   (b) through the local edge running the functions `edgewise cloudfront build` writes, twice
 *       on an emptied cache (the miss, then the hit), and
 *   (c) through the CloudFront model (cloudfront-model.ts: behaviors, key groups, the built
 *       functions in the CloudFront runtime, then the same origin),
 * and the answers are compared where the layers are meant to agree:
 * - edge (miss and hit) = model: status, Content-Type, Vary, Cache-Control, Content-Range, the
 *   body (decoded: the model does not compress, CloudFront's own compression is not modelled),
 *   the class (Server-Timing `edgewise;desc` from the viewer-response function, below 400) and
 *   the cache key of what the edge stored;
 * - origin = model, when the model's origin request is the viewer's own URL (no function
 *   rewrite, no refusal in front): status, Content-Type, Vary, body, and Cache-Control for errors
 *   (the viewer-response function never runs on them).
 * Every seeded object has its own body, so equal bodies are equal storage keys. Bodies of
 * refusals are not compared: CloudFront's 403 page is its own XML, the edge answers the
 * catalogue's JSON (docs/edge.md says so).
 * Any disagreement fails the test with the request printed.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFunctions, writeBuild } from '../../src/cloudfront/build.js';
import { ensureDevSigningKeys } from '../../src/cloudfront/keys.js';
import { buildPlan } from '../../src/cloudfront/plan.js';
import { signViewerUrl } from '../../src/cloudfront/signer.js';
import { startTestEdge, type TestEdge } from '../edge/helpers.js';
import { startTestOrigin, type TestOrigin, tempDir } from '../helpers/origin.js';
import { type RawResponse, rawRequest } from '../helpers/raw-request.js';
import { photoJpeg } from '../images/fixtures.js';
import { CloudFrontModel, type ModelAnswer } from './cloudfront-model.js';
import { type CorpusRequest, corpus } from './corpus.js';
import { PATH_CASES } from './paths.js';

let origin: TestOrigin;
let edge: TestEdge;
let model: CloudFrontModel;
let requests: CorpusRequest[];
const dirs: string[] = [];

/** The upload API key of this origin (the corpus's refused uploads carry it). */
const UPLOAD_KEY = 'differential-upload-key-0123456789';
const CSS = `body{color:#123}\n${'.rule{margin:0 auto;padding:1px}\n'.repeat(80)}`;

async function seed(key: string, body: Buffer | string, contentType: string): Promise<void> {
  await origin.storage.put(key, Readable.from([Buffer.from(body)]), { contentType });
}

beforeAll(async () => {
  const keysDir = await tempDir('edgewise-diff-keys-');
  const fnDir = await tempDir('edgewise-diff-fns-');
  dirs.push(keysDir, fnDir);
  const keys = ensureDevSigningKeys(keysDir);
  const cloudfront = {
    distribution: { baseUrl: 'https://cdn.example.com', originDomainName: 'origin.example.com' },
    signing: { keyPairId: keys.keyPairId, privateKeyFile: keys.privateKeyFile },
  };
  origin = await startTestOrigin({ cloudfront, uploads: { apiKeys: [UPLOAD_KEY], maxBytes: 1024 * 1024 } });
  const cfg = origin.store.current;
  await seed('static/app.css', CSS, 'text/css');
  await seed('static/app.3f2a1b9c.css', `${CSS}/*fp*/`, 'text/css');
  await seed('static/hello.txt', 'hello, differential world\n', 'text/plain');
  await seed('static/a.css', 'a{}', 'text/css');
  await seed("static/'.css", 'q{}', 'text/css');
  await seed('u/42/secret.txt', 'the secret of user 42', 'text/plain');
  await seed('api/me.json', '{"user":"whoever holds the token"}', 'application/json');
  await seed('photo.jpg', await photoJpeg(96, 64), 'image/jpeg');
  // Every canonical spelling of PATH_CASES names an object, so a bypass would read it.
  for (const [raw, key] of PATH_CASES)
    if (key !== '' && !key.startsWith('->') && key !== '!' && !key.endsWith('/'))
      await seed(key, `object ${key} (${raw})`, 'text/plain');

  const raw = { classes: cfg.classes, defaultClass: cfg.defaultClass, cloudfront };
  edge = await startTestEdge(origin.url, raw, { functions: { dir: fnDir } });
  writeBuild(buildFunctions(edge.store.current), fnDir);
  await edge.close();
  edge = await startTestEdge(origin.url, raw, { functions: { dir: fnDir } });
  expect(edge.edge.app.functions.length).toBe(2);
  const edgeCfg = edge.store.current;
  model = new CloudFrontModel(edgeCfg, buildPlan(edgeCfg), buildFunctions(edgeCfg), origin.url);

  const validators = async (path: string) => {
    const r = await rawRequest(origin.url, path, { method: 'HEAD' });
    return { etag: String(r.headers.etag), lastModified: String(r.headers['last-modified']) };
  };
  const signed = new URL(signViewerUrl(edgeCfg, '/u/42/secret.txt'));
  requests = corpus({
    css: await validators('/static/app.css'),
    text: await validators('/static/hello.txt'),
    signedUrl: `${signed.pathname}${signed.search}`,
    badSignatureUrl: `${signed.pathname}${signed.search.replace('Signature=', 'Signature=A')}`,
    uploadKey: UPLOAD_KEY,
  });
}, 60_000);

afterAll(async () => {
  await edge?.close();
  await origin?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Seen {
  status: number;
  contentType: string | undefined;
  vary: string | undefined;
  cacheControl: string | undefined;
  contentRange: string | undefined;
  body: string;
  className: string | undefined;
  xCache: string | undefined;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(', ') : v);

/** Vary as a sorted set of lower-case names (order and case carry no meaning, RFC 9110 §12.5.5). */
function varySet(v: string | string[] | undefined): string | undefined {
  const s = one(v);
  if (s === undefined) return undefined;
  return [...new Set(s.split(',').map((n) => n.trim().toLowerCase()))].sort().join(', ');
}

function decoded(headers: Record<string, string | string[] | undefined>, body: Buffer): Buffer {
  const coding = one(headers['content-encoding']);
  if (body.length === 0) return body;
  if (coding === 'br') return brotliDecompressSync(body);
  if (coding === 'gzip') return gunzipSync(body);
  return body;
}

function seen(status: number, headers: Record<string, string | string[] | undefined>, body: Buffer): Seen {
  const timing = one(headers['server-timing']) ?? '';
  return {
    status,
    contentType: one(headers['content-type']),
    vary: varySet(headers.vary),
    cacheControl: one(headers['cache-control']),
    contentRange: one(headers['content-range']),
    body: createHash('sha256').update(decoded(headers, body)).digest('hex').slice(0, 16),
    className: /edgewise;desc="([^"]+)"/.exec(timing)?.[1],
    xCache: one(headers['x-cache']),
  };
}

async function send(layer: string, base: string, r: CorpusRequest): Promise<Seen> {
  let res: RawResponse;
  try {
    res = await rawRequest(base, r.url, {
      method: r.method,
      headers: r.headers,
      ...(r.body ? { body: r.body } : {}),
    });
  } catch (err) {
    throw new Error(`${layer}: ${String(err)}`);
  }
  return seen(res.status, res.headers, res.body);
}

function fromModel(m: ModelAnswer): Seen {
  return { ...seen(m.status, m.headers, m.body), className: m.className };
}

/** Primary cache keys the edge holds (the Vary secondary part cut off). */
function storedKeys(): string[] {
  const store = edge.edge.app.store;
  const keys = [...store.memory.keys(), ...(store.disk ? [...store.disk.keys()] : [])];
  return [...new Set(keys.map((k) => k.split('\u0002')[0]!))];
}

const FIELDS = ['status', 'contentType', 'vary', 'cacheControl', 'contentRange', 'body'] as const;

describe('origin, local edge and CloudFront model agree', () => {
  it('answers every corpus request alike', async () => {
    expect(requests.length).toBeGreaterThanOrEqual(300);
    const disagreements: string[] = [];
    const tally: Tally = { keys: 0, stored: 0, hits: 0, classes: 0, originVsModel: 0, by: {} };
    const differ = (r: CorpusRequest, what: string, a: unknown, b: unknown) =>
      disagreements.push(
        `${r.method} ${r.url.slice(0, 120)} ${JSON.stringify(r.headers)} [${r.name}]\n    ${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
      );
    for (const r of requests) {
      try {
        await compare(r, differ, tally);
      } catch (err) {
        differ(r, 'transport', String(err), '');
      }
    }
    expect(disagreements.join('\n')).toBe('');
    // The comparisons really ran: a harness that compares nothing must not pass.
    console.log(`differential: ${requests.length} requests, ${JSON.stringify(tally)}`);
    expect(tally.keys).toBeGreaterThanOrEqual(150);
    expect(tally.hits).toBe(tally.stored);
    expect(tally.classes).toBeGreaterThanOrEqual(150);
    expect(tally.originVsModel).toBeGreaterThanOrEqual(150);
    for (const by of ['origin', 'function', 'signature', 'method']) expect(tally.by[by]).toBeGreaterThan(0);
  }, 240_000);
});

interface Tally {
  /** Requests whose stored cache key was compared with the model's. */
  keys: number;
  /** Of those, answers below 400 ... */
  stored: number;
  /** ... and how many of them the edge answered from its cache the second time. */
  hits: number;
  /** Answers whose class (Server-Timing) was compared. */
  classes: number;
  /** Requests the origin answered directly and through the model alike. */
  originVsModel: number;
  /** Who answered in the model. */
  by: Record<string, number>;
}

async function compare(
  r: CorpusRequest,
  differ: (r: CorpusRequest, what: string, a: unknown, b: unknown) => void,
  tally: Tally,
) {
  const m = await model.send(r.method, r.url, r.headers, r.body);
  tally.by[m.by] = (tally.by[m.by] ?? 0) + 1;
  const want = fromModel(m);
  const direct = await send('origin', origin.url, r);

  edge.edge.app.store.clear();
  const miss = await send('edge', edge.url, r);
  const keys = storedKeys();
  const hit = await send('edge', edge.url, r);

  const refused = m.by !== 'origin' && m.status >= 400;
  for (const [label, got] of [
    ['edge miss', miss],
    ['edge hit', hit],
  ] as const) {
    for (const f of FIELDS) {
      if (f === 'body' && (refused || r.method === 'HEAD')) continue;
      if ((f === 'contentType' || f === 'cacheControl' || f === 'vary') && refused) continue;
      if (got[f] !== want[f]) differ(r, `${label} ${f} (edge vs model)`, got[f], want[f]);
    }
    if (got.className !== undefined) {
      tally.classes++;
      if (got.className !== want.className)
        differ(r, `${label} class (edge vs model)`, got.className, want.className);
    }
  }
  // What the edge stored is under the key CloudFront's cache policy gives the request.
  if (keys.length > 1) differ(r, 'edge stored more than one key', keys, m.cacheKey);
  if (keys.length === 1) {
    tally.keys++;
    // A stored error is served from the cache too, but labelled Error as CloudFront logs it.
    if (hit.status < 400) {
      tally.stored++;
      if (hit.xCache?.startsWith('Hit')) tally.hits++;
    }
    if (keys[0] !== m.cacheKey) differ(r, 'cache key (edge vs model)', keys[0], m.cacheKey);
  }

  if (m.by === 'origin' && m.originUrl === r.url) {
    tally.originVsModel++;
    for (const f of ['status', 'contentType', 'vary', 'contentRange', 'body'] as const) {
      if (f === 'body' && r.method === 'HEAD') continue;
      if (direct[f] !== want[f]) differ(r, `${f} (origin vs model)`, direct[f], want[f]);
    }
    if (want.status >= 400 && direct.cacheControl !== want.cacheControl)
      differ(r, 'error cacheControl (origin vs model)', direct.cacheControl, want.cacheControl);
  }
}
