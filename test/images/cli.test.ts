import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';

// Each case spawns the built CLI; on a loaded machine that takes seconds.
describe('edgewise images srcset', { timeout: 30_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    assertBuilt();
    dir = await tempDir();
    await writeFile(
      join(dir, 'edgewise.yaml'),
      'server:\n  publicUrl: https://cdn.example\nimages:\n  widths: [320, 640, 1280]\n  qualities: [60, 80]\n  defaultQuality: 80\n',
    );
  }, 60_000);

  test('prints the srcset over the configured widths, with the public URL', async () => {
    const r = await runCli(['images', 'srcset', 'products/shoe.jpg', '--fmt', 'webp', '--q', '60'], {
      cwd: dir,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'https://cdn.example/img/products/shoe.jpg?w=320&q=60&fmt=webp 320w, ' +
        'https://cdn.example/img/products/shoe.jpg?w=640&q=60&fmt=webp 640w, ' +
        'https://cdn.example/img/products/shoe.jpg?w=1280&q=60&fmt=webp 1280w\n',
    );
  });

  test('--html prints an <img> with escaped attributes; --max-width trims', async () => {
    const r = await runCli(
      [
        'images',
        'srcset',
        'a.jpg',
        '--html',
        '--max-width',
        '700',
        '--base',
        '',
        '--sizes',
        '(min-width: 40em) 50vw, 100vw',
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      '<img src="/img/a.jpg?w=640" srcset="/img/a.jpg?w=320 320w, /img/a.jpg?w=640 640w" sizes="(min-width: 40em) 50vw, 100vw" alt="">\n',
    );
  });

  test.each([
    [['images', 'srcset'], /expected exactly one image key/],
    [['images', 'srcset', 'a.jpg', '--q', '75'], /q=75 is not allowed; allowed: 60, 80/],
    [['images', 'srcset', 'a.jpg', '--fmt', 'bmp'], /fmt=bmp is not allowed/],
    [['images', 'srcset', '.edgewise/x'], /reserved/],
    [['images', 'srcset', 'a.jpg', '--max-width', 'big'], /--max-width must be a positive integer/],
  ])('%j exits 2 with a clear message', async (args, message) => {
    const r = await runCli(args, { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});
