import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  encodeField,
  formatLine,
  LOG_FIELDS,
  LOG_HEADER,
  type LogRecord,
} from '../../src/access-log/format.js';
import { newParseStats, parseLog } from '../../src/prefetch/parse.js';
import { useCountingOriginAndEdge } from './helpers.js';

const SAMPLE_RECORD: LogRecord = {
  end: Date.UTC(2026, 10, 28, 5, 0, 0),
  edgeLocation: 'LCL1-P1',
  scBytes: 10,
  clientIp: '127.0.0.1',
  method: 'GET',
  host: 'h\tx',
  hostHeader: 'h\tx:1',
  path: '/p\n',
  status: 200,
  referer: undefined,
  userAgent: 'ua\r\n\tinjected',
  query: '',
  cookie: undefined,
  resultType: 'Hit',
  requestId: 'id',
  protocol: 'http',
  csBytes: 0,
  timeTaken: 0.001,
  forwardedFor: undefined,
  sslProtocol: undefined,
  sslCipher: undefined,
  responseResultType: 'Hit',
  protocolVersion: 'HTTP/1.1',
  clientPort: 1234,
  timeToFirstByte: 0.001,
  detailedResultType: 'Hit',
  contentType: undefined,
  contentLength: undefined,
  rangeStart: undefined,
  rangeEnd: undefined,
};

