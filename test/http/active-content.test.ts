/**
 * Issue 13 "Also answer": an SVG with <script> uploaded to /static/x.svg (outside the user-content
 * classes) was served inline with no CSP: stored XSS on our domain. Every class now sandboxes
 * scriptable documents (src/http/active-content.ts), at the origin and unchanged through the
 * edge; Chromium opening the file through the edge must not run its script.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildConfig, ConfigError } from '../../src/config/load.js';
import { DEFAULT_CLASSES } from '../../src/config/sections/classes.js';
import { ACTIVE_CONTENT_CSP } from '../../src/http/active-content.js';
import { startTestEdge, type TestEdge, testClass } from '../edge/helpers.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';

const API_KEY = 'active-content-test-key-0123456789';
const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">' +
  '<rect width="10" height="10" style="fill:red"/>' +
  '<script>document.documentElement.setAttribute("data-ran", "yes"); fetch("/beacon")</script></svg>';
// The callbacks below run inside the browser page (no DOM lib in this project's types).
declare const document: {
  querySelector(sel: string): unknown;
  documentElement: { getAttribute(name: string): string | null };
};

let origin: TestOrigin;
let edge: TestEdge;

async function upload(key: string, body: string, contentType: string): Promise<number> {
  const res = await request(`${origin.url}/uploads/${key}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': contentType },
    body,
  });
  await res.body.dump();
  return res.statusCode;
}

async function get(base: string, path: string, method: 'GET' | 'HEAD' = 'GET') {
  const res = await request(`${base}${path}`, { method });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

beforeAll(async () => {
  origin = await startTestOrigin({
    uploads: { apiKeys: [API_KEY], allowedTypes: ['image/*', 'application/xml', 'text/plain', 'text/html'] },
    // A class the operator trusts with its own pages (scripts must run there).
    classes: [{ ...testClass({ name: 'site_pages', pathPatterns: ['/site/*'] }) }, ...DEFAULT_CLASSES],
    server: { trustedActiveContentClasses: ['site_pages'] },
  });
  // The edge in front of the real origin; static_assets over plain http (no TLS here).
  edge = await startTestEdge(origin.url, {
    classes: [
      testClass(),
      { ...testClass({ name: 'site_pages', pathPatterns: ['/site/*'] }) },
      ...DEFAULT_CLASSES.map((c) =>
        c.name === 'static_assets' ? { ...c, viewerProtocolPolicy: 'allow-all' } : c,
      ),
    ],
  });
  expect(await upload('static/x.svg', SVG, 'image/svg+xml')).toBe(201);
  expect(await upload('static/feed.xml', '<?xml version="1.0"?><a/>', 'application/xml')).toBe(201);
  expect(await upload('static/note.txt', 'hello', 'text/plain')).toBe(201);
  expect(await upload('site/index.html', '<script>1</script>', 'text/html')).toBe(201);
  expect(await upload('u/x.svg', SVG, 'image/svg+xml')).toBe(201);
}, 30_000);
afterAll(async () => {
  await edge?.close();
  await origin?.close();
});

describe('active content outside user-content classes', () => {
  test('an uploaded SVG with <script> at /static/x.svg is sandboxed inline, at the origin and through the edge', async () => {
    for (const base of [origin.url, edge.url]) {
      for (const method of ['GET', 'HEAD'] as const) {
        const r = await get(base, '/static/x.svg', method);
        expect(r.status, `${method} ${base}`).toBe(200);
        expect(r.headers['content-type']).toBe('image/svg+xml');
        expect(r.headers['content-security-policy'], `${method} ${base}`).toBe(ACTIVE_CONTENT_CSP);
        expect(r.headers['x-content-type-options']).toBe('nosniff');
        // Still an image that pages can show: inline, not a download.
        expect(r.headers['content-disposition']).toBeUndefined();
      }
    }
    // The edge's second answer is a cache hit and keeps the headers too.
    const hit = await get(edge.url, '/static/x.svg');
    expect(hit.headers['x-cache']).toMatch(/^Hit/);
    expect(hit.headers['content-security-policy']).toBe(ACTIVE_CONTENT_CSP);
    expect(hit.text).toBe(SVG);
  });

  test('XML is sandboxed too; text and images that are not documents are left alone', async () => {
    const xml = await get(origin.url, '/static/feed.xml');
    expect(xml.headers['content-security-policy']).toBe(ACTIVE_CONTENT_CSP);
    const txt = await get(edge.url, '/static/note.txt');
    expect(txt.headers['content-security-policy']).toBeUndefined();
    expect(txt.headers['x-content-type-options']).toBe('nosniff');
  });

  test('a class in server.trustedActiveContentClasses serves its HTML without a sandbox', async () => {
    for (const base of [origin.url, edge.url]) {
      const r = await get(base, '/site/index.html');
      expect(r.status).toBe(200);
      expect(r.headers['content-security-policy']).toBeUndefined();
    }
  });

  test('user content keeps its stricter rule: active types download, sandboxed', async () => {
    const r = await get(origin.url, '/u/x.svg');
    expect(r.headers['content-disposition']).toBe('attachment');
    expect(r.headers['content-security-policy']).toBe(ACTIVE_CONTENT_CSP);
  });

  test('a class cannot be both user content and trusted with active content', () => {
    let caught: unknown;
    try {
      buildConfig({ server: { trustedActiveContentClasses: ['user_content'] } }, undefined);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).issues.map((i) => i.path)).toContain(
      'server.trustedActiveContentClasses[0]',
    );
  });

  test.skipIf(!existsSync(CHROMIUM))(
    'Chromium opening /static/x.svg through the edge runs none of its script',
    async () => {
      const profile = await mkdtemp(join(tmpdir(), 'edgewise-chromium-'));
      const browser = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
      });
      try {
        const page = await browser.newPage();
        const violations: string[] = [];
        page.on('console', (m) => violations.push(m.text()));
        const res = await page.goto(`${edge.url}/static/x.svg`);
        expect(res?.status()).toBe(200);
        // The document loaded (its <rect> is there) but its script never ran.
        expect(await page.evaluate(() => document.querySelector('rect') !== null)).toBe(true);
        expect(await page.evaluate(() => document.documentElement.getAttribute('data-ran'))).toBeNull();
        expect(violations.join('\n')).toMatch(/sandbox|script/i);
      } finally {
        await browser.close();
        await rm(profile, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
