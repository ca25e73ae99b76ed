import { describe, expect, it } from 'vitest';
import { encodeField, formatLine, LOG_FIELDS } from '../../src/access-log/format.js';

describe('access log field encoding', () => {
  it('writes - for empty, keeps visible ASCII, percent-encodes the rest (and % itself, as CloudFront)', () => {
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
    const line = formatLine({
      end: Date.UTC(2026, 10, 28, 5, 0, 0),
      edgeLocation: 'LCL1-P1',
      scBytes: 10,
      clientIp: '127.0.0.1',
      method: 'GET',
      host: 'h\tx',
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
    });
    expect(line.split('\t')).toHaveLength(LOG_FIELDS.length);
    expect(line).not.toMatch(/[\r\n]/);
    expect(line.startsWith('2026-11-28\t05:00:00\tLCL1-P1')).toBe(true);
  });
});
