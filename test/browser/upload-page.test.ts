/**
 * The upload page in a real browser (Debian Chromium driven by playwright-core) against a real
 * `edgewise dev` process. The page is opened on the origin and uploads go to the edge (its
 * server.publicUrl), a different origin: the shape of a shop page uploading to its CDN, so
 * every upload needs a CORS preflight answered by the origin through the edge.
 *
 * Skips, saying why, only when Chromium is not installed; CI installs it (.ci/run).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Browser, chromium, type Page, type Response } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUploadParams } from '../../src/uploads/signing.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { type DevProcess, freePort, startDev } from './dev-process.js';

const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
// The default reporter does not print skip notes; this line shows in the run's output.
if (!HAVE_CHROMIUM) console.warn(`test/browser/upload-page.test.ts skipped: ${SKIP_REASON}`);
const ARTIFACTS = resolve('test-artifacts');
// 1 MiB demo limit, so an oversize file is cheap to make.
const DEMO_MAX = 1024 * 1024;
// At this viewport the page lays cards out 384 CSS px wide and says so in `sizes`; with a
// device pixel ratio of 1 the browser must pick the 384w candidate of the srcset.
const VIEWPORT = { width: 1280, height: 900 };
const EXPECTED_WIDTH = 384;
// The dev process signs with this secret, so the test can make an expired URL of its own.
const SECRET = { id: 't1', secret: 'browser-test-secret-0123456789abcdef' };

async function photo(): Promise<Buffer> {
  const block = (color: string, size: number) =>
    sharp({ create: { width: size, height: size, channels: 3, background: color } })
      .png()
      .toBuffer();
  return sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#2f6f9f' } })
    .composite([
      { input: await block('#f4b400', 500), left: 550, top: 350 },
      { input: await block('#db4437', 260), left: 160, top: 140 },
      { input: await block('#0f9d58', 300), left: 1150, top: 760 },
    ])
    .jpeg({ quality: 85 })
    .toBuffer();
}

/**
 * The little of the DOM that in-page callbacks touch. The test's TypeScript has no DOM library,
 * and string callbacks would need eval, which the page's CSP (rightly) forbids.
 */
interface PageElement {
  dataset: Record<string, string | undefined>;
  complete?: boolean;
  naturalWidth?: number;
  currentSrc?: string;
}
declare const DataTransfer: new () => { items: { add(file: File): void } };
declare const document: {
  querySelectorAll(selector: string): Iterable<PageElement>;
  querySelector(selector: string): PageElement | null;
};

/** Resolves when every upload row has finished, one way or the other. */
async function settled(page: Page, rows: number): Promise<void> {
  await page.waitForFunction(
    (n) => {
      const items = [...document.querySelectorAll('#uploads li')];
      return items.length >= n && items.every((li) => li.dataset.state !== 'working');
    },
    rows,
    { timeout: 30_000 },
  );
}

async function row(page: Page, name: string) {
  const li = page.locator('#uploads li', { has: page.locator('.name', { hasText: name }) });
  return {
    state: await li.getAttribute('data-state'),
    // <progress>.value reflects to its value attribute.
    progress: Number(await li.locator('progress').getAttribute('value')),
    label: await li.locator('output').textContent(),
    status: await li.locator('.status').textContent(),
    li,
  };
}

/** The image's loaded candidate, waited for until it has decoded. */
async function loadedImage(page: Page): Promise<{ currentSrc: string; naturalWidth: number }> {
  const img = page.locator('#uploads li.has-image img').first();
  await img.waitFor();
  const selector = '#uploads li.has-image img';
  await page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    return el?.complete === true && (el.naturalWidth ?? 0) > 0;
  }, selector);
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    return { currentSrc: el?.currentSrc ?? '', naturalWidth: el?.naturalWidth ?? 0 };
  }, selector);
}

