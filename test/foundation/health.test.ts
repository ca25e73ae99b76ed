/**
 * `edgewise health` (the image's HEALTHCHECK) against a real `edgewise serve` in each protocol
 * the origin can serve: HTTP/1.1, h2c and TLS. Both read the same environment, as in the image.
 * The old HEALTHCHECK (`fetch('http://…/healthz')`) failed against h2c and TLS.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeSelfSigned } from '../../src/dev/self-signed.js';
import { freePort } from '../browser/dev-process.js';
import { type LongRunning, runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';

let server: LongRunning | undefined;
afterEach(async () => {
  await server?.stop('SIGKILL');
  server = undefined;
});

async function originEnv(
  mode: 'http1.1' | 'h2c' | 'tls',
): Promise<{ cwd: string; env: Record<string, string> }> {
  const cwd = await tempDir('edgewise-health-');
  const env: Record<string, string> = {
    EDGEWISE__SERVER__HOST: '0.0.0.0',
    EDGEWISE__SERVER__PORT: String(await freePort()),
    EDGEWISE__STORAGE__FS__DATADIR: join(cwd, 'data'),
  };
  if (mode === 'h2c') env.EDGEWISE__SERVER__H2C = 'true';
  if (mode === 'tls') {
    const tls = makeSelfSigned(cwd);
    env.EDGEWISE__SERVER__TLS = `{ cert: "${tls.cert}", key: "${tls.key}" }`;
  }
  return { cwd, env };
}

describe('edgewise health', () => {
  it.each(['http1.1', 'h2c', 'tls'] as const)(
    'passes against a %s origin, and fails once it stops',
    async (mode) => {
      const { cwd, env } = await originEnv(mode);
      server = startCli(['serve'], { cwd, env });
      await server.waitFor((l) => l.includes('origin listening'), 30_000);
      const ok = await runCli(['health'], { cwd, env });
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(new RegExp(`^ok: 200 from http.*/healthz \\(${mode.replace('.', '\\.')}\\)`));
      const ready = await runCli(['health', '--path', '/readyz'], { cwd, env });
      expect(ready.code).toBe(0);
      expect(await server.stop('SIGTERM')).toBe(0);
      server = undefined;
      const down = await runCli(['health'], { cwd, env });
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(/^unhealthy: .*ECONNREFUSED/);
    },
    60_000,
  );

  it('refuses a bad --path or --timeout with exit 2', async () => {
    expect((await runCli(['health', '--path', '/metrics'])).code).toBe(2);
    const bad = await runCli(['health', '--timeout', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--timeout must be a duration');
  });
});
