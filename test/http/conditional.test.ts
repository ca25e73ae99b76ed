/**
 * The one implementation of RFC 9110 §13 preconditions and §14 ranges that the origin and the
 * edge's cache hits both call (src/http/conditional.ts). End to end, test/differential sends
 * the same requests through both and demands the same status.
 */
import { describe, expect, it } from 'vitest';
import { selectRepresentation, type Validators } from '../../src/http/conditional.js';

const date = 'Sat, 28 Nov 2026 05:00:00 GMT';
const t = Date.parse(date);
const v: Validators = { etag: '"a"', lastModified: t };
const kind = (headers: Record<string, string>, val: Validators = v, method = 'GET') =>
  selectRepresentation(method, headers, val, 10).kind;

describe('preconditions, RFC 9110 §13.2.2 order', () => {
  it('If-Match: strong comparison, "*" matches, failure is 412 whatever follows', () => {
    expect(kind({ 'if-match': '"a"' })).toBe('full');
    expect(kind({ 'if-match': '"x", "a"' })).toBe('full');
    expect(kind({ 'if-match': '*' })).toBe('full');
    expect(kind({ 'if-match': 'W/"a"' })).toBe('failed');
    expect(kind({ 'if-match': '"nope"', 'if-none-match': '"a"' })).toBe('failed');
    expect(kind({ 'if-match': '"a"' }, { etag: 'W/"a"', lastModified: t })).toBe('failed');
    expect(kind({ 'if-match': '"a"' }, {})).toBe('failed');
  });
  it('If-Unmodified-Since: only without If-Match, invalid dates ignored', () => {
    expect(kind({ 'if-unmodified-since': 'Sat, 28 Nov 2026 04:00:00 GMT' })).toBe('failed');
    expect(kind({ 'if-unmodified-since': date })).toBe('full');
    expect(kind({ 'if-unmodified-since': 'yesterday' })).toBe('full');
    expect(kind({ 'if-match': '"a"', 'if-unmodified-since': 'Sat, 28 Nov 2026 04:00:00 GMT' })).toBe('full');
    // No modification date: the field is ignored (§13.1.4).
    expect(kind({ 'if-unmodified-since': 'Sat, 28 Nov 2026 04:00:00 GMT' }, { etag: '"a"' })).toBe('full');
  });
  it('If-None-Match wins over If-Modified-Since; weak comparison; 412 for unsafe methods', () => {
    expect(kind({ 'if-none-match': '"b"', 'if-modified-since': date })).toBe('full');
    expect(kind({ 'if-none-match': '"a"' })).toBe('not-modified');
    expect(kind({ 'if-none-match': 'W/"a"' })).toBe('not-modified');
    expect(kind({ 'if-none-match': '*' })).toBe('not-modified');
    expect(kind({ 'if-none-match': '"a"' }, v, 'HEAD')).toBe('not-modified');
    expect(kind({ 'if-none-match': '"a"' }, v, 'DELETE')).toBe('failed');
  });
  it('If-Modified-Since: whole seconds; a cache without Last-Modified uses Date (RFC 9111 §4.3.2)', () => {
    expect(kind({ 'if-modified-since': date }, { etag: '"a"', lastModified: t + 999 })).toBe('not-modified');
    expect(kind({ 'if-modified-since': 'Sat, 28 Nov 2026 04:00:00 GMT' })).toBe('full');
    expect(kind({ 'if-modified-since': date }, { modifiedFallback: t })).toBe('not-modified');
    expect(kind({ 'if-modified-since': 'Sat, 28 Nov 2026 04:00:00 GMT' }, { modifiedFallback: t })).toBe(
      'full',
    );
    expect(kind({ 'if-modified-since': date }, v, 'POST')).toBe('full');
  });
});

describe('ranges', () => {
  it('apply only when If-Range matches a strong validator or the exact date', () => {
    expect(selectRepresentation('GET', { range: 'bytes=0-1', 'if-range': '"a"' }, v, 10)).toEqual({
      kind: 'partial',
      range: { start: 0, end: 1 },
    });
    expect(kind({ range: 'bytes=0-1', 'if-range': date })).toBe('partial');
    expect(kind({ range: 'bytes=0-1', 'if-range': 'Sat, 28 Nov 2026 04:00:00 GMT' })).toBe('full');
    expect(kind({ range: 'bytes=0-1', 'if-range': 'W/"a"' }, { etag: 'W/"a"' })).toBe('full');
    expect(kind({ range: 'bytes=0-1,4-5' })).toBe('full');
    expect(kind({ range: 'bytes=0-1,1-3' })).toBe('partial');
    expect(kind({ range: 'bytes=20-' })).toBe('unsatisfiable');
    expect(kind({ range: 'pages=1' })).toBe('full');
    expect(kind({ range: 'bytes=0-1' }, v, 'HEAD')).toBe('full');
  });
  it('come after preconditions', () => {
    expect(kind({ range: 'bytes=20-', 'if-match': '"nope"' })).toBe('failed');
    expect(kind({ range: 'bytes=0-1', 'if-none-match': '"a"' })).toBe('not-modified');
  });
});
