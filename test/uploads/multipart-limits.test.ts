/**
 * fs part URLs carry bytes through the origin, so their PUTs are bounded like uploads: a pool of
 * uploads.maxConcurrent slots, uploads.maxConcurrentPerGrant per signing grant (the grant is
 * tagged in the part URL's signature), and the slow-body rule. One grant holding its slots
 * leaves another grant's parts going.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { grantFor } from '../../src/uploads/grant.js';
import { resumableEndpoint } from '../../src/uploads/multipart-token.js';
import { eventually, heldPut, startUploadOrigin, type UploadOrigin } from './helpers.js';

describe('fs part PUTs: concurrency per grant and in all', () => {
  let o: UploadOrigin;
  beforeAll(async () => {
    o = await startUploadOrigin('fs', { precompress: { enabled: false }, maxConcurrentPerGrant: 1 });
  });
  afterAll(() => o?.close());

  const endpoint = (prefix: string) => {
    const uploads = o.store.current.uploads;
    return resumableEndpoint(uploads, grantFor(uploads, { prefix }), o.url);
  };
  async function partUrl(E: string): Promise<URL> {
    const post = async (body: unknown) =>
      (await fetch(`${E}/s3/multipart`, { method: 'POST', body: JSON.stringify(body) })).json() as Promise<{
        uploadId: string;
        key: string;
      }>;
    const { uploadId, key } = await post({ filename: 'f.bin' });
    const signed = await fetch(`${E}/s3/multipart/${uploadId}/1?key=${encodeURIComponent(key)}`);
    return new URL(((await signed.json()) as { url: string }).url);
  }

  test('a second part of one grant while its first is running is 429; another grant goes on', async () => {
    const a = endpoint('a/');
    const a1 = await partUrl(a);
    const a2 = await partUrl(a);
    const b = await partUrl(endpoint('b/'));
    const held = heldPut(o.url, a1.pathname + a1.search, {
      length: 100,
      first: Buffer.from('x'),
      headers: {},
    });
    // The origin counts a part before its first await; wait until it has seen the request.
    const id = a1.pathname.split('/')[4]!;
    await eventually(
      () =>
        o.logs.some((l) => {
          const req = l.req as { method?: string; url?: string } | undefined;
          return req?.method === 'PUT' && String(req.url).includes(id);
        }),
      'the held part to arrive',
    );
    await eventually(async () => {
      const r = await fetch(a2, { method: 'PUT', body: 'y' });
      await r.arrayBuffer();
      return r.status === 429;
    }, 'the grant to be busy');
    const busy = await fetch(a2, { method: 'PUT', body: 'y' });
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(await busy.json()).toMatchObject({ code: 'EDGEWISE_UPLOAD_GRANT_BUSY' });
    const other = await fetch(b, { method: 'PUT', body: 'z' });
    expect(other.status).toBe(200);
    // The held part ends; its slot comes back.
    held.socket.write('x'.repeat(99));
    await eventually(async () => (await fetch(a2, { method: 'PUT', body: 'y' })).status === 200, 'the slot');
    held.socket.destroy();
  });
});
