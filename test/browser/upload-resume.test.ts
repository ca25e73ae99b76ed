/**
 * A large upload through the upload page (Uppy's Dashboard, @uppy/aws-s3 multipart against the
 * resumable routes) in real Chromium, over a network the test controls: a TCP proxy
 * (test/helpers/cut-proxy.ts) between the browser and the edge, throttled so the upload takes
 * a few seconds, then cut mid-way (every connection reset, new ones refused for a while) while
 * the page is reloaded. After the reload the page restores the file (Golden Retriever: the
 * blob in IndexedDB, the upload id and key in localStorage), the user presses the upload
 * button, and the upload goes on from the parts already stored. The test checks the stored
 * object's SHA-256, that no part stored before the cut was sent again, and, counting the bytes
 * that passed the proxy, that at most the parts in flight at the cut were sent twice.
 *
 * The page is opened on the origin directly (not through the proxy), so the reload works while
 * the proxy refuses, as a page cached by a phone would; uploads go to server.publicUrl, the
 * proxy. Skips, saying why, only when Chromium is not installed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { type CutProxy, startCutProxy } from '../helpers/cut-proxy.js';
import { type DevProcess, freePort, startDev } from './dev-process.js';

const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
if (!HAVE_CHROMIUM) console.warn(`test/browser/upload-resume.test.ts skipped: ${SKIP_REASON}`);

const MiB = 1024 * 1024;
// Eight parts of 5 MiB (the page's part size, DEMO_PART_BYTES): several in flight at a time.
const FILE_BYTES = 40 * MiB;
const PART_BYTES = 5 * MiB;
// Slow enough that the cut lands mid-way, fast enough for a short test.
const UPLINK = 8 * MiB;
// Each request through the proxy carries headers (and preflights ride along): a generous bound
// on what is not part bytes.
const OVERHEAD_PER_REQUEST = 4 * 1024;

declare const document: { querySelector(s: string): { textContent: string | null } | null };

/** A PDF by its first bytes (the server sniffs them), random after that. */
async function bigPdf(dir: string): Promise<{ path: string; sha256: string }> {
  const body = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(FILE_BYTES - 9)]);
  const path = join(dir, 'survey scans.pdf');
  await writeFile(path, body);
  return { path, sha256: createHash('sha256').update(body).digest('hex') };
}

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready="true"] #uploader .uppy-Dashboard--isInnerWrapVisible');
}

/** Part PUTs as the browser made them: part number → started / answered with 200. */
function watchParts(page: Page) {
  const started = new Map<number, number>();
  const stored = new Set<number>();
  const listed: string[] = [];
  const partOf = (r: Request) => {
    const m = /\/uploads\/\.edgewise\/parts\/[^/]+\/(\d+)\?/.exec(r.url());
    return m && r.method() === 'PUT' ? Number(m[1]) : undefined;
  };
  page.on('request', (r) => {
    const n = partOf(r);
    if (n !== undefined) started.set(n, (started.get(n) ?? 0) + 1);
    if (r.method() === 'GET' && /\/s3\/multipart\/[^/?]+\?key=/.test(r.url())) listed.push(r.url());
  });
  page.on('requestfinished', async (r) => {
    const n = partOf(r);
    if (n !== undefined && (await r.response())?.status() === 200) stored.add(n);
  });
  return { started, stored, listed };
}

