import { describe, expect, it } from 'vitest';
import { variantKey } from '../../src/edge/fill.js';

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
