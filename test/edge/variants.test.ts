import { describe, expect, it } from 'vitest';
import { variantKey } from '../../src/edge/fill.js';
import { selectRepresentation } from '../../src/edge/pipeline/conditional.js';

describe('Vary secondary keys', () => {
  it('normalise list whitespace, and Accept-Language case and order', () => {
    const k = (h: Record<string, string>) => variantKey('p', ['accept-language', 'x-foo'], h);
    expect(k({ 'accept-language': 'en-GB, FR;q=0.5', 'x-foo': 'a, b' })).toBe(
      k({ 'accept-language': 'fr;q=0.5,en-gb', 'x-foo': 'a,b' }),
    );
    expect(k({ 'accept-language': 'en', 'x-foo': 'a' })).not.toBe(
      k({ 'accept-language': 'de', 'x-foo': 'a' }),
    );
    // A header that is absent is not the same as one that is present.
    expect(k({ 'x-foo': 'a' })).not.toBe(k({ 'accept-language': 'en', 'x-foo': 'a' }));
  });
});

describe('conditional requests against a stored response', () => {
  const date = 'Sat, 28 Nov 2026 05:00:00 GMT';
  it('If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)', () => {
    const h = { etag: '"a"', 'last-modified': date };
    expect(
      selectRepresentation('GET', { 'if-none-match': '"b"', 'if-modified-since': date }, 200, h, 10).kind,
    ).toBe('full');
    expect(selectRepresentation('GET', { 'if-none-match': '"a"' }, 200, h, 10).kind).toBe('not-modified');
  });
  it('uses Date when the stored response has no Last-Modified (RFC 9111 §4.3.2)', () => {
    expect(selectRepresentation('GET', { 'if-modified-since': date }, 200, { date }, 10).kind).toBe(
      'not-modified',
    );
    expect(
      selectRepresentation('GET', { 'if-modified-since': 'Sat, 28 Nov 2026 04:00:00 GMT' }, 200, { date }, 10)
        .kind,
    ).toBe('full');
  });
  it('applies a range only when If-Range matches a strong validator', () => {
    const h = { etag: '"a"' };
    expect(selectRepresentation('GET', { range: 'bytes=0-1', 'if-range': '"a"' }, 200, h, 10)).toEqual({
      kind: 'range',
      start: 0,
      end: 1,
    });
    expect(
      selectRepresentation('GET', { range: 'bytes=0-1', 'if-range': 'W/"a"' }, 200, { etag: 'W/"a"' }, 10)
        .kind,
    ).toBe('full');
    expect(selectRepresentation('GET', { range: 'bytes=0-1,4-5' }, 200, h, 10).kind).toBe('full');
    expect(selectRepresentation('GET', { range: 'bytes=20-' }, 200, h, 10).kind).toBe('unsatisfiable');
  });
});
