/**
 * The upload page (Uppy's Dashboard, served from the origin) in a real browser (Debian Chromium
 * driven by playwright-core) against a real `edgewise dev` process. The page is opened on the
 * origin and uploads go to the edge (its server.publicUrl), a different origin: the shape of a
 * shop page uploading to its CDN, so every upload needs a CORS preflight answered by the origin
 * through the edge. Large files, cut connections and reloads: upload-resume.test.ts.
 *
 * Skips, saying why, only when Chromium is not installed; CI installs it (.ci/run).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page, type Response } from 'playwright-core';
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
  className?: string;
  complete?: boolean;
  naturalWidth?: number;
  currentSrc?: string;
}
declare const DataTransfer: new () => { items: { add(file: File): void } };
declare const ClipboardEvent: new (
  type: string,
  init: { clipboardData: unknown; bubbles: boolean },
) => unknown;
declare const document: {
  body: { dispatchEvent(event: unknown): boolean };
  querySelectorAll(selector: string): Iterable<PageElement>;
  querySelector(selector: string): PageElement | null;
};

/** Resolves when the list holds `rows` finished uploads (done or refused). */
async function settled(page: Page, rows: number): Promise<void> {
  await page.waitForFunction(
    (n) => [...document.querySelectorAll('#uploads li')].filter((li) => li.dataset.state).length >= n,
    rows,
    { timeout: 30_000 },
  );
}

/** A file's row in the list below the Dashboard, and its item in the Dashboard. */
async function row(page: Page, name: string) {
  const li = page.locator('#uploads li', { has: page.locator('.name', { hasText: name }) });
  const item = page.locator('.uppy-Dashboard-Item', { hasText: name });
  return {
    state: await li.getAttribute('data-state'),
    status: await li.locator('.status').textContent(),
    li,
    item,
  };
}

/**
 * A new tab that intercepts file choosers from the start. Playwright turns interception on
 * when the first 'filechooser' listener is added, asynchronously: a listener added together
 * with the click can miss a chooser the click opens at once.
 */
async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on('filechooser', () => {});
  return page;
}

/**
 * The page has its limits and the Dashboard has laid itself out: it renders once, measures its
 * width, then renders its insides for that width (new elements), so focus and clicks wait.
 */
async function ready(page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready="true"] #uploader .uppy-Dashboard--isInnerWrapVisible');
}

