/**
 * The dev upload demo over real sockets: the page and its assets, the signing endpoint's
 * checks and URLs, that none of it exists without dev.demoUploads, that `edgewise serve`
 * refuses it, and how `edgewise dev` turns it on.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, ConfigError, loadConfig } from '../../src/config/load.js';
import { demoUploadsEnv } from '../../src/dev/demo.js';
import { demoFileName } from '../../src/routes/demo-uploads.js';
import { runCli } from '../helpers/cli.js';
import { startTestOrigin, type TestOrigin, tempDir } from '../helpers/origin.js';

const SECRET = { id: 'k1', secret: 'a-test-secret-of-at-least-32-characters!' };
const demoConfig = {
  dev: { demoUploads: true, demo: { maxBytes: 1000 } },
  uploads: { signing: { secrets: [SECRET] } },
  // Load shedding off: these tests share two cores with others, and are not about overload.
  server: { overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 } },
};

interface Grant {
  key: string;
  method: string;
  url: string;
  maxBytes: number;
  contentTypes: string[];
  image: { srcset: string; src: string };
}

async function ask(base: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${base}/_dev/upload-urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    json: (await res.body.json()) as Grant & { code?: string },
  };
}

describe('upload demo with dev.demoUploads on', () => {
  let origin: TestOrigin;
  beforeAll(async () => {
    origin = await startTestOrigin(demoConfig);
  });
  afterAll(async () => {
    await origin.close();
  });

  it('serves the page with a strict CSP, revalidated by ETag, and its assets', async () => {
    const page = await request(`${origin.url}/`);
    const html = await page.body.text();
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(String(page.headers['content-security-policy'])).toContain("script-src 'self'");
    expect(html).toContain('<script type="module" src="/_dev/page/app.js">');
    const again = await request(`${origin.url}/`, {
      headers: { 'if-none-match': String(page.headers.etag) },
    });
    await again.body.dump();
    expect(again.statusCode).toBe(304);
    for (const [file, type] of [
      ['app.js', 'text/javascript; charset=utf-8'],
      ['app.css', 'text/css; charset=utf-8'],
      ['favicon.svg', 'image/svg+xml'],
    ]) {
      const res = await request(`${origin.url}/_dev/page/${file}`);
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe(type);
    }
  });

  it('tells the page its limits', async () => {
    const res = await request(`${origin.url}/_dev/upload-urls`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(await res.body.json()).toMatchObject({ maxBytes: 1000, expiresSeconds: 300 });
  });

  it('signs one fresh key per file under the demo prefix, and the URL uploads', async () => {
    const a = await ask(origin.url, { name: '../My Photo (1).jpg', size: 10, type: 'image/jpeg' });
    expect(a.status).toBe(201);
    expect(a.headers['cache-control']).toBe('no-store');
    expect(a.json.key).toMatch(/^demo\/[0-9a-f]{12}\/My-Photo-1-.jpg$/);
    expect(a.json.method).toBe('PUT');
    expect(a.json.maxBytes).toBe(1000);
    expect(a.json.url.startsWith(`${origin.url}/uploads/demo/`)).toBe(true);
    expect(a.json.image.srcset.split(', ')).toHaveLength(16);
    expect(a.json.image.srcset).toContain(`${origin.url}/img/${a.json.key}?w=384 384w`);
    const b = await ask(origin.url, { name: '../My Photo (1).jpg' });
    expect(b.json.key).not.toBe(a.json.key);

    const put = await request(a.json.url, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'hi',
    });
    expect(put.statusCode).toBe(201);
    expect(((await put.body.json()) as { key: string }).key).toBe(a.json.key);
    // The URL is for that key only.
    const other = await request(a.json.url.replace('My-Photo-1-.jpg', 'other.jpg'), {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'hi',
    });
    expect(other.statusCode).toBe(403);
    await other.body.dump();
  });

  it('refuses before signing what cannot succeed, with the upload codes', async () => {
    const big = await ask(origin.url, { name: 'a.txt', size: 1001, type: 'text/plain' });
    expect(big.status).toBe(413);
    expect(big.json.code).toBe('EDGEWISE_UPLOAD_TOO_LARGE');
    const html = await ask(origin.url, { name: 'a.html', size: 1, type: 'text/html; charset=utf-8' });
    expect(html.status).toBe(415);
    expect(html.json.code).toBe('EDGEWISE_UNSUPPORTED_TYPE');
    // Allowed by the server but not by the demo's narrower list.
    const zip = await ask(origin.url, { name: 'a.zip', size: 1, type: 'application/zip' });
    expect(zip.status).toBe(415);
    for (const body of [
      {},
      { name: '' },
      { name: 'a', size: -1 },
      { name: 'a', size: 1.5 },
      { name: 'a', extra: 1 },
      [],
    ]) {
      const bad = await ask(origin.url, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.json.code).toBe('EDGEWISE_BAD_UPLOAD_REQUEST');
    }
  });

  it('points URLs at the loopback page that asked (the edge in dev), never at a remote Origin', async () => {
    const viaEdge = await ask(origin.url, { name: 'a.txt' }, { origin: 'http://127.0.0.1:8081' });
    expect(viaEdge.json.url.startsWith('http://127.0.0.1:8081/uploads/demo/')).toBe(true);
    expect(viaEdge.headers['access-control-allow-origin']).toBe('http://127.0.0.1:8081');
    const remote = await ask(origin.url, { name: 'a.txt' }, { origin: 'https://evil.example' });
    expect(remote.json.url.startsWith(`${origin.url}/uploads/`)).toBe(true);
  });
});

describe('upload demo settings', () => {
  it('uses server.publicUrl for upload and image URLs when set', async () => {
    const origin = await startTestOrigin({
      ...demoConfig,
      server: { ...demoConfig.server, publicUrl: 'https://cdn.example.com/' },
    });
    try {
      const res = await ask(origin.url, { name: 'a.jpg' }, { origin: 'http://localhost:3000' });
      expect(res.json.url.startsWith('https://cdn.example.com/uploads/demo/')).toBe(true);
      expect(res.json.image.src).toMatch(/^https:\/\/cdn\.example\.com\/img\/demo\/.+\?w=\d+$/);
      const page = await request(`${origin.url}/`);
      await page.body.dump();
      expect(String(page.headers['content-security-policy'])).toContain(
        "img-src 'self' https://cdn.example.com;",
      );
    } finally {
      await origin.close();
    }
  });

  it('has no page and no signer while dev.demoUploads is off', async () => {
    const origin = await startTestOrigin({ uploads: demoConfig.uploads, server: demoConfig.server });
    try {
      for (const path of ['/', '/_dev/page/app.js', '/_dev/upload-urls']) {
        const res = await request(`${origin.url}${path}`);
        await res.body.dump();
        expect(res.statusCode, path).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, path).toBeLessThan(500);
      }
      const post = await ask(origin.url, { name: 'a.txt' });
      expect(post.status).toBe(404);
    } finally {
      await origin.close();
    }
  });

  it('reduces file names to one safe key segment', () => {
    expect(demoFileName('photo.jpg')).toBe('photo.jpg');
    expect(demoFileName('C:\\fakepath\\report 2024.pdf')).toBe('report-2024.pdf');
    expect(demoFileName('../../etc/passwd')).toBe('passwd');
    expect(demoFileName('..')).toBe('file');
    expect(demoFileName('.hidden')).toBe('hidden');
    expect(demoFileName('Ünïcödé.txt')).toBe('Unicode.txt');
    expect(demoFileName(`${'a'.repeat(300)}.png`)).toHaveLength(100);
  });

  it('checks the demo limits against the upload limits', () => {
    const issues = (raw: Record<string, unknown>) => {
      try {
        buildConfig(raw, undefined);
        return [];
      } catch (err) {
        if (err instanceof ConfigError) return err.issues.map((i) => i.path);
        throw err;
      }
    };
    expect(issues({ dev: { demo: { maxBytes: 2000 } }, uploads: { maxBytes: 1000 } })).toEqual([]);
    expect(
      issues({ dev: { demoUploads: true, demo: { maxBytes: 2000 } }, uploads: { maxBytes: 1000 } }),
    ).toEqual(['dev.demo.maxBytes']);
    expect(issues({ dev: { demoUploads: true, demo: { contentTypes: ['text/html'] } } })).toEqual([
      'dev.demo.contentTypes[0]',
    ]);
    expect(
      issues({
        dev: { demoUploads: true, demo: { expiresSeconds: 600 } },
        uploads: { signing: { maxExpiresSeconds: 300 } },
      }),
    ).toContain('dev.demo.expiresSeconds');
    expect(issues({ dev: { demo: { prefix: '../x/' } } })).toContain('dev.demo.prefix');
    expect(issues({ dev: { demo: { prefix: '.edgewise/x/' } } })).toContain('dev.demo.prefix');
  });
});

describe('how the commands treat dev.demoUploads', () => {
  it('`edgewise dev` turns it on with a generated secret unless the file or environment decides', async () => {
    const dir = await tempDir();
    const env = demoUploadsEnv(undefined, {});
    expect(env.EDGEWISE__DEV__DEMOUPLOADS).toBe('true');
    const loaded = loadConfig({ cwd: dir, env });
    expect(loaded.config.dev.demoUploads).toBe(true);
    expect(loaded.config.uploads.signing.secrets[0]?.secret).toMatch(/^[0-9a-f]{64}$/);

    expect(demoUploadsEnv(undefined, { EDGEWISE__DEV__DEMOUPLOADS: 'false' })).toEqual({});
    const off = join(dir, 'off.yaml');
    await writeFile(off, 'dev:\n  demoUploads: false\n');
    expect(demoUploadsEnv(off, {})).toEqual({});
    const ownSecret = join(dir, 'secret.yaml');
    await writeFile(
      ownSecret,
      `uploads:\n  signing:\n    secrets:\n      - id: mine\n        secret: ${SECRET.secret}\n`,
    );
    expect(demoUploadsEnv(ownSecret, {})).toEqual({ EDGEWISE__DEV__DEMOUPLOADS: 'true' });
  });

  it('`edgewise serve` refuses to start with it on (exit 2)', async () => {
    const dir = await tempDir();
    const res = await runCli(['serve'], {
      cwd: dir,
      env: {
        EDGEWISE__DEV__DEMOUPLOADS: 'true',
        EDGEWISE__SERVER__PORT: '0',
        EDGEWISE__STORAGE__FS__DATADIR: join(dir, 'data'),
      },
    });
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain('dev.demoUploads is for `edgewise dev` only');
  });
});
