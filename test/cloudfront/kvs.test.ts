/**
 * The local KeyValueStore (src/cloudfront/kvs.ts) and the `cf.kvs()` helpers a function reads it
 * with, as "Helper methods for key value stores" documents them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildFunctions, writeBuild } from '../../src/cloudfront/build.js';
import { KeyValueStore, KvsFormatError } from '../../src/cloudfront/kvs.js';
import { type CfEvent, loadViewerFunction } from '../../src/cloudfront/runtime.js';
import { buildConfig } from '../../src/config/index.js';

const ev = (): CfEvent => ({
  version: '1.0',
  context: { eventType: 'viewer-request' },
  viewer: { ip: '198.51.100.1' },
  request: { method: 'GET', uri: '/k', querystring: {}, headers: {}, cookies: {} },
});
const header = async (kvs: KeyValueStore | undefined, body: string) => {
  const f = loadViewerFunction(
    `import cf from 'cloudfront';
     async function handler(event) { var out; try { ${body} } catch (e) { out = 'threw: ' + e.message; }
       event.request.headers['x-out'] = { value: String(out) }; return event.request; }`,
    kvs ? { kvs } : {},
  );
  const r = await f.run(ev());
  if (r.kind !== 'request') throw new Error(JSON.stringify(r));
  return r.request.headers['x-out']?.value;
};

describe('KeyValueStore file (AWS import format)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgewise-kvs-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  test('loads {"data":[{key,value}]}; meta() counts keys and dates the file', () => {
    const s = KeyValueStore.fromFile(
      file('ok.json', '{"data":[{"key":"a","value":"1"},{"key":"b","value":"{}"}]}'),
      'id1',
    );
    expect(s.get('a')).toBe('1');
    expect(s.has('c')).toBe(false);
    expect(s.meta()).toMatchObject({ keyCount: 2 });
    expect(Date.parse(s.meta().lastUpdatedDateTime)).not.toBeNaN();
  });

  for (const [name, text, reason] of [
    ['not json', '{', /not JSON/],
    ['no data', '{"items":[]}', /expected \{"data"/],
    ['value not a string', '{"data":[{"key":"a","value":1}]}', /must be \{"key": string/],
    ['duplicate key', '{"data":[{"key":"a","value":"1"},{"key":"a","value":"2"}]}', /duplicate key "a"/],
    ['key too long', JSON.stringify({ data: [{ key: 'k'.repeat(513), value: '' }] }), /1–512 characters/],
    [
      'value too long',
      JSON.stringify({ data: [{ key: 'k', value: 'v'.repeat(1025) }] }),
      /over 1024 characters/,
    ],
  ] as const)
    test(`refuses ${name}, as a CloudFront import would`, () => {
      expect(() => KeyValueStore.fromFile(file(`${name}.json`, text))).toThrow(KvsFormatError);
      expect(() => KeyValueStore.fromFile(file(`${name}.json`, text))).toThrow(reason);
    });

  test('replace() swaps the contents at once (reload or live update)', () => {
    const s = new KeyValueStore([{ key: 'ttl', value: '60' }]);
    s.replace([{ key: 'ttl', value: '120' }]);
    expect(s.get('ttl')).toBe('120');
    expect(() => s.replace([{ key: '', value: 'x' }])).toThrow(KvsFormatError);
    expect(s.get('ttl')).toBe('120');
  });
});

describe('cf.kvs() helpers', () => {
  const store = new KeyValueStore(
    [
      { key: 's', value: 'héllo' },
      { key: 'j', value: '{"a":[1,2]}' },
    ],
    'a1b2c3d4',
  );

  test('get: string by default, json parsed, bytes as a Buffer', async () => {
    expect(await header(store, "out = await cf.kvs().get('s');")).toBe('héllo');
    expect(await header(store, "out = (await cf.kvs().get('j', { format: 'json' })).a[1];")).toBe('2');
    expect(await header(store, "out = (await cf.kvs().get('s', { format: 'bytes' })).length;")).toBe('6');
    expect(await header(store, "out = await cf.kvs().get('s', { format: 'xml' });")).toMatch(
      /^threw: .*format/,
    );
  });

  test('get of a missing key rejects (the documented error); exists answers false', async () => {
    expect(await header(store, "out = await cf.kvs().get('nope');")).toMatch(/^threw: .*not found/);
    expect(
      await header(store, "out = await cf.kvs().exists('nope') + '/' + await cf.kvs().exists('s');"),
    ).toBe('false/true');
  });

  test('meta resolves to creationDateTime, lastUpdatedDateTime, keyCount', async () => {
    expect(
      await header(store, 'var m = await cf.kvs().meta(); out = m.keyCount + typeof m.creationDateTime;'),
    ).toBe('2string');
  });

  test('cf.kvs(id) must name the associated store; with none associated cf.kvs() throws', async () => {
    expect(await header(store, "out = await cf.kvs('a1b2c3d4').get('s');")).toBe('héllo');
    expect(await header(store, "out = await cf.kvs('other').get('s');")).toMatch(/^threw: .*not associated/);
    expect(await header(undefined, "out = await cf.kvs().get('s');")).toMatch(/^threw: .*no KeyValueStore/);
  });
});

test('the kvs.json `cloudfront build --kvs` writes is a valid import file the built function reads (what the edge loads)', async () => {
  const { config } = buildConfig(
    { cloudfront: { functions: { classSource: 'kvs', kvsId: 'a1b2c3d4-test' } } },
    undefined,
  );
  const out = buildFunctions(config);
  const dir = mkdtempSync(join(tmpdir(), 'edgewise-kvs-build-'));
  writeBuild(out, dir);
  const store = KeyValueStore.fromFile(join(dir, 'kvs.json'));
  expect(store.meta().keyCount).toBe(out.kvs?.data.length);
  const lines: string[] = [];
  const f = loadViewerFunction(out.viewerResponse.code, { kvs: store, log: (l) => lines.push(l) });
  const r = await f.run({
    ...ev(),
    context: { eventType: 'viewer-response' },
    request: { ...ev().request, uri: '/static/app.css' },
    response: { statusCode: 200, statusDescription: 'OK', headers: {}, cookies: {} },
  });
  expect(r.kind).toBe('response');
  expect(lines.filter((l) => /KeyValueStore read failed/.test(l))).toEqual([]);
});