describe('a large upload through the page survives a cut connection and a reload', () => {
  let dev: DevProcess | undefined;
  let proxy: CutProxy | undefined;
  let browser: Browser | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) return;
    const edgePort = await freePort();
    proxy = await startCutProxy({ port: edgePort });
    dev = await startDev({
      EDGEWISE__EDGE__PORT: String(edgePort),
      EDGEWISE__SERVER__PUBLICURL: proxy.url,
      EDGEWISE__DEV__DEMO__MAXBYTES: String(64 * MiB),
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, '--disable-quic'] });
    dir = await mkdtemp(join(tmpdir(), 'edgewise-resume-'));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
    await proxy?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('resumes after the cut and the reload from the parts already stored; the object is byte-exact', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    const p = proxy!;
    const file = await bigPdf(dir!);
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    let proxied = 0;
    page.on('request', (r) => {
      if (r.url().startsWith(`${p.url}/`)) proxied++;
    });
    const before = watchParts(page);

    await page.goto(`${d.originUrl}/`);
    await ready(page);
    p.throttle(UPLINK);
    const upAtStart = p.bytesUp();
    await page.setInputFiles(
      '#uploader input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])',
      file.path,
    );

    // While it goes: the total, the speed and the time left, in words.
    await expect
      .poll(() => page.locator('#transfer').textContent(), { timeout: 20_000 })
      .toMatch(/^Sending 1 file: [\d.]+ (KiB|MiB) of 40 MiB · [\d.]+ (KiB|MiB)\/s · about \d.* left$/);

    // Mid-way: half the parts stored and the rest on their way.
    await expect
      .poll(() => before.stored.size >= 4 && p.bytesUp() - upAtStart >= 28 * MiB, {
        timeout: 30_000,
        interval: 50,
      })
      .toBe(true);
    const storedAtCut = new Set(before.stored);
    const inFlight = [...before.started.keys()].filter((n) => !storedAtCut.has(n));
    expect(storedAtCut.size + inFlight.length).toBeLessThanOrEqual(FILE_BYTES / PART_BYTES);

    // The cut: every connection reset, new ones refused for 3 s; the page is reloaded meanwhile.
    const cut = p.cut(3000);
    const after = watchParts(page);
    await page.reload();
    await ready(page);
    // Golden Retriever brought the file back, bytes and all, and says so.
    await expect
      .poll(() => page.locator('#uploader').textContent())
      .toContain('We restored all files. You can now resume the upload.');
    expect(await page.locator('.uppy-Dashboard-Item', { hasText: 'survey scans.pdf' }).count()).toBe(1);
    await cut;

    await page.locator('#uploader .uppy-StatusBar-actionBtn--upload').click();
    const row = page.locator('#uploads li', { has: page.locator('.name', { hasText: 'survey scans.pdf' }) });
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('done');
    expect(await row.locator('.status').textContent()).toBe('Uploaded');

    // Resumed, not restarted: the stored parts were listed, and none of them was sent again.
    expect(after.listed.length).toBeGreaterThanOrEqual(1);
    const resent = [...after.started.keys()];
    expect(resent.filter((n) => storedAtCut.has(n))).toEqual([]);
    expect(new Set([...storedAtCut, ...after.stored]).size).toBe(FILE_BYTES / PART_BYTES);

    // Bytes: the file once, plus at most the parts that were in flight at the cut (each sent
    // again whole), plus request overhead. Starting again from zero would add the stored parts
    // (20 MiB and more) on top.
    const up = p.bytesUp() - upAtStart;
    const resentBound = inFlight.length * PART_BYTES;
    console.log(
      `resume: ${(up / MiB).toFixed(2)} MiB through the proxy for a ${FILE_BYTES / MiB} MiB file; ` +
        `${storedAtCut.size} parts stored and ${inFlight.length} in flight at the cut; ${proxied} requests`,
    );
    expect(up).toBeGreaterThanOrEqual(FILE_BYTES);
    expect(up - FILE_BYTES).toBeLessThanOrEqual(resentBound + proxied * OVERHEAD_PER_REQUEST);

    // The stored object is the file, byte for byte, served by the edge as a PDF.
    const link = await row.locator('a.open').getAttribute('href');
    expect(link?.startsWith(`${p.url}/demo/`)).toBe(true);
    p.throttle(undefined);
    const res = await fetch(link!.replace(p.url, d.edgeUrl));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(FILE_BYTES);
    expect(createHash('sha256').update(body).digest('hex')).toBe(file.sha256);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('after a cut longer than its retries it says so, and retry sends only the missing parts; pause and resume', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    const p = proxy!;
    const file = await bigPdf(dir!);
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const parts = watchParts(page);
    const deletes: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'DELETE') deletes.push(r.url());
    });
    await page.goto(`${d.originUrl}/`);
    await ready(page);
    p.throttle(UPLINK);
    await page.setInputFiles(
      '#uploader input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])',
      file.path,
    );
    const item = page.locator('.uppy-Dashboard-Item', { hasText: 'survey scans.pdf' });
    const row = page.locator('#uploads li', { has: page.locator('.name', { hasText: 'survey scans.pdf' }) });

    // A cut that outlasts the page's retries (0, 1, 3, 5 s): the file fails, in plain words.
    await expect.poll(() => parts.stored.size, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(4);
    const storedAtCut = new Set(parts.stored);
    const cut = p.cut(20_000);
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('error');
    expect(await row.locator('.status').textContent()).toBe(
      '“survey scans.pdf” could not be sent: the connection to the server failed. The parts already sent are kept; press retry when you are back online.',
    );
    await expect.poll(() => item.getAttribute('class')).toMatch(/\bis-error\b/);
    await cut;

    // Retry: the stored parts are listed and kept (the failure sent no DELETE), only the
    // others are sent.
    expect(deletes).toEqual([]);
    const sentBefore = new Map(parts.started);
    parts.listed.length = 0;
    await item.getByRole('button', { name: 'Retry upload' }).click();
    await expect.poll(() => parts.listed.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    const sentAgain = () =>
      [...parts.started].filter(([n, count]) => count > (sentBefore.get(n) ?? 0)).map(([n]) => n);
    await expect.poll(() => sentAgain().length, { timeout: 10_000 }).toBeGreaterThan(0);

    // Pause: the parts in flight stop and nothing more passes the proxy; the page says paused.
    await item.getByRole('button', { name: 'Pause upload' }).click();
    await expect.poll(() => page.locator('#transfer').textContent()).toContain('· paused');
    let last = -1;
    await expect
      .poll(
        () => {
          const now = p.bytesUp();
          const still = now === last;
          last = now;
          return still;
        },
        { timeout: 10_000, interval: 300 },
      )
      .toBe(true);
    await item.getByRole('button', { name: 'Resume upload' }).click();
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('done');
    expect(sentAgain().filter((n) => storedAtCut.has(n))).toEqual([]);

    const link = await row.locator('a.open').getAttribute('href');
    p.throttle(undefined);
    const body = Buffer.from(await (await fetch(link!.replace(p.url, d.edgeUrl))).arrayBuffer());
    expect(createHash('sha256').update(body).digest('hex')).toBe(file.sha256);
    await context.close();
  }, 120_000);

  it('removing a file mid-upload cancels it: the multipart upload is aborted and its parts are gone', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    const p = proxy!;
    const file = await bigPdf(dir!);
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const parts = watchParts(page);
    const deletes: Array<{ url: string; status: number | undefined }> = [];
    page.on('requestfinished', async (r) => {
      if (r.method() === 'DELETE') deletes.push({ url: r.url(), status: (await r.response())?.status() });
    });
    await page.goto(`${d.originUrl}/`);
    await ready(page);
    p.throttle(UPLINK);
    await page.setInputFiles(
      '#uploader input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])',
      file.path,
    );
    await expect.poll(() => parts.stored.size, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(1);
    await page
      .locator('.uppy-Dashboard-Item', { hasText: 'survey scans.pdf' })
      .getByRole('button', { name: /^Remove file/ })
      .click();
    await expect.poll(() => deletes.length, { timeout: 10_000 }).toBe(1);
    expect(deletes[0]!.status).toBe(200);
    expect(await page.locator('.uppy-Dashboard-Item').count()).toBe(0);
    // The upload is gone on the server: listing its parts now finds nothing.
    p.throttle(undefined);
    const listed = await fetch(deletes[0]!.url);
    expect(listed.status).toBe(404);
    expect(((await listed.json()) as { code: string }).code).toBe('EDGEWISE_MULTIPART_NOT_FOUND');
    await context.close();
  }, 60_000);

  it('a file in parts whose bytes are not what it says is refused at completion, in a sentence, and nothing is stored', async (ctx) => {
    if (!HAVE_CHROMIUM) ctx.skip(SKIP_REASON);
    const d = dev!;
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const completions: number[] = [];
    let key: string | null = null;
    page.on('requestfinished', async (r) => {
      if (r.method() !== 'POST' || !r.url().includes('/complete?')) return;
      key = new URL(r.url()).searchParams.get('key');
      completions.push((await r.response())!.status());
    });
    await page.goto(`${d.originUrl}/`);
    await ready(page);
    proxy!.throttle(undefined);
    // Two parts of text, named and declared as a PNG.
    await page.setInputFiles('#uploader input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])', {
      name: 'poster.png',
      mimeType: 'image/png',
      buffer: Buffer.alloc(6 * MiB, 'not a picture\n'),
    });
    const row = page.locator('#uploads li', { has: page.locator('.name', { hasText: 'poster.png' }) });
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('error');
    expect(completions).toEqual([415]);
    expect(await row.locator('.status').textContent()).toBe(
      '“poster.png” is named as a PNG file but its contents are not PNG, so it was not stored. Accepted: JPEG, PNG, WebP, GIF, AVIF, text, PDF.',
    );
    const item = page.locator('.uppy-Dashboard-Item', { hasText: 'poster.png' });
    expect(await item.getAttribute('class')).toMatch(/\bis-error\b/);
    expect(await item.getAttribute('class')).not.toMatch(/\bis-complete\b/);
    // Nothing is visible at the key.
    expect(key).toMatch(/^demo\/[0-9a-f]{12}\/poster.png$/);
    const stored = await fetch(`${d.edgeUrl}/${key}`);
    expect(stored.status).toBe(404);
    await stored.body?.cancel();
    await context.close();
  }, 60_000);
});
