/**
 * Accept headers and the image token each must give (`auto`, `auto-w`, `auto-a`, `auto-aw`), with
 * AVIF and WebP both allowed: shared by the negotiation unit test, the built function's test and
 * the differential corpus.
 */
export const ACCEPT_CASES: Array<[string, string]> = [
  ['image/avif,image/webp,image/apng,*/*;q=0.8', 'auto-aw'],
  ['image/webp,*/*', 'auto-w'],
  ['image/avif', 'auto-a'],
  ['*/*', 'auto'],
  ['image/*', 'auto'],
  ['image/png,*/*', 'auto'],
  ['', 'auto'],
  // Issue 13: a q=0 is a refusal, whatever wildcard follows; substrings are not types.
  ['image/avif;q=0, */*', 'auto'],
  ['image/webp;q=0, image/jpeg', 'auto'],
  ['image/avif;q=0, image/webp', 'auto-w'],
  ['image/avif; q=0.0, image/webp;q=0.001', 'auto-w'],
  ['image/avif;q=0.5,image/webp;q=1', 'auto-aw'],
  ['IMAGE/AVIF, Image/WebP', 'auto-aw'],
  ['image/avifx, image/webpx', 'auto'],
  ['application/image/avif', 'auto'],
  ['image/avif;level=1', 'auto'],
  ['image/avif;q=2', 'auto'],
  ['image/avif;q=abc', 'auto'],
  ['image/avif;q=0, image/avif;q=1', 'auto-a'],
  ['text/html, image/webp ;q=0.9', 'auto-w'],
];
