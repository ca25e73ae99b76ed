/**
 * Signing and verifying keys from config, read once per config object (a SIGHUP reload makes a
 * new config object, so rotated key files are picked up then). The signing key's own public
 * half is always trusted: whoever holds the private key could mint any URL anyway, and it lets
 * `edgewise dev` work with one generated key pair and no trustedKeys list.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EdgewiseConfig } from '../config/schema.js';
import { SigningNotConfigured } from '../errors.js';

export interface SigningKey {
  keyPairId: string;
  privateKeyPem: string;
  algorithm: 'SHA1' | 'SHA256';
}

export interface ResolvedKeys {
  signing: SigningKey | undefined;
  /** Public keys by key pair id. */
  trusted: ReadonlyMap<string, KeyObject>;
  /** PEM of each trusted public key, by id (for the plan's key group). */
  trustedPem: ReadonlyMap<string, string>;
}

type CloudfrontView = Pick<EdgewiseConfig, 'cloudfront'>;
const cache = new WeakMap<object, ResolvedKeys>();

export function resolveKeys(config: Readonly<CloudfrontView>): ResolvedKeys {
  const section = config.cloudfront;
  const hit = cache.get(section);
  if (hit) return hit;
  const s = section.signing;
  let signing: SigningKey | undefined;
  const trusted = new Map<string, KeyObject>();
  const trustedPem = new Map<string, string>();
  if (s.keyPairId !== undefined && (s.privateKey !== undefined || s.privateKeyFile !== undefined)) {
    const privateKeyPem = s.privateKey ?? readFileSync(s.privateKeyFile as string, 'utf8');
    const key = createPrivateKey(privateKeyPem);
    signing = { keyPairId: s.keyPairId, privateKeyPem, algorithm: s.algorithm };
    const pub = createPublicKey(key);
    trusted.set(s.keyPairId, pub);
    trustedPem.set(s.keyPairId, pub.export({ type: 'spki', format: 'pem' }).toString());
  }
  for (const k of section.trustedKeys) {
    const pem = k.publicKey ?? readFileSync(k.publicKeyFile as string, 'utf8');
    trusted.set(k.id, createPublicKey(pem));
    trustedPem.set(k.id, pem);
  }
  const resolved = { signing, trusted, trustedPem };
  cache.set(section, resolved);
  return resolved;
}

export function requireSigningKey(config: Readonly<CloudfrontView>): SigningKey {
  const key = resolveKeys(config).signing;
  if (!key) throw new SigningNotConfigured('set cloudfront.signing.keyPairId and privateKeyFile');
  return key;
}

export interface DevSigningKeys {
  keyPairId: string;
  privateKeyPem: string;
  publicKeyPem: string;
  privateKeyFile: string;
  publicKeyFile: string;
}

/**
 * Development key pair: RSA-2048 (what CloudFront key groups accept) written to `dir` on first
 * run and reused after, so URLs signed before a restart stay valid. The id is derived from the
 * public key, so it changes only when the key does.
 */
export function ensureDevSigningKeys(dir: string): DevSigningKeys {
  const privateKeyFile = join(dir, 'cloudfront-dev-private.pem');
  const publicKeyFile = join(dir, 'cloudfront-dev-public.pem');
  if (!existsSync(privateKeyFile)) {
    mkdirSync(dir, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // 0600: a private key readable by other local users would let them mint URLs.
    writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  const privateKeyPem = readFileSync(privateKeyFile, 'utf8');
  const publicKeyPem = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  if (!existsSync(publicKeyFile)) writeFileSync(publicKeyFile, publicKeyPem);
  const keyPairId = `DEV${createHash('sha256').update(publicKeyPem).digest('hex').slice(0, 13).toUpperCase()}`;
  return { keyPairId, privateKeyPem, publicKeyPem, privateKeyFile, publicKeyFile };
}

/**
 * Environment overrides that point the config at dev keys; pass them to `loadConfig({ env })`
 * or `LiveConfig.load({ env })` before an explicit key (file or env) is looked for.
 */
export function devSigningEnv(keys: DevSigningKeys): Record<string, string> {
  return {
    EDGEWISE__CLOUDFRONT__SIGNING__KEYPAIRID: keys.keyPairId,
    EDGEWISE__CLOUDFRONT__SIGNING__PRIVATEKEYFILE: keys.privateKeyFile,
  };
}
