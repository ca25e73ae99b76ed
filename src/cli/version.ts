/**
 * The package version for `edgewise --version`: read from the package.json that ships beside the
 * compiled code (the Dockerfile copies it; npm installs it), found by walking up from this module
 * so the same code works from src/ under vitest and from dist/src/ in production.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'edgewise' && typeof pkg.version === 'string') return pkg.version;
    }
    if (dirname(dir) === dir) throw new Error(`no edgewise package.json above ${from}`);
  }
}
