import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestOrigin, type TestOrigin } from '../helpers/origin.js';

const KEY = 'origin-metrics-key-0123456789';
const scrape = { headers: { authorization: `Bearer ${KEY}` } };

describe('/metrics', () => {
  let o: TestOrigin;
  beforeAll(async () => {
    o = await startTestOrigin({ server: { metricsAccess: { apiKeys: [KEY] } } });
    await o.storage.put('static/a.txt', Readable.from([Buffer.from('hello world')]), {
      contentType: 'text/plain',
    });
  });
  afterAll(() => o.close());

  test('exposes request, byte, storage and upload metrics in Prometheus text format', async () => {
    const got = await request(`${o.url}/static/a.txt`);
    expect(got.statusCode).toBe(200);
    await got.body.text();
    await (await request(`${o.url}/api/missing.json`)).body.text();
    o.app.edgewise.metrics.uploadFailures.inc({ code: 'EDGEWISE_UPLOAD_TOO_LARGE' });
    const res = await request(`${o.url}/metrics`, scrape);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.body.text();
    expect(text).toMatch(
      /edgewise_http_request_duration_seconds_count\{route="\/\*",class="static_assets",method="GET",status="200"\} 1/,
    );
    expect(text).toMatch(
      /edgewise_http_request_duration_seconds_count\{route="\/\*",class="api_responses",method="GET",status="404"\} 1/,
    );
    expect(text).toMatch(/edgewise_http_response_bytes_total\{route="\/\*",class="static_assets"\} 11/);
    expect(text).toMatch(
      /edgewise_storage_operation_duration_seconds_count\{driver="fs",operation="get",outcome="ok"\} 1/,
    );
    expect(text).toMatch(
      /edgewise_storage_operation_duration_seconds_count\{driver="fs",operation="get",outcome="miss"\} 1/,
    );
    expect(text).toMatch(/edgewise_upload_failures_total\{code="EDGEWISE_UPLOAD_TOO_LARGE"\} 1/);
    expect(text).toContain('# TYPE edgewise_upload_bytes_total counter');
    expect(text).toContain('# TYPE edgewise_upload_duration_seconds histogram');
    expect(text).toContain('process_cpu_seconds_total');
  });

  test('bytes of a body compressed on the fly (no Content-Length) are counted as sent', async () => {
    await o.storage.put('u/big.txt', Readable.from([Buffer.from('abc'.repeat(2000))]), {
      contentType: 'text/plain',
    });
    const res = await request(`${o.url}/u/big.txt`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['content-length']).toBeUndefined();
    const sent = (await res.body.arrayBuffer()).byteLength;
    const text = await (await request(`${o.url}/metrics`, scrape)).body.text();
    expect(text).toContain(`edgewise_http_response_bytes_total{route="/*",class="user_content"} ${sent}`);
  });
});
