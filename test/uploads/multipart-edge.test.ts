/**
 * The resumable upload routes through the local edge (the `/uploads*` behavior: every method,
 * never cached, every query string forwarded), and their CORS: a page on another origin may
 * call them and read a stored part's ETag. fs driver, so part bytes pass the edge too.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { redactPath, redactUrl } from '../../src/redact.js';
import { grantFor } from '../../src/uploads/grant.js';
import { resumableEndpoint } from '../../src/uploads/multipart-token.js';
import { startTestEdge } from '../edge/helpers.js';
import { startUploadOrigin, type UploadOrigin } from './helpers.js';

const MiB = 1024 * 1024;
const PAGE = 'https://app.example';

describe('resumable uploads through the local edge', () => {
  let o: UploadOrigin;
  let edge: Awaited<ReturnType<typeof startTestEdge>>;
  let E: string;
  beforeAll(async () => {
    o = await startUploadOrigin('fs', { precompress: { enabled: false } }, { cors: { origins: [PAGE] } });
    edge = await startTestEdge(o.url);
    const uploads = o.store.current.uploads;
    E = resumableEndpoint(uploads, grantFor(uploads, { prefix: 'e/' }), edge.url);
  });
  afterAll(async () => {
    await edge?.close();
    await o?.close();
  });

  const json = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(url, {
      method,
      ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    // biome-ignore lint/suspicious/noExplicitAny: protocol answers, asserted field by field
    const answer: any = await res.json();
    return { status: res.status, json: answer, headers: res.headers };
  };
  /** The origin names itself in part URLs; behind an edge, server.publicUrl names the edge. */
  const viaEdge = (url: string) => url.replace(o.url, edge.url);

  test('create, parts, list (never cached), complete: all through the edge', async () => {
    const file = randomBytes(6 * MiB);
    const created = await json('POST', `${E}/s3/multipart`, {
      filename: 'clip.bin',
      type: 'application/octet-stream',
    });
    expect(created.status).toBe(200);
    const { uploadId, key } = created.json;
    const q = `?key=${encodeURIComponent(key)}`;
    const sign = async (n: number) =>
      viaEdge((await json('GET', `${E}/s3/multipart/${uploadId}/${n}${q}`)).json.url);
    const put1 = await fetch(await sign(1), { method: 'PUT', body: file.subarray(0, 5 * MiB) });
    expect(put1.status).toBe(200);
    const first = await json('GET', `${E}/s3/multipart/${uploadId}${q}`);
    expect(first.json).toHaveLength(1);
    const put2 = await fetch(await sign(2), { method: 'PUT', body: file.subarray(5 * MiB) });
    expect(put2.status).toBe(200);
    // The same list URL again: the edge passes it to the origin (upload behavior, no-store).
    const second = await json('GET', `${E}/s3/multipart/${uploadId}${q}`);
    expect(second.json.map((p: { ETag: string }) => p.ETag)).toEqual([
      put1.headers.get('etag'),
      put2.headers.get('etag'),
    ]);
    const done = await json('POST', `${E}/s3/multipart/${uploadId}/complete${q}`, {
      parts: second.json.map((p: { PartNumber: number; ETag: string }) => ({
        PartNumber: p.PartNumber,
        ETag: p.ETag,
      })),
    });
    expect(done.status).toBe(200);
    const got = await o.storage.get(key);
    const chunks: Buffer[] = [];
    for await (const c of got!.body) chunks.push(c as Buffer);
    expect(createHash('sha256').update(Buffer.concat(chunks)).digest('hex')).toBe(
      createHash('sha256').update(file).digest('hex'),
    );
  });

  test('CORS: preflights pass, and a page can read the ETag of a part it stored', async () => {
    const pre = await fetch(`${E}/s3/multipart`, {
      method: 'OPTIONS',
      headers: {
        origin: PAGE,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE');
    const { uploadId, key } = (await json('POST', `${E}/s3/multipart`, { filename: 'c.bin' })).json;
    const url = viaEdge(
      (await json('GET', `${E}/s3/multipart/${uploadId}/1?key=${encodeURIComponent(key)}`)).json.url,
    );
    const prePut = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: PAGE, 'access-control-request-method': 'PUT' },
    });
    expect(prePut.status).toBe(204);
    const put = await fetch(url, { method: 'PUT', body: 'abc', headers: { origin: PAGE } });
    expect(put.status).toBe(200);
    expect(put.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(put.headers.get('access-control-expose-headers')?.split(', ')).toContain('etag');
    expect(put.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
  });

  test('the grant token in the path never reaches a log line', () => {
    const token = new URL(E).pathname.split('/')[3]!;
    expect(token.length).toBeGreaterThan(20);
    // The origin's request logs, after the requests above.
    expect(o.logs.length).toBeGreaterThan(0);
    expect(JSON.stringify(o.logs)).not.toContain(token);
    expect(JSON.stringify(o.logs)).toContain('/uploads/resumable/[redacted]/s3/multipart');
    // The edge's access-log path (cs-uri-stem) and Referer go through the same rule.
    expect(redactPath(`/uploads/resumable/${token}/s3/multipart/x/1`)).toBe(
      '/uploads/resumable/[redacted]/s3/multipart/x/1',
    );
    expect(redactUrl(`https://a.example/uploads/resumable/${token}/s3/params?filename=a`)).toBe(
      'https://a.example/uploads/resumable/[redacted]/s3/params?filename=a',
    );
    // The API-key form has no token: nothing to hide.
    expect(redactPath('/uploads/resumable/s3/multipart')).toBe('/uploads/resumable/s3/multipart');
  });
});
