/**
 * The rules of a resumable upload, shared by its routes (src/routes/multipart-resumable.ts):
 * which key a new upload gets, which part numbers a grant may sign, and the checks its
 * completion must pass (size and sniffed type, as PUT /uploads/<key> applies them).
 */
import type { UploadsConfig } from '../config/sections/uploads.js';
import { BadUploadRequest, UnsupportedType, UploadSignatureWrongKey, UploadTooLarge } from '../errors.js';
import { assertUserKey } from '../storage/keys.js';
import { assertPartNumber, MAX_PART_NUMBER, MIN_PART_BYTES } from '../storage/parts.js';
import type { CompletionChecks } from '../storage/types.js';
import { checkSniffedType, essence, typeAllowed } from './content-type.js';
import { grantCoversKey, type UploadGrant } from './signing.js';

/**
 * The key of a new upload: the grant's key; else the `key` the client asks for (our extension,
 * for clients that choose their keys: API-key backends, mobile apps), which the grant must cover;
 * else the grant's prefix plus the file's last name segment (as POST /uploads names files).
 */
export function resumableKey(grant: UploadGrant, filename: unknown, asked?: unknown): string {
  let key: string;
  if (grant.scope === 'key') key = grant.target;
  else if (asked !== undefined) {
    assertGrantCovers(grant, asked);
    key = asked;
  } else {
    if (typeof filename !== 'string' || filename === '')
      throw new BadUploadRequest('filename is required (the key is the grant prefix plus the file name)');
    // Browsers send a bare name; some old ones a full client path (C:\fakepath\a.png).
    const name = filename.split(/[\\/]/).pop() ?? '';
    if (name === '') throw new BadUploadRequest(`filename ${JSON.stringify(filename)} has no name`);
    key = grant.target + name;
  }
  assertUserKey(key);
  assertGrantCovers(grant, key);
  return key;
}

/** 400 for a key that is not a key, 403 for one outside the grant. */
export function assertGrantCovers(grant: UploadGrant, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') throw new BadUploadRequest('query parameter key is required');
  assertUserKey(key);
  if (!grantCoversKey(grant, key)) throw new UploadSignatureWrongKey(key);
}

/** The declared type a new upload records, refused at once when the grant cannot take it. */
export function declaredType(config: UploadsConfig, grant: UploadGrant, type: unknown): string {
  const declared = (typeof type === 'string' ? type.trim() : '') || 'application/octet-stream';
  const e = essence(declared);
  if (!e) throw new UnsupportedType(`"${declared}" is not a media type`);
  if (!typeAllowed(e, config.allowedTypes, grant.types)) throw new UnsupportedType(e);
  return declared;
}

/**
 * The highest part number a grant signs: every part but the last has at least 5 MiB (S3's rule,
 * checked again at completion), so a client numbering parts 1, 2, 3… (as Uppy and the AWS SDKs
 * do) cannot need a part beyond ⌈maxBytes / 5 MiB⌉ without exceeding the grant.
 */
export function maxPartNumber(maxBytes: number): number {
  return Math.min(MAX_PART_NUMBER, Math.max(1, Math.ceil(maxBytes / MIN_PART_BYTES)));
}

export function parsePartNumber(raw: string, maxBytes: number): number {
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  assertPartNumber(n);
  if (n > maxPartNumber(maxBytes)) throw new UploadTooLarge(maxBytes);
  return n;
}

/** The completion checks of a grant (CompletionChecks, src/storage/types.ts). */
export function completionChecks(config: UploadsConfig, grant: UploadGrant): CompletionChecks {
  return {
    size(bytes) {
      if (bytes > grant.maxBytes) throw new UploadTooLarge(grant.maxBytes);
    },
    async type(head, declared) {
      const type = declaredType(config, grant, declared);
      if (!config.sniff) return type;
      const stored = await checkSniffedType(type, head);
      const effective = essence(stored)!;
      // octet-stream resolved to a detected type: that type must be allowed too.
      if (!typeAllowed(effective, config.allowedTypes, grant.types)) throw new UnsupportedType(effective);
      return stored;
    },
  };
}
