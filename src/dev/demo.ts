/**
 * How `edgewise dev` turns the upload demo on: environment overrides, applied before the config
 * is loaded, so that a SIGHUP reload sees them too. The demo is switched on unless the file or
 * the environment says otherwise, and, when no upload signing secret is configured, a random
 * one is made for this process (demo URLs live minutes, so it need not survive a restart).
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../config/load.js';

export function demoUploadsEnv(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ file, env });
  } catch {
    // An invalid config is reported by the command's own load, with every problem listed.
    return {};
  }
  const out: Record<string, string> = {};
  if (loaded.sources.get('dev.demoUploads') === 'default') out.EDGEWISE__DEV__DEMOUPLOADS = 'true';
  const on = out.EDGEWISE__DEV__DEMOUPLOADS === 'true' || loaded.config.dev.demoUploads;
  if (on && loaded.config.uploads.signing.secrets.length === 0) {
    // Hex keeps the YAML flow value plain; 32 random bytes = 256 bits, the HMAC-SHA256 key size.
    out.EDGEWISE__UPLOADS__SIGNING__SECRETS = `[{id: dev, secret: ${randomBytes(32).toString('hex')}}]`;
  }
  return out;
}
