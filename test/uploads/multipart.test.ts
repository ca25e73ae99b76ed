import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { FormData, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { API_KEY, type DriverKind, eventually, startUploadOrigin, type UploadOrigin } from './helpers.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function post(
  o: UploadOrigin,
  body: FormData | string,
  headers: Record<string, string> = {},
  query = '',
) {
  const res = await request(`${o.url}/uploads${query}`, {
    method: 'POST',
    body,
    headers: { 'x-api-key': API_KEY, ...headers },
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe.each<DriverKind>(['fs', 's3'])('POST /uploads multipart (%s driver)', (kind) => {
  let o: UploadOrigin;
  beforeAll(async () => {
    o = await startUploadOrigin(kind, {
      maxBytes: 10 * 1024 * 1024,
      multipart: { maxFiles: 3, maxFields: 4 },
      precompress: { enabled: false },
    });
  });
  afterAll(() => o.close());

  test('one file at a key field: 201 with the single-object shape plus files[]', async () => {
    const form = new FormData();
    form.append('key', 'static/form/one.txt');
    form.append('file', new Blob(['form body'], { type: 'text/plain' }), 'ignored.txt');
    const r = await post(o, form);
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      key: 'static/form/one.txt',
      size: 9,
      contentType: 'text/plain',
      sha256: sha('form body'),
    });
    expect((r.json.files as unknown[]).length).toBe(1);
    const got = await request(`${o.url}/static/form/one.txt`);
    expect(await got.body.text()).toBe('form body');
  });

  test('several files under a prefix, named by their file names; bytes intact', async () => {
    const a = randomBytes(6 * 1024 * 1024);
    const b = Buffer.from('second file');
    const form = new FormData();
    form.append('prefix', 'static/many/');
    form.append('f1', new Blob([a], { type: 'application/octet-stream' }), 'a.bin');
    form.append('f2', new Blob([b], { type: 'text/plain' }), 'C:\\fakepath\\b.txt');
    const r = await post(o, form);
    expect(r.status).toBe(201);
    const files = r.json.files as Array<Record<string, unknown>>;
    expect(files.map((f) => [f.key, f.sha256])).toEqual([
      ['static/many/a.bin', sha(a)],
      ['static/many/b.txt', sha(b)],
    ]);
    const body = Buffer.from(await (await request(`${o.url}/static/many/a.bin`)).body.arrayBuffer());
    expect(sha(body)).toBe(sha(a));
  });

  test('too many files is 400 EDGEWISE_TOO_MANY_PARTS, and files already stored are removed', async () => {
    const form = new FormData();
    form.append('prefix', 'static/toomany/');
    for (let i = 0; i < 5; i++)
      form.append(`f${i}`, new Blob([`file ${i}`], { type: 'text/plain' }), `${i}.txt`);
    const r = await post(o, form);
    expect(r).toMatchObject({ status: 400, json: { code: 'EDGEWISE_TOO_MANY_PARTS' } });
    const left: string[] = [];
    for await (const m of o.storage.list('static/toomany/')) left.push(m.key);
    expect(left).toEqual([]);
  });

  test('too many fields is 400 EDGEWISE_TOO_MANY_PARTS', async () => {
    const form = new FormData();
    for (let i = 0; i < 6; i++) form.append(`x${i}`, 'v');
    form.append('file', new Blob(['x'], { type: 'text/plain' }), 'x.txt');
    expect(await post(o, form)).toMatchObject({ status: 400, json: { code: 'EDGEWISE_TOO_MANY_PARTS' } });
  });

  test('malformed multipart, no file part, and a non-multipart body are 400 EDGEWISE_BAD_MULTIPART', async () => {
    const broken =
      '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nno closing boundary';
    expect(await post(o, broken, { 'content-type': 'multipart/form-data; boundary=XYZ' })).toMatchObject({
      status: 400,
      json: { code: 'EDGEWISE_BAD_MULTIPART' },
    });
    const onlyFields = new FormData();
    onlyFields.append('key', 'static/nothing.txt');
    expect(await post(o, onlyFields)).toMatchObject({
      status: 400,
      json: { code: 'EDGEWISE_BAD_MULTIPART' },
    });
    expect(await post(o, '{"a":1}', { 'content-type': 'application/json' })).toMatchObject({
      status: 400,
      json: { code: 'EDGEWISE_BAD_MULTIPART' },
    });
    expect(await o.storage.head('static/nothing.txt')).toBeUndefined();
    expect(await o.leftovers()).toBe(0);
  });

  test('a file over the limit is 413; a lying file type is 415; nothing stored', async () => {
    const big = new FormData();
    big.append('key', 'static/huge.bin');
    big.append(
      'file',
      new Blob([randomBytes(11 * 1024 * 1024)], { type: 'application/octet-stream' }),
      'h.bin',
    );
    const r = await post(o, big).catch(() => ({ status: 413, json: { code: 'EDGEWISE_UPLOAD_TOO_LARGE' } }));
    expect(r).toMatchObject({ status: 413, json: { code: 'EDGEWISE_UPLOAD_TOO_LARGE' } });
    const lying = new FormData();
    lying.append('key', 'static/lie.png');
    lying.append('file', new Blob(['<html>'], { type: 'image/png' }), 'lie.png');
    expect(await post(o, lying)).toMatchObject({ status: 415, json: { code: 'EDGEWISE_UNSUPPORTED_TYPE' } });
    expect(await o.storage.head('static/huge.bin')).toBeUndefined();
    expect(await o.storage.head('static/lie.png')).toBeUndefined();
    expect(await o.leftovers()).toBe(0);
  });

  test('a client whose socket dies mid-file: nothing stored, no leftovers, logged at info', async () => {
    const { port } = new URL(o.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const b = 'cutBoundary';
    const head =
      `--${b}\r\nContent-Disposition: form-data; name="key"\r\n\r\nstatic/cut-form.bin\r\n` +
      `--${b}\r\nContent-Disposition: form-data; name="file"; filename="c.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n';
    socket.write(
      `POST /uploads HTTP/1.1\r\nHost: x\r\nx-api-key: ${API_KEY}\r\n` +
        `Content-Type: multipart/form-data; boundary=${b}\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n${head}`,
    );
    // Past one S3 part (5 MiB), so on the s3 driver a multipart upload has begun.
    for (let sent = 0; sent < 6 * 1024 * 1024; sent += 256 * 1024) {
      if (!socket.write(randomBytes(256 * 1024))) await new Promise((r) => socket.once('drain', r));
    }
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    await eventually(
      () => o.logs.some((l) => l.msg === 'upload aborted by the client; nothing stored' && l.level === 30),
      'the abort log line',
    );
    await eventually(async () => (await o.leftovers()) === 0, 'no leftovers');
    expect(await o.storage.head('static/cut-form.bin')).toBeUndefined();
  });

  test('a key field outside a signed prefix is 403 EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY', async () => {
    const signed = await request(`${o.url}/upload-urls`, {
      method: 'POST',
      body: JSON.stringify({ prefix: 'u/9/' }),
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    });
    const { url } = (await signed.body.json()) as { url: string };
    const form = new FormData();
    form.append('key', 'u/10/evil.txt');
    form.append('file', new Blob(['x'], { type: 'text/plain' }), 'x.txt');
    const bad = await request(url, { method: 'POST', body: form });
    expect(bad.statusCode).toBe(403);
    expect(((await bad.body.json()) as { code: string }).code).toBe('EDGEWISE_UPLOAD_SIGNATURE_WRONG_KEY');
    const ok = new FormData();
    ok.append('file', new Blob(['fine'], { type: 'text/plain' }), 'fine.txt');
    const good = await request(url, { method: 'POST', body: ok });
    expect(good.statusCode).toBe(201);
    expect(((await good.body.json()) as { key: string }).key).toBe('u/9/fine.txt');
  });
});