describe('access log field encoding', () => {
  it("writes - for empty and percent-encodes exactly AWS's list: 0-32, 127 and up, < > \" # % { } | \\ ^ ~ [ ] ` '", () => {
    const aws = '<>"#%{}|\\^~[]`\' ';
    for (const c of aws) expect(encodeField(c)).toBe(`%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    for (let c = 0x21; c < 0x7f; c++) {
      const ch = String.fromCharCode(c);
      if (!aws.includes(ch)) expect(encodeField(ch)).toBe(ch);
    }
    expect(encodeField('\x00\x1f\x7f')).toBe('%00%1F%7F');
    expect(encodeField(undefined)).toBe('-');
    expect(encodeField('')).toBe('-');
    expect(encodeField('/static/app.css')).toBe('/static/app.css');
    expect(encodeField('a b\tc\nd')).toBe('a%20b%09c%0Ad');
    expect(encodeField('say "hi" \\ 100%')).toBe('say%20%22hi%22%20%5C%20100%25');
    expect(encodeField('/caf%C3%A9')).toBe('/caf%25C3%25A9');
    expect(encodeField('café')).toBe('caf%C3%A9');
    expect(decodeURIComponent(encodeField('/a%20b?x=1'))).toBe('/a%20b?x=1');
  });

  it('a line never holds a raw tab or newline, whatever the viewer sent', () => {
    const line = formatLine(SAMPLE_RECORD);
    expect(line.split('\t')).toHaveLength(LOG_FIELDS.length);
    expect(line).not.toMatch(/[\r\n]/);
    expect(line.startsWith('2026-11-28\t05:00:00\tLCL1-P1')).toBe(true);
    expect(line.split('\t')[15]).toBe('h%09x:1'); // x-host-header
  });

  it('writes sc-status 000 for a viewer that left before any response, as CloudFront', () => {
    const cols = formatLine({ ...SAMPLE_RECORD, status: 0 }).split('\t');
    expect(cols[8]).toBe('000');
    expect(formatLine({ ...SAMPLE_RECORD, status: 404 }).split('\t')[8]).toBe('404');
  });
});

/** One raw HTTP/1.1 exchange: the exact bytes sent and received, and the client's port. */
async function exchange(
  port: number,
  head: string,
  body = '',
): Promise<{ sent: number; received: Buffer; localPort: number }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const localPort = socket.localPort ?? 0;
  const payload = Buffer.from(`${head}\r\n${body}`);
  socket.write(payload); // not end(): a half-closed viewer is a viewer gone (CloudFront logs 000)
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  return { sent: payload.length, received: Buffer.concat(chunks), localPort };
}

describe('the edge writes each field with CloudFront’s meaning and encoding (standard-logs-reference field table)', () => {
  const { setup, cleanup } = useCountingOriginAndEdge();

  it('field by field for a miss, a hit, an upload and a function-generated 400, and the parser reads it back', async () => {
    const fnDir = await mkdtemp(join(tmpdir(), 'edgewise-fns-'));
    cleanup.push(() => rm(fnDir, { recursive: true, force: true }));
    await writeFile(
      join(fnDir, 'viewer-request.js'),
      `function handler(event) {
        if (event.request.uri === '/t/refused') return { statusCode: 400, statusDescription: 'Bad Request', headers: { 'content-type': { value: 'text/plain' } }, body: 'refused' };
        return event.request;
      }`,
    );
    const { origin, edge } = await setup({}, { functions: { dir: fnDir } });
    origin.route('/t/caf%C3%A9~x', (_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': '5',
        'cache-control': 'max-age=60',
      });
      res.end('hello');
    });
    origin.route('/t/up', (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      });
    });
    const port = Number(new URL(edge.url).port);
    const ua = `Mozilla/5.0 (X11; <b>) "q" 'a' ^~ {x}|[y] \`z\` #h`;
    const referer = 'https://shop.example/p?a=1&b=%20';
    const getHead = [
      'GET /t/caf%C3%A9~x?w=1&q=%7B HTTP/1.1',
      'Host: shop.example:8443',
      `User-Agent: ${ua}`,
      `Referer: ${referer}`,
      // Non-ASCII bytes in a header: cs-bytes counts them as sent (one per byte), not as UTF-8
      // re-encoded from the latin1 string Node's parser makes of them.
      'X-Note: café ☕',
      'Connection: close',
      '',
    ].join('\r\n');
    const before = Date.now();
    const miss = await exchange(port, getHead);
    const hit = await exchange(port, getHead);
    const upload = await exchange(
      port,
      ['POST /t/up HTTP/1.1', 'Host: shop.example', 'Content-Length: 11', 'Connection: close', ''].join(
        '\r\n',
      ),
      'hello world',
    );
    const refused = await exchange(
      port,
      ['GET /t/refused HTTP/1.1', 'Host: shop.example', 'Connection: close', ''].join('\r\n'),
    );
    expect(refused.received.toString()).toMatch(
      /^HTTP\/1\.1 400 [\s\S]*x-cache: FunctionGeneratedResponse from edgewise/i,
    );
    await edge.edge.app.logs!.close();
    const after = Date.now();

    const dir = join(edge.dir, 'logs', 'edge');
    const files = readdirSync(dir).filter((f) => f.endsWith('.gz'));
    const text = files.map((f) => gunzipSync(readFileSync(join(dir, f))).toString()).join('');
    expect(text.startsWith(LOG_HEADER)).toBe(true);
    const rows = text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => {
        const cols = l.split('\t');
        expect(cols).toHaveLength(33);
        return Object.fromEntries(LOG_FIELDS.map((f, i) => [f, cols[i]!])) as Record<
          (typeof LOG_FIELDS)[number],
          string
        >;
      });
    expect(rows).toHaveLength(4);
    const [m, h, up, fn] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
    const idOf = (r: Buffer) => /x-amz-cf-id: (\S+)/i.exec(r.toString())![1];

    // 1-2 date, time: UTC, when the response finished.
    const at = Date.parse(`${m.date}T${m.time}Z`);
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(at).toBeLessThanOrEqual(after);
    expect(m.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(m.time).toMatch(/^\d{2}:\d{2}:\d{2}$/);
    expect(m['x-edge-location']).toBe('LCL1-P1'); // 3
    // 4 sc-bytes: all bytes sent to the viewer, headers included (5-byte body, Content-Length framed).
    expect(Number(m['sc-bytes'])).toBe(miss.received.length);
    expect(Number(h['sc-bytes'])).toBe(hit.received.length);
    expect(m['c-ip']).toBe('127.0.0.1'); // 5
    expect(m['cs-method']).toBe('GET'); // 6
    expect(up['cs-method']).toBe('POST');
    // 7 cs(Host): the distribution's domain at CloudFront; here the Host without its port.
    expect(m['cs(Host)']).toBe('shop.example');
    // 8 cs-uri-stem: % and ~ are among the characters CloudFront encodes.
    expect(m['cs-uri-stem']).toBe('/t/caf%25C3%25A9%7Ex');
    expect(m['sc-status']).toBe('200'); // 9
    expect(fn['sc-status']).toBe('400');
    expect(m['cs(Referer)']).toBe('https://shop.example/p?a=1&b=%2520'); // 10
    expect(up['cs(Referer)']).toBe('-');
    // 11 cs(User-Agent): space, < > " ' ^ ~ { } | [ ] ` # encoded as AWS's table lists.
    expect(m['cs(User-Agent)']).toBe(
      'Mozilla/5.0%20(X11;%20%3Cb%3E)%20%22q%22%20%27a%27%20%5E%7E%20%7Bx%7D%7C%5By%5D%20%60z%60%20%23h',
    );
    expect(m['cs-uri-query']).toBe('w=1&q=%257B'); // 12
    expect(up['cs-uri-query']).toBe('-');
    expect(m['cs(Cookie)']).toBe('-'); // 13, IncludeCookies off
    // 14, 23, 29: result types.
    expect([m, h, up, fn].map((r) => r['x-edge-result-type'])).toEqual([
      'Miss',
      'Hit',
      'Miss',
      'FunctionGeneratedResponse',
    ]);
    expect([m, h, up, fn].map((r) => r['x-edge-response-result-type'])).toEqual([
      'Miss',
      'Hit',
      'Miss',
      'FunctionGeneratedResponse',
    ]);
    expect([m, h, up, fn].map((r) => r['x-edge-detailed-result-type'])).toEqual([
      'Miss',
      'Hit',
      'Miss',
      'FunctionGeneratedResponse',
    ]);
    // 15 x-edge-request-id: the X-Amz-Cf-Id the viewer got.
    expect(m['x-edge-request-id']).toBe(idOf(miss.received));
    expect(fn['x-edge-request-id']).toBe(idOf(refused.received));
    expect(m['x-host-header']).toBe('shop.example:8443'); // 16, as the viewer sent it
    expect(m['cs-protocol']).toBe('http'); // 17
    // 18 cs-bytes: every byte of the request, headers included (and the upload's body).
    expect(Number(m['cs-bytes'])).toBe(miss.sent);
    expect(Number(up['cs-bytes'])).toBe(upload.sent);
    for (const r of rows) {
      expect(r['time-taken']).toMatch(/^\d+\.\d{3}$/); // 19
      expect(r['time-to-first-byte']).toMatch(/^\d+\.\d{3}$/); // 28
      expect(Number(r['time-to-first-byte'])).toBeLessThanOrEqual(Number(r['time-taken']));
    }
    expect([m['x-forwarded-for'], m['ssl-protocol'], m['ssl-cipher']]).toEqual(['-', '-', '-']); // 20-22 (plain http)
    expect(m['cs-protocol-version']).toBe('HTTP/1.1'); // 24
    expect([m['fle-status'], m['fle-encrypted-fields']]).toEqual(['-', '-']); // 25-26, no field-level encryption
    expect(Number(m['c-port'])).toBe(miss.localPort); // 27
    expect(m['sc-content-type']).toBe('text/plain'); // 30
    expect(m['sc-content-len']).toBe('5'); // 31
    expect([m['sc-range-start'], m['sc-range-end']]).toEqual(['-', '-']); // 32-33, no Content-Range

    // Round trip: the prefetch parser reads the same values back.
    const stats = newParseStats();
    const records = [];
    for (const f of files) {
      for await (const r of parseLog(
        (async function* () {
          yield readFileSync(join(dir, f));
        })(),
        f,
        stats,
      ))
        records.push(r);
    }
    expect(stats.malformed).toBe(0);
    expect(records[0]).toMatchObject({
      time: at,
      clientIp: '127.0.0.1',
      userAgent: ua,
      method: 'GET',
      host: 'shop.example',
      hostHeader: 'shop.example:8443',
      path: '/t/caf%C3%A9~x',
      query: 'w=1&q=%7B',
      status: 200,
      bytes: 5,
      contentType: 'text/plain',
      resultType: 'Miss',
      protocol: 'http',
    });
    expect(records.map((r) => r.resultType)).toEqual(['Miss', 'Hit', 'Miss', 'FunctionGeneratedResponse']);
  });

  it('cs(Host) is edge.logs.distributionDomain when configured', async () => {
    const { origin, edge } = await setup(
      {},
      { logs: { distributionDomain: 'd111111abcdef8.cloudfront.net' } },
    );
    origin.route('/t/a', (_req, res) => {
      res.writeHead(200, { 'content-length': '1' });
      res.end('a');
    });
    const port = Number(new URL(edge.url).port);
    await exchange(
      port,
      ['GET /t/a HTTP/1.1', 'Host: shop.example:8443', 'Connection: close', ''].join('\r\n'),
    );
    await edge.edge.app.logs!.close();
    const dir = join(edge.dir, 'logs', 'edge');
    const text = readdirSync(dir)
      .filter((f) => f.endsWith('.gz'))
      .map((f) => gunzipSync(readFileSync(join(dir, f))).toString())
      .join('');
    const cols = text
      .split('\n')
      .find((l) => l !== '' && !l.startsWith('#'))!
      .split('\t');
    expect(cols[LOG_FIELDS.indexOf('cs(Host)')]).toBe('d111111abcdef8.cloudfront.net');
    expect(cols[LOG_FIELDS.indexOf('x-host-header')]).toBe('shop.example:8443');
  });
});
