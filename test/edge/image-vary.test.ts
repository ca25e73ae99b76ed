/**
 * Vary kept end to end (issue 13 item 2): a negotiated image variant says `Vary: Accept` at the
 * origin, through the local edge alone, and through the edge running the built viewer-request
 * function (which moves the negotiation into the query), on a miss and on a hit; a shared cache in
 * front of the edge would otherwise hand AVIF to a client that cannot decode it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFunctions, writeBuild } from '../../src/cloudfront/build.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import { photoJpeg } from '../images/fixtures.js';
import { startTestEdge, type TestEdge } from './helpers.js';

let origin: TestOrigin;
let plain: TestEdge;
let withFunctions: TestEdge;
let fnDir: string;

beforeAll(async () => {
  origin = await startTestOrigin();
  await origin.storage.put('photo.jpg', Readable.from([await photoJpeg(320, 200)]), {
    contentType: 'image/jpeg',
  });
  const raw = { classes: origin.store.current.classes, defaultClass: origin.store.current.defaultClass };
  plain = await startTestEdge(origin.url, raw, {
    functions: { viewerRequest: false, viewerResponse: false },
  });
  fnDir = await mkdtemp(join(tmpdir(), 'edgewise-vary-'));
  writeBuild(buildFunctions(plain.store.current), fnDir);
  withFunctions = await startTestEdge(origin.url, raw, { functions: { dir: fnDir } });
});

afterAll(async () => {
  await withFunctions?.close();
  await plain?.close();
  await origin?.close();
  await rm(fnDir, { recursive: true, force: true });
});

const AVIF = 'image/avif,image/webp,image/*,*/*;q=0.8';
const JPEG_ONLY = 'image/jpeg';

async function get(
  base: string,
  path: string,
  accept: string,
  extra: Record<string, string> = {},
  method: 'GET' | 'HEAD' = 'GET',
) {
  const res = await request(`${base}${path}`, { method, headers: { accept, ...extra } });
  await res.body.dump();
  return {
    status: res.statusCode,
    vary: String(res.headers.vary ?? ''),
    type: String(res.headers['content-type']),
    etag: String(res.headers.etag ?? ''),
    cache: String(res.headers['x-cache'] ?? ''),
  };
}

describe('Vary: Accept on negotiated image variants', () => {
  const layers = () =>
    [
      ['origin', origin.url],
      ['edge', plain.url],
      ['edge + built functions', withFunctions.url],
    ] as const;

  it.each(['/img/photo.jpg?w=128', '/img/photo.jpg?w=128&fmt=auto'])(
    '%s: every layer, miss and hit, says Vary: Accept',
    async (path) => {
      for (const [name, base] of layers()) {
        for (const accept of [AVIF, JPEG_ONLY, AVIF]) {
          const r = await get(base, path, accept);
          expect({ name, accept, status: r.status }).toEqual({ name, accept, status: 200 });
          expect({ name, accept, vary: /\baccept\b/i.test(r.vary) }).toEqual({ name, accept, vary: true });
          const head = await get(base, path, accept, {}, 'HEAD');
          expect({ name, accept, headVary: /\baccept\b/i.test(head.vary) }).toEqual({
            name,
            accept,
            headVary: true,
          });
          // A revalidation's 304 carries Vary too (RFC 9110 §15.4.5).
          const nm = await get(base, path, accept, { 'if-none-match': r.etag });
          expect({ name, accept, status: nm.status, vary: /\baccept\b/i.test(nm.vary) }).toEqual({
            name,
            accept,
            status: 304,
            vary: true,
          });
        }
        if (name !== 'origin')
          expect(name + (await get(base, path, AVIF)).cache).toBe(`${name}Hit from edgewise`);
      }
    },
  );

  it('an explicit format does not vary on Accept at any layer', async () => {
    for (const [name, base] of layers()) {
      const r = await get(base, '/img/photo.jpg?w=128&fmt=webp', AVIF);
      expect({ name, type: r.type, acceptInVary: /\baccept\b(?!-)/i.test(r.vary) }).toEqual({
        name,
        type: 'image/webp',
        acceptInVary: false,
      });
    }
  });
});
