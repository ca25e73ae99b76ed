/**
 * One upload body into storage: type allowed → first bytes agree with the type → streamed to
 * the driver with the size limit, the client's checksum and the abort signal. The driver
 * publishes the object only when every byte arrived and every check passed.
 */
import type { Readable } from 'node:stream';
import type { UploadsConfig } from '../config/sections/uploads.js';
import { UnsupportedType } from '../errors.js';
import type { ObjectMeta, StorageDriver } from '../storage/types.js';
import { checkSniffedType, essence, SNIFF_BYTES, typeAllowed } from './content-type.js';
import { peek } from './peek.js';

export interface ReceiveOptions {
  storage: StorageDriver;
  config: UploadsConfig;
  key: string;
  /** Content-Type as the client declared it (header or part header). */
  declaredType: string | undefined;
  /** Types the grant allows (empty: the config's list). */
  grantTypes: readonly string[];
  maxBytes: number;
  body: Readable;
  expectedSha256?: string | undefined;
  signal: AbortSignal;
}

export async function receiveUpload(o: ReceiveOptions): Promise<ObjectMeta> {
  const declared = o.declaredType?.trim() || 'application/octet-stream';
  const type = essence(declared);
  if (!type) throw new UnsupportedType(`"${declared}" is not a media type`);
  if (!typeAllowed(type, o.config.allowedTypes, o.grantTypes)) throw new UnsupportedType(type);
  let body = o.body;
  let contentType = declared;
  if (o.config.sniff) {
    const peeked = await peek(o.body, SNIFF_BYTES);
    body = peeked.body;
    try {
      contentType = await checkSniffedType(declared, peeked.head);
      const effective = essence(contentType)!;
      // octet-stream resolved to a detected type: that type must be allowed too.
      if (effective !== type && !typeAllowed(effective, o.config.allowedTypes, o.grantTypes))
        throw new UnsupportedType(effective);
    } catch (err) {
      // The caller owns the request; a PassThrough-free peek has nothing of its own to tear down.
      if (peeked.body !== o.body) peeked.body.destroy();
      throw err;
    }
  }
  return o.storage.put(o.key, body, {
    contentType,
    maxBytes: o.maxBytes,
    expectedSha256: o.expectedSha256,
    signal: o.signal,
  });
}
