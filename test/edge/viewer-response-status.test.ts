/**
 * The built viewer-response function runs where CloudFront runs it: not when the origin answers
 * 400 or above ("CloudFront does not invoke edge functions for viewer response events when the
 * origin returns HTTP status code 400 or higher", CloudFront Developer Guide, restrictions on
 * edge functions). An origin's error therefore reaches the viewer with the origin's own
 * Cache-Control: a 404 for a fingerprinted name must never become `immutable` for a year.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFunctions, writeBuild } from '../../src/cloudfront/build.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';
import { startTestEdge, type TestEdge } from './helpers.js';

let origin: TestOrigin;
let edge: TestEdge;
let fnDir: string;

beforeAll(async () => {
  origin = await startTestOrigin();
  await origin.storage.put('static/hello.txt', Readable.from([Buffer.from('hello')]), {
    contentType: 'text/plain',
  });
  fnDir = await mkdtemp(join(tmpdir(), 'edgewise-vr-'));
  const classes = origin.store.current.classes;
  edge = await startTestEdge(
    origin.url,
    { classes, defaultClass: origin.store.current.defaultClass },
    {
      functions: { dir: fnDir },
    },
  );
  writeBuild(buildFunctions(edge.store.current), fnDir);
  await edge.close();
  edge = await startTestEdge(
    origin.url,
    { classes, defaultClass: origin.store.current.defaultClass },
    {
      functions: { dir: fnDir },
    },
  );
  expect(edge.edge.app.functions.map((f) => f.split('/').pop())).toContain('viewer-response.js');
});

afterAll(async () => {
  await edge?.close();
  await origin?.close();
  await rm(fnDir, { recursive: true, force: true });
});

async function fetchBoth(path: string) {
  const direct = await request(`${origin.url}${path}`);
  await direct.body.dump();
  const viaEdge = await request(`${edge.url}${path}`);
  await viaEdge.body.dump();
  return { direct, viaEdge };
}

describe('viewer-response and origin errors', () => {
  it.each(['/static/app.3f2a1b9c.css', '/static/missing.txt', '/img/missing.jpg'])(
    '%s: a 404 keeps the origin Cache-Control; the function does not run',
    async (path) => {
      const { direct, viaEdge } = await fetchBoth(path);
      expect(direct.statusCode).toBe(404);
      expect(viaEdge.statusCode).toBe(404);
      expect(viaEdge.headers['cache-control']).toBe(direct.headers['cache-control']);
      expect(String(viaEdge.headers['cache-control'] ?? '')).not.toMatch(/immutable|public/);
      // The function's own marks are absent: it did not run.
      expect(String(viaEdge.headers['server-timing'])).not.toContain('edgewise;desc=');
    },
  );

  it('a 200 gets the class browser Cache-Control and the class in Server-Timing after the edge metrics', async () => {
    const { direct, viaEdge } = await fetchBoth('/static/hello.txt');
    expect(direct.statusCode).toBe(200);
    expect(viaEdge.statusCode).toBe(200);
    expect(String(viaEdge.headers['cache-control'])).toMatch(/^public, max-age=\d+/);
    const timing = String(viaEdge.headers['server-timing']);
    expect(timing).toMatch(/^cdn-cache-(miss|hit)/);
    expect(timing).toContain('edgewise;desc="static_assets"');
  });
});
