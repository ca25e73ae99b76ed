/**
 * Client-supplied body checksums, verified by the storage driver before anything is published:
 * `Content-Digest: sha-256=:<base64>:` (RFC 9530 §2, a Structured Field dictionary of byte
 * sequences) or `x-amz-checksum-sha256: <base64>` (what S3 clients send).
 */
import { BadUploadRequest } from '../errors.js';

function hexFromBase64(b64: string, header: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new BadUploadRequest(`${header} is not base64`);
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length !== 32) throw new BadUploadRequest(`${header} is not a SHA-256 digest (32 bytes)`);
  return bytes.toString('hex');
}

/** Hex SHA-256 the body must have, or undefined when the client sent none. */
export function expectedSha256(headers: Record<string, string | string[] | undefined>): string | undefined {
  const amz = headers['x-amz-checksum-sha256'];
  const digest = headers['content-digest'];
  let fromDigest: string | undefined;
  if (digest !== undefined) {
    const text = Array.isArray(digest) ? digest.join(',') : digest;
    // Members other than sha-256 (sha-512, …) are allowed by RFC 9530 and ignored here.
    for (const member of text.split(',')) {
      const m = /^\s*([a-z0-9-]+)\s*=\s*:([^:]*):\s*$/.exec(member);
      if (!m)
        throw new BadUploadRequest('Content-Digest is not a structured-field dictionary of byte sequences');
      if (m[1] === 'sha-256') fromDigest = hexFromBase64(m[2]!, 'Content-Digest sha-256');
    }
  }
  const fromAmz = amz === undefined ? undefined : hexFromBase64(String(amz).trim(), 'x-amz-checksum-sha256');
  if (fromDigest && fromAmz && fromDigest !== fromAmz)
    throw new BadUploadRequest('Content-Digest and x-amz-checksum-sha256 disagree');
  return fromDigest ?? fromAmz;
}
