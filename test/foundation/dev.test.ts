/**
 * `edgewise dev` on a fresh directory: no config file, no cloud account, no extra service.
 * It seeds ./data, prints the URLs, and the printed edge URL serves a seeded asset (then from
 * cache). Regression: the seed image was drawn from SVG, which the image route blocks
 * process-wide, so dev crashed on a fresh ./data.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LongRunning, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';

let dev: LongRunning | undefined;
afterEach(async () => {
  await dev?.stop('SIGKILL');
  dev = undefined;
});

describe('edgewise dev', () => {
  it('seeds a fresh ./data and serves the sample assets through the printed edge URL', async () => {
    const cwd = await tempDir('edgewise-dev-');
    dev = startCli(['dev'], {
      cwd,
      env: {
        EDGEWISE__SERVER__PORT: '0',
        EDGEWISE__EDGE__PORT: '0',
        EDGEWISE__LOGGING__LEVEL: 'warn',
        // CI shares two cores with other test files; this test is not about load shedding.
        EDGEWISE__SERVER__OVERLOAD__MAXEVENTLOOPDELAYMS: '0',
        EDGEWISE__SERVER__OVERLOAD__MAXEVENTLOOPUTILIZATION: '0',
      },
    });
    const edgeLine = await dev.waitFor((l) => /^\s+edge\s+http/.test(l), 90_000);
    const originLine = await dev.waitFor((l) => /^\s+origin\s+http/.test(l));
    const edgeUrl = /(http:\/\/\S+)/.exec(edgeLine)![1]!;
    const originUrl = /(http:\/\/\S+)/.exec(originLine)![1]!;
    expect(dev.lines.some((l) => l.includes(`curl -i ${edgeUrl}/static/hello.txt`))).toBe(true);

    const first = await fetch(`${edgeUrl}/static/hello.txt`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('Hello from edgewise.\n');
    const second = await fetch(`${edgeUrl}/static/hello.txt`);
    await second.arrayBuffer();
    expect(second.headers.get('x-cache')).toMatch(/^Hit from edgewise/);

    const image = await fetch(`${originUrl}/static/product.jpg`);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    expect(existsSync(join(cwd, 'data'))).toBe(true);

    expect(await dev.stop('SIGTERM')).toBe(0);
    dev = undefined;
  }, 150_000);
});
