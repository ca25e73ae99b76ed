import { describe, expect, it } from 'vitest';
import { parseAge, parseHttpDate, targetedCacheControl } from '../../src/http/freshness.js';

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  const t = Date.UTC(2050, 7, 18, 2, 1, 18);
  it('reads the three formats, names in any case', () => {
    expect(parseHttpDate('Thu, 18 Aug 2050 02:01:18 GMT')).toBe(t);
    expect(parseHttpDate('THU, 18 AUG 2050 02:01:18 gmt')).toBe(t);
    expect(parseHttpDate('Thu Aug 18 02:01:18 2050')).toBe(t);
    expect(parseHttpDate('Thu Aug  8 02:01:18 2050')).toBe(Date.UTC(2050, 7, 8, 2, 1, 18));
  });
  it('RFC 850 two-digit years: more than 50 years ahead means the past century', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(parseHttpDate('Thursday, 18-Aug-50 02:01:18 GMT', now)).toBe(t);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
  });
  it('refuses everything else', () => {
    for (const v of [
      'Thu, 18 Aug 2050 02:01:18 UTC',
      'Thu, 18 Aug 50 02:01:18 GMT',
      'Thu 18 Aug 2050 02:01:18 GMT',
      'Thu, 18  Aug  2050 02:01:18 GMT',
      'Thu, 18-Aug-2050 02:01:18 GMT',
      'Thu, 18 Aug 2050 02.01.18 GMT',
      'Thu, 18 Aug 2050 2:01:18 GMT',
      'Thu, 31 Feb 2050 02:01:18 GMT',
      '0',
      '',
    ])
      expect(parseHttpDate(v), v).toBeNaN();
  });
});

describe('parseAge (RFC 9111 §5.1)', () => {
  it('first member, non-negative integers only', () => {
    expect(parseAge('10')).toBe(10);
    expect(parseAge('0, 7200')).toBe(0);
    expect(parseAge(['7200', '0'])).toBe(7200);
    expect(parseAge('7200;foo=bar')).toBe(7200);
    expect(parseAge('99999999999')).toBe(2147483648);
    for (const v of ['abc', '-1', '1.5', '']) expect(parseAge(v)).toBeUndefined();
  });
});

describe('targetedCacheControl (RFC 9213)', () => {
  it('first configured field present wins; a malformed one is skipped', () => {
    const targets = ['edgewise-cache-control', 'cdn-cache-control'];
    expect(targetedCacheControl({ 'cdn-cache-control': 'max-age=60, private' }, targets)).toEqual({
      field: 'cdn-cache-control',
      value: 'max-age=60, private',
    });
    expect(
      targetedCacheControl(
        { 'cdn-cache-control': 'no-store', 'edgewise-cache-control': 'max-age=5' },
        targets,
      )?.field,
    ).toBe('edgewise-cache-control');
    expect(targetedCacheControl({ 'cdn-cache-control': 'max-age=60, =x' }, targets)).toBeUndefined();
    expect(targetedCacheControl({ 'cdn-cache-control': 'max-age="10000"' }, targets)).toBeUndefined();
    expect(targetedCacheControl({ 'cdn-cache-control': 'max-age=60' }, [])).toBeUndefined();
  });
});
