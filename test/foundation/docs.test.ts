/**
 * The documentation is tested like code: every relative link in README.md and docs/*.md points at
 * a file (and heading) that exists, and every fenced block whose info string is `sh runnable` is
 * run and must exit 0. Blocks run with bash -euo pipefail in a fresh folder laid out like a user's
 * project (the built `edgewise` on PATH, the repo's test fixtures under test/, a photo.jpg), with
 * one `edgewise dev` running: the default URLs in the text (127.0.0.1:8081 for the edge,
 * 127.0.0.1:8080 for the origin) are pointed at it, and EDGEWISE_API_KEY / EDGEWISE_EDGE_KEY hold
 * its upload and invalidation keys.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, type LongRunning, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/origin.js';
import { photoJpeg } from '../images/fixtures.js';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const UPLOAD_KEY = 'docs-test-upload-key-0123456789';
const EDGE_KEY = 'docs-test-edge-key-0123456789';

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    out.add(
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  }
  return out;
}

interface Block {
  page: string;
  line: number;
  /** The fence's info string (`sh runnable`, `js`, …). */
  info: string;
  code: string;
}

/** Every fenced block of every page, with its info string. */
function fencedBlocks(): Block[] {
  const blocks: Block[] = [];
  for (const page of PAGES) {
    const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.startsWith('```')) continue;
      const end = lines.findIndex((l, k) => k > i && l.startsWith('```'));
      const close = end === -1 ? lines.length : end;
      blocks.push({
        page,
        line: i + 1,
        info: lines[i]!.slice(3).trim(),
        code: lines.slice(i + 1, close).join('\n'),
      });
      i = close;
    }
  }
  return blocks;
}

function runnableBlocks(): Block[] {
  return fencedBlocks().filter((b) => b.info === 'sh runnable');
}

/**
 * Every fenced shell block is run, or says why it cannot be: `sh not-run <reason>` (an AWS
 * account, a Docker engine, a command synopsis, the README's two commands that CI itself runs).
 * A bare `sh` block would be a command nobody checks.
 */
function unmarkedShellBlocks(): string[] {
  return fencedBlocks()
    .filter((b) => /^(sh|bash|shell|console|zsh)\b/.test(b.info))
    .filter((b) => b.info !== 'sh runnable' && !/^sh not-run \S.{4,}/.test(b.info))
    .map((b) => `${b.page}:${b.line} \`\`\`${b.info}`);
}

describe('docs shell blocks', () => {
  it('every shell block is `sh runnable` or `sh not-run <reason>`', () => {
    expect(unmarkedShellBlocks()).toEqual([]);
  });
});

describe('docs links', () => {
  for (const page of PAGES) {
    it(`${page}: every relative link resolves`, () => {
      const text = readFileSync(join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
      const broken: string[] = [];
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const path = file === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), file);
        if (!existsSync(path)) broken.push(`${target} (no file)`);
        else if (anchor && path.endsWith('.md') && !anchors(readFileSync(path, 'utf8')).has(anchor))
          broken.push(`${target} (no heading)`);
      }
      expect(broken).toEqual([]);
    });
  }
});

const blocks = runnableBlocks();

describe('docs commands', () => {
  let dev: LongRunning;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  let edge = '';
  let origin = '';

  beforeAll(async () => {
    const devDir = await tempDir('edgewise-docs-dev-');
    dev = startCli(['dev'], {
      cwd: devDir,
      env: {
        EDGEWISE__SERVER__PORT: '0',
        EDGEWISE__EDGE__PORT: '0',
        EDGEWISE__LOGGING__LEVEL: 'warn',
        EDGEWISE__UPLOADS__APIKEYS: `[${UPLOAD_KEY}]`,
        EDGEWISE__EDGE__INVALIDATION__APIKEYS: `[${EDGE_KEY}]`,
        EDGEWISE__SERVER__OVERLOAD__MAXEVENTLOOPDELAYMS: '0',
        EDGEWISE__SERVER__OVERLOAD__MAXEVENTLOOPUTILIZATION: '0',
      },
    });
    edge = /(http:\/\/\S+)/.exec(await dev.waitFor((l) => /^\s+edge\s+http/.test(l), 90_000))![1]!;
    origin = /(http:\/\/\S+)/.exec(await dev.waitFor((l) => /^\s+origin\s+http/.test(l)))![1]!;

    cwd = await tempDir('edgewise-docs-run-');
    const bin = join(cwd, '.bin');
    await mkdir(bin);
    await writeFile(join(bin, 'edgewise'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    await chmod(join(bin, 'edgewise'), 0o755);
    await mkdir(join(cwd, 'test'));
    await symlink(join(ROOT, 'test/fixtures'), join(cwd, 'test/fixtures'));
    await writeFile(join(cwd, 'photo.jpg'), await photoJpeg(64, 48));
    env = {
      ...cleanEnv(),
      PATH: `${bin}:${process.env.PATH}`,
      EDGEWISE_API_KEY: UPLOAD_KEY,
      EDGEWISE_EDGE_KEY: EDGE_KEY,
      // `edgewise sign upload` signs with the config's secrets; the docs' folder has no config.
      EDGEWISE__UPLOADS__SIGNING__SECRETS: '[{id: docs, secret: docs-test-signing-secret-0123456789abcdef}]',
    };
  }, 120_000);

  afterAll(async () => {
    await dev?.stop('SIGKILL');
  });

  it('there are runnable blocks', () => {
    expect(blocks.length).toBeGreaterThan(3);
  });

  for (const block of blocks) {
    it(`${block.page}:${block.line} runs`, async () => {
      const code = block.code
        .replaceAll('http://127.0.0.1:8081', edge)
        .replaceAll('http://127.0.0.1:8080', origin);
      const child = spawn('bash', ['-euo', 'pipefail', '-c', code], { cwd, env });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const status = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      clearTimeout(timer);
      expect(status, `${block.page}:${block.line}\n${code}\n--- output ---\n${out}`).toBe(0);
    }, 90_000);
  }
});