/** Files picked as a user picks them: the Dashboard's own button and the file chooser. */
async function pick(page: Page, files: Parameters<Page['setInputFiles']>[1]): Promise<void> {
  await ready(page);
  const browse = page.locator('#uploader button.uppy-Dashboard-browse').first();
  if (await browse.isVisible()) {
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), browse.click()]);
    await chooser.setFiles(files);
  } else
    await page.setInputFiles(
      '#uploader input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])',
      files,
    );
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
    const page = await openPage(context);
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

    // Uppy came from the page's own origin, not from a CDN.
    const vendor = responses.filter((r) => r.url().includes('/_dev/page/vendor/'));
    expect(vendor.map((r) => new URL(r.url()).pathname).sort()).toEqual([
      '/_dev/page/vendor/uppy.min.css',
      '/_dev/page/vendor/uppy.min.mjs',
    ]);
    for (const r of vendor) expect(r.url().startsWith(`${d.originUrl}/`)).toBe(true);
    expect(responses.every((r) => r.url().startsWith('http://127.0.0.1:'))).toBe(true);

    // The limits are on the page, and the Dashboard's file chooser only offers those types.
    expect(await page.locator('.uppy-Dashboard-note').textContent()).toContain(
      'Up to 1.0 MiB each · JPEG, PNG, WebP, GIF, AVIF, text, PDF',
    );
    expect(
      await page
        .locator('#uploader input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])')
        .getAttribute('accept'),
    ).toContain('image/jpeg');

    const jpeg = await photo();
    await pick(page, [
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
      // The Dashboard's item for the file is complete, with no error.
      await expect.poll(() => r.item.getAttribute('class')).toMatch(/\bis-complete\b/);
      expect(await r.item.getAttribute('class')).not.toMatch(/\bis-error\b/);
    }
    expect(await page.locator('.uppy-StatusBar').getAttribute('aria-hidden')).not.toBe('true');

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

    // An oversize file and a type the site does not take: the page refuses them before it
    // asks for an upload URL (Uppy's restrictions, from the limits the demo endpoint gives), and
    // says why in plain words. A file whose name and declared type say PNG but whose bytes are
    // text passes those checks and is refused by the upload endpoint's content sniffing (415);
    // the page turns the server's coded error into a sentence and leaves no bar at 99 %.
    const asksBefore = responses.filter((r) => r.url().endsWith('/_dev/upload-urls')).length;
    const putsBefore = responses.filter((r) => r.request().method() === 'PUT').length;
    await pick(page, [
      { name: 'catalogue.txt', mimeType: 'text/plain', buffer: Buffer.alloc(DEMO_MAX + 512 * 1024, 'a') },
      { name: 'page.html', mimeType: 'text/html', buffer: Buffer.from('<p>hi</p>') },
    ]);
    await settled(page, 4);
    const big = await row(page, 'catalogue.txt');
    expect(big.state).toBe('error');
    expect(big.status).toBe('“catalogue.txt” is too large (1.5 MiB). Files can be up to 1.0 MiB.');
    const html = await row(page, 'page.html');
    expect(html.state).toBe('error');
    expect(html.status).toBe(
      '“page.html” is a kind of file this site does not accept (text/html). Accepted: JPEG, PNG, WebP, GIF, AVIF, text, PDF.',
    );
    // Uppy's own notice says the same, in the same units.
    await expect
      .poll(async () => (await page.locator('#uploader .uppy-Informer').allTextContents()).join(' '))
      .toMatch(/“catalogue.txt” is too large. Files can be up to 1.0 MiB.|not accepted here/);
    // Neither file was asked for nor sent.
    expect(responses.filter((r) => r.url().endsWith('/_dev/upload-urls'))).toHaveLength(asksBefore);
    expect(responses.filter((r) => r.request().method() === 'PUT')).toHaveLength(putsBefore);

    await pick(page, [
      { name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all\n') },
    ]);
    await settled(page, 5);
    const fake = await row(page, 'fake.png');
    expect(fake.state).toBe('error');
    expect(fake.status).toBe(
      '“fake.png” is named as a PNG file but its contents are not PNG, so it was not stored. Accepted: JPEG, PNG, WebP, GIF, AVIF, text, PDF.',
    );
    const refused = responses.filter((r) => r.request().method() === 'PUT' && r.status() === 415);
    expect(refused).toHaveLength(1);
    // The Dashboard marks the file failed (with the same sentence for screen readers), not done.
    await expect.poll(() => fake.item.getAttribute('class')).toMatch(/\bis-error\b/);
    expect(await fake.item.getAttribute('class')).not.toMatch(/\bis-complete\b/);
    expect(await fake.item.locator('.uppy-Dashboard-Item-errorDetails').getAttribute('aria-label')).toBe(
      fake.status,
    );
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

    // The only console errors are the refusals above: Chromium logs every 4xx it loads, and
    // Uppy logs the failed upload with the sentence the page shows. No CSP violation, no
    // script error.
    expect(
      pageErrors.filter(
        (e) => !/status of 41[35]/.test(e) && !(e.startsWith('[Uppy]') && e.endsWith(fake.status!)),
      ),
    ).toEqual([]);
    await context.close();
  }, 120_000);

  it('explains an expired or an altered upload link in plain words', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    const context = await browser!.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const page = await openPage(context);
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
    await pick(page, [
      { name: 'late.txt', mimeType: 'text/plain', buffer: Buffer.from('too late') },
      { name: 'edited.txt', mimeType: 'text/plain', buffer: Buffer.from('edited') },
    ]);
    await settled(page, 2);
    const late = await row(page, 'late.txt');
    expect(late.state).toBe('error');
    expect(late.status).toBe(
      'The upload link for “late.txt” expired before the file was sent. Remove the file and add it again to get a new link.',
    );
    const edited = await row(page, 'edited.txt');
    expect(edited.state).toBe('error');
    expect(edited.status).toBe(
      'The server refused the upload link for “edited.txt”: it was changed or is meant for another file. Remove the file and add it again.',
    );
    await context.close();
  }, 120_000);

  it('works as README says: opened on the edge URL that `edgewise dev` prints', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    const printed = /^\s+uploads\s+(http:\/\/\S+)/m.exec(d.output())?.[1];
    expect(printed).toBe(`${d.edgeUrl}/`);
    const context = await browser!.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    const page = await openPage(context);
    const responses: Response[] = [];
    page.on('response', (r) => responses.push(r));
    const home = await page.goto(printed!);
    expect((await home!.allHeaders())['x-cache']).toMatch(/from edgewise$/);
    await expect.poll(() => page.locator('#limits').textContent()).toContain('Up to');
    const png = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#a03060' } })
      .png()
      .toBuffer();
    await pick(page, [{ name: 'swatch.png', mimeType: 'image/png', buffer: png }]);
    await settled(page, 1);
    const r = await row(page, 'swatch.png');
    expect(r.status).toBe('Uploaded');
    await expect.poll(() => r.item.getAttribute('class')).toMatch(/\bis-complete\b/);
    const put = responses.find((x) => x.request().method() === 'PUT');
    expect(put?.url().startsWith(`${d.edgeUrl}/uploads/`)).toBe(true);
    const img = await loadedImage(page);
    expect(new URL(img.currentSrc).searchParams.get('w')).toBe(String(EXPECTED_WIDTH));
    const res = responses.find((x) => x.url() === img.currentSrc);
    expect((await res!.allHeaders())['content-type']).toMatch(/^image\/(avif|webp)$/);
    expect((await sharp(await res!.body()).metadata()).width).toBe(EXPECTED_WIDTH);

    // Dropped rather than picked: the Dashboard takes dropped files too.
    const dropped = await page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped on the page'], 'dropped.txt', { type: 'text/plain' }));
      return transfer;
    });
    await page.dispatchEvent('#uploader .uppy-Dashboard-inner', 'drop', { dataTransfer: dropped });
    await settled(page, 2);
    const drop = await row(page, 'dropped.txt');
    expect(drop.status).toBe('Uploaded');

    // Pasted: a file on the clipboard, pasted with the focus anywhere on the page.
    await page.evaluate(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['pasted from the clipboard'], 'pasted.txt', { type: 'text/plain' }));
      document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true }));
    });
    await settled(page, 3);
    const pasted = await row(page, 'pasted.txt');
    expect(pasted.status).toBe('Uploaded');
    const link = await pasted.li.locator('a.open').getAttribute('href');
    expect(await (await fetch(link!)).text()).toBe('pasted from the clipboard');
    await context.close();
  }, 120_000);

  it('works on a phone and without a mouse: no sideways scroll, big targets, named controls, keyboard reachable', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    const context = await browser!.newContext({
      viewport: { width: 375, height: 740 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    const page = await openPage(context);
    await page.goto(`${d.originUrl}/`);
    await ready(page);
    await mkdir(ARTIFACTS, { recursive: true });

    const layout = () =>
      page.evaluate(() => {
        const el = document.querySelector('html') as unknown as { scrollWidth: number; clientWidth: number };
        return { scrollWidth: el.scrollWidth, clientWidth: el.clientWidth };
      });
    // Nothing wider than the screen.
    const empty = await layout();
    expect(empty.scrollWidth).toBeLessThanOrEqual(empty.clientWidth);
    // The button that opens the file chooser is big enough for a thumb (WCAG 2.5.5: 44 × 44
    // CSS px) and opens it on a tap.
    const browse = page.locator('#uploader button.uppy-Dashboard-browse');
    const box = (await browse.boundingBox())!;
    expect(box.width).toBeGreaterThanOrEqual(44);
    expect(box.height).toBeGreaterThanOrEqual(44);
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(375);
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), browse.tap()]);
    await chooser.setFiles([
      {
        name: 'a rather long file name from a phone camera roll.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('one'),
      },
      { name: 'IMG_0001.txt', mimeType: 'text/plain', buffer: Buffer.from('two') },
    ]);
    await settled(page, 2);
    const full = await layout();
    expect(full.scrollWidth).toBeLessThanOrEqual(full.clientWidth);
    await page.screenshot({ path: `${ARTIFACTS}/upload-page-mobile.png`, fullPage: true });

    // Every control has a name a screen reader can say, and every image a text alternative.
    const unnamed = await page.evaluate(() => {
      type El = {
        tagName: string;
        outerHTML: string;
        textContent: string | null;
        getAttribute(n: string): string | null;
        getClientRects(): { length: number };
        closest(s: string): unknown;
      };
      const all = [
        ...(document.querySelectorAll(
          'button, a[href], input, img, [role="button"]',
        ) as unknown as Iterable<El>),
      ];
      return all
        .filter((el) => el.getClientRects().length > 0 && !el.closest('[aria-hidden="true"]'))
        .filter((el) => {
          const name =
            el.getAttribute('aria-label') ??
            (el.tagName === 'IMG' ? el.getAttribute('alt') : el.textContent?.trim());
          return !name && !el.getAttribute('title') && !el.getAttribute('aria-labelledby');
        })
        .map((el) => el.outerHTML.slice(0, 120));
    });
    expect(unnamed).toEqual([]);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.locator('#transfer').getAttribute('role')).toBe('status');

    // From the top of the page, the keyboard reaches the file chooser button in a few steps,
    // and Enter opens the chooser.
    await page.reload();
    await ready(page);
    let reached = false;
    for (let i = 0; i < 15 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await browse.evaluate(
        (el) => el === (document as unknown as { activeElement: unknown }).activeElement,
      );
    }
    expect(reached, 'Tab reaches “choose files”').toBe(true);
    const [again] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
    expect(again.isMultiple()).toBe(true);
    await context.close();
  }, 120_000);
});
