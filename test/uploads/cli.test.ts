import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';
import { SECRET, startUploadOrigin, type UploadOrigin } from './helpers.js';

describe('edgewise sign upload', () => {
  let o: UploadOrigin;
  let cwd: string;
  const env = { EDGEWISE__UPLOADS__SIGNING__SECRETS: `[{id: ${SECRET.id}, secret: ${SECRET.secret}}]` };
  beforeAll(async () => {
    o = await startUploadOrigin('fs', { precompress: { enabled: false } });
    cwd = await tempDir('edgewise-cli-');
  });
  afterAll(() => o.close());

  test('prints a PUT URL that the origin accepts, within the limits given', async () => {
    const r = await runCli(
      [
        'sign',
        'upload',
        'u/cli/a.txt',
        '--max-bytes',
        '5',
        '--type',
        'text/plain',
        '--expires',
        '10m',
        '--base',
        o.url,
      ],
      { env, cwd, timeoutMs: 60_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const [method, url] = r.stdout.trim().split(' ');
    expect(method).toBe('PUT');
    const ok = await request(url!, {
      method: 'PUT',
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect(ok.statusCode).toBe(201);
    await ok.body.text();
    const big = await request(url!, {
      method: 'PUT',
      body: 'hello!',
      headers: { 'content-type': 'text/plain' },
    });
    expect(big.statusCode).toBe(413);
    await big.body.text();
  }, 120_000);

  test('--json for a prefix gives the POST form URL; bad input is exit 2 with the reason', async () => {
    const r = await runCli(['sign', 'upload', 'u/cli/', '--json', '--base', o.url], {
      env,
      cwd,
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ method: 'POST', prefix: 'u/cli/' });
    const bad = await runCli(['sign', 'upload', '../x'], { env, cwd, timeoutMs: 60_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Invalid object key');
    const tooLong = await runCli(['sign', 'upload', 'a', '--expires', '30d'], {
      env,
      cwd,
      timeoutMs: 60_000,
    });
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain('expiresInSeconds');
    const noSecret = await runCli(['sign', 'upload', 'a'], { cwd, timeoutMs: 60_000 });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('uploads.signing.secrets');
  }, 120_000);
});