describe('upload page in headless Chromium', () => {
  let dev: DevProcess | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) return;
    const edgePort = await freePort();
    dev = await startDev({
      EDGEWISE__EDGE__PORT: String(edgePort),
      EDGEWISE__SERVER__PUBLICURL: `http://127.0.0.1:${edgePort}`,
      EDGEWISE__UPLOADS__SIGNING__SECRETS: `[{id: ${SECRET.id}, secret: ${SECRET.secret}}]`,
      EDGEWISE__DEV__DEMO__MAXBYTES: String(DEMO_MAX),
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS, '--disable-quic'],
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('uploads through the edge, shows a responsive AVIF/WebP variant, serves it from the edge cache on reload, and explains an oversize file', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    expect(d.output()).toContain('<- upload demo page');
    const context = await browser!.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const responses: Response[] = [];
    page.on('response', (r) => responses.push(r));
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });

    // The page is on the origin; uploads and images are on the edge.
    await page.goto(`${d.originUrl}/`);
    await expect.poll(() => page.locator('#limits').textContent()).toContain('Up to 1.0 MiB');

    const jpeg = await photo();
    await page.setInputFiles('#files', [
      { name: 'product photo.jpg', mimeType: 'image/jpeg', buffer: jpeg },
      {
        name: 'notes.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('Shipping notes: handle with care.\n'),
      },
    ]);
    await settled(page, 2);

    for (const name of ['product photo.jpg', 'notes.txt']) {
      const r = await row(page, name);
      expect(r.status, `${name}: ${r.status}`).toBe('Uploaded');
      expect(r.state).toBe('done');
      expect(r.progress).toBe(100);
      expect(r.label).toBe('100%');
    }

    // Each upload was a cross-origin PUT to the edge: it only succeeds after a granted
    // preflight, and its response carries the origin's CORS headers through the edge.
    const puts = responses.filter((r) => r.request().method() === 'PUT');
    expect(puts).toHaveLength(2);
    for (const put of puts) {
      expect(put.url().startsWith(`${d.edgeUrl}/uploads/`)).toBe(true);
      expect(put.status()).toBe(201);
      const headers = await put.allHeaders();
      expect(headers['access-control-allow-origin']).toBe(d.originUrl);
      expect(headers.via).toContain('edgewise');
    }

    // The text file is a link to the edge, and the edge serves exactly what was sent.
    const link = await (await row(page, 'notes.txt')).li
      .locator('a', { hasText: 'Open file' })
      .getAttribute('href');
    expect(link?.startsWith(`${d.edgeUrl}/demo/`)).toBe(true);
    const text = await fetch(link!);
    expect(await text.text()).toBe('Shipping notes: handle with care.\n');

    // The image: the srcset candidate for a 384 CSS px slot at DPR 1, AVIF or WebP, 384 px wide.
    const first = await loadedImage(page);
    expect(new URL(first.currentSrc).searchParams.get('w')).toBe(String(EXPECTED_WIDTH));
    expect(first.currentSrc.startsWith(`${d.edgeUrl}/img/demo/`)).toBe(true);
    const firstRes = responses.find((r) => r.url() === first.currentSrc);
    expect(firstRes, 'the browser fetched the chosen candidate').toBeDefined();
    const type = (await firstRes!.allHeaders())['content-type'];
    expect(type).toMatch(/^image\/(avif|webp)$/);
    const meta = await sharp(await firstRes!.body()).metadata();
    expect(meta.width).toBe(EXPECTED_WIDTH);
    expect(meta.format).toMatch(type === 'image/avif' ? /^(heif|avif)$/ : /^webp$/);
    expect(first.naturalWidth).toBe(EXPECTED_WIDTH);
    // Exactly one image variant was fetched: the browser did not also download a fallback.
    expect(responses.filter((r) => r.url().includes('/img/'))).toHaveLength(1);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/upload-page.png`, fullPage: true });

    // Reload. Routing every request through Playwright turns the browser's HTTP cache off, so
    // the image is fetched again over the network and the edge must answer from its cache.
    await page.route('**/*', (route) => route.continue());
    responses.length = 0;
    await page.reload();
    const again = await loadedImage(page);
    expect(again.currentSrc).toBe(first.currentSrc);
    const hit = responses.find((r) => r.url() === again.currentSrc);
    expect(hit, 'the reload fetched the image from the network').toBeDefined();
    expect(hit!.status()).toBe(200);
    const hitHeaders = await hit!.allHeaders();
    expect(hitHeaders['x-cache']).toBe('Hit from edgewise');
    expect(hitHeaders['content-type']).toBe(type);
    expect((await sharp(await hit!.body()).metadata()).width).toBe(EXPECTED_WIDTH);
    await page.unroute('**/*');

    // An oversize file and a type the site does not take: the server refuses them when the page
    // asks for an upload URL (413, 415), and the page says why in plain words.
    const putsBefore = responses.filter((r) => r.request().method() === 'PUT').length;
    await page.setInputFiles('#files', [
      { name: 'catalogue.txt', mimeType: 'text/plain', buffer: Buffer.alloc(DEMO_MAX + 512 * 1024, 'a') },
      { name: 'page.html', mimeType: 'text/html', buffer: Buffer.from('<p>hi</p>') },
    ]);
    await settled(page, 4);
    const big = await row(page, 'catalogue.txt');
    expect(big.state).toBe('error');
    expect(big.status).toBe('“catalogue.txt” is too large (1.5 MiB). Files can be up to 1.0 MiB.');
    expect(big.progress).toBeLessThan(100);
    const html = await row(page, 'page.html');
    expect(html.state).toBe('error');
    expect(html.status).toBe(
      '“page.html” is a kind of file this site does not accept (text/html). Accepted: JPEG, PNG, WebP, GIF, AVIF, text, PDF.',
    );
    const refusals = responses.filter((r) => r.url().endsWith('/_dev/upload-urls') && r.status() >= 400);
    expect(refusals.map((r) => r.status()).sort()).toEqual([413, 415]);
    // No byte of either file was sent.
    expect(responses.filter((r) => r.request().method() === 'PUT')).toHaveLength(putsBefore);
    await page.screenshot({ path: `${ARTIFACTS}/upload-page-errors.png`, fullPage: true });

    // A client that declares a small file and then sends a large one meets the upload
    // endpoint's own 413, which the browser can read (here on the page's own origin).
    const liar = await page.evaluate(async (max) => {
      const asked = await fetch('/_dev/upload-urls', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'liar.txt', size: 10, type: 'text/plain' }),
      });
      const grant = (await asked.json()) as { url: string };
      const url = new URL(grant.url);
      // Relative: resolved against the page, so the PUT goes to the origin the page is on.
      const res = await fetch(url.pathname + url.search, {
        method: 'PUT',
        headers: { 'content-type': 'text/plain' },
        body: new Blob([new Uint8Array(max + 1)]),
      });
      return { status: res.status, body: (await res.json()) as { code: string } };
    }, DEMO_MAX);
    expect(liar.status).toBe(413);
    expect(liar.body.code).toBe('EDGEWISE_UPLOAD_TOO_LARGE');

    // The only console errors are the refusals above (Chromium logs every 4xx it loads).
    expect(pageErrors.filter((e) => !/status of 41[35]/.test(e))).toEqual([]);
    await context.close();
  }, 120_000);

  it('explains an expired or an altered upload link in plain words', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    const context = await browser!.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const page = await context.newPage();
    // The signer's answer is changed on its way to the page: for one file the URL is replaced
    // by one for the same key that expired a minute ago (signed with the server's secret), for
    // the other its size limit is raised without re-signing.
    await page.route('**/_dev/upload-urls', async (route) => {
      const res = await route.fetch();
      if (route.request().method() !== 'POST' || res.status() !== 201)
        return route.fulfill({ response: res });
      const grant = (await res.json()) as { key: string; url: string };
      const url = new URL(grant.url);
      if (grant.key.endsWith('/late.txt')) {
        const params = signUploadParams(
          { signing: { secrets: [SECRET], defaultExpiresSeconds: 60, maxExpiresSeconds: 60 } },
          {
            method: 'PUT',
            scope: 'key',
            target: grant.key,
            types: [],
            maxBytes: 1024,
            expires: Math.floor(Date.now() / 1000) - 60,
          },
        );
        url.search = params.toString();
      } else url.searchParams.set('max', String(DEMO_MAX * 2));
      return route.fulfill({ response: res, json: { ...grant, url: url.toString() } });
    });
    await page.goto(`${d.originUrl}/`);
    await page.setInputFiles('#files', [
      { name: 'late.txt', mimeType: 'text/plain', buffer: Buffer.from('too late') },
      { name: 'edited.txt', mimeType: 'text/plain', buffer: Buffer.from('edited') },
    ]);
    await settled(page, 2);
    const late = await row(page, 'late.txt');
    expect(late.state).toBe('error');
    expect(late.status).toBe(
      'The upload link for “late.txt” expired before the file was sent. Add the file again to get a new link.',
    );
    const edited = await row(page, 'edited.txt');
    expect(edited.state).toBe('error');
    expect(edited.status).toBe(
      'The server refused the upload link for “edited.txt”: it was changed or is meant for another file. Add the file again.',
    );
    await context.close();
  }, 120_000);

  it('works as README says: opened on the edge URL that `edgewise dev` prints', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    const printed = /^\s+uploads\s+(http:\/\/\S+)/m.exec(d.output())?.[1];
    expect(printed).toBe(`${d.edgeUrl}/`);
    const context = await browser!.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const responses: Response[] = [];
    page.on('response', (r) => responses.push(r));
    const home = await page.goto(printed!);
    expect((await home!.allHeaders())['x-cache']).toMatch(/from edgewise$/);
    await expect.poll(() => page.locator('#limits').textContent()).toContain('Up to');
    const png = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#a03060' } })
      .png()
      .toBuffer();
    await page.setInputFiles('#files', [{ name: 'swatch.png', mimeType: 'image/png', buffer: png }]);
    await settled(page, 1);
    const r = await row(page, 'swatch.png');
    expect(r.status).toBe('Uploaded');
    expect(r.progress).toBe(100);
    const put = responses.find((x) => x.request().method() === 'PUT');
    expect(put?.url().startsWith(`${d.edgeUrl}/uploads/`)).toBe(true);
    const img = await loadedImage(page);
    expect(new URL(img.currentSrc).searchParams.get('w')).toBe(String(EXPECTED_WIDTH));
    const res = responses.find((x) => x.url() === img.currentSrc);
    expect((await res!.allHeaders())['content-type']).toMatch(/^image\/(avif|webp)$/);
    expect((await sharp(await res!.body()).metadata()).width).toBe(EXPECTED_WIDTH);

    // Dropped rather than picked: the drop zone takes files too.
    const dropped = await page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped on the page'], 'dropped.txt', { type: 'text/plain' }));
      return transfer;
    });
    await page.dispatchEvent('#picker', 'drop', { dataTransfer: dropped });
    await settled(page, 2);
    const drop = await row(page, 'dropped.txt');
    expect(drop.status).toBe('Uploaded');
    expect(drop.progress).toBe(100);
    await context.close();
  }, 120_000);
});
