/**
 * `edgewise sign url <key|path|url>`: prints a CloudFront signed URL for content in a signed
 * class, with the configured key (canned policy for an expiry alone, custom otherwise).
 */
import { setCookieHeaders, signViewerCookies, signViewerUrl, viewerUrlForKey } from '../cloudfront/signer.js';
import { BadSignRequest, isCodedError, SigningNotConfigured } from '../errors.js';
import { type Command, configOption, configOptionHelp, EXIT_OK, EXIT_USAGE, UsageError } from './command.js';
import { durationOption } from './duration.js';
import { loadConfigOrReport } from './load.js';

function seconds(raw: unknown): number | undefined {
  return raw === undefined ? undefined : Math.round(durationOption(String(raw), '--expires') / 1000);
}

export const signUrl: Command = {
  path: ['sign', 'url'],
  summary:
    'Print a signed URL for a storage key (u/photo.jpg), a path (/u/photo.jpg) or a full URL; --cookies prints the Set-Cookie header lines instead.',
  usage:
    '<key|path|url> [--expires 1h] [--ip 203.0.113.0/24] [--not-before <ISO date>] [--wildcard <resource>] [--cookies]',
  options: {
    ...configOption,
    expires: { type: 'string', short: 'e' },
    ip: { type: 'string' },
    'not-before': { type: 'string' },
    wildcard: { type: 'string' },
    cookies: { type: 'boolean' },
  },
  optionHelp: {
    ...configOptionHelp,
    expires: 'Lifetime: seconds, or 30m / 12h / 7d (default cloudfront.signing.defaultExpiresSeconds)',
    ip: 'Only this IPv4 address or CIDR may use it (custom policy; CloudFront takes no IPv6 ranges)',
    'not-before': 'Not valid before this ISO-8601 instant (custom policy)',
    wildcard: 'Policy resource with * / ? wildcards, e.g. /u/album-7/* (custom policy)',
    cookies:
      'Print complete Set-Cookie header lines (Domain from cloudfront.signing.cookieDomain, Path=/, Secure, HttpOnly) for signed cookies covering the resource',
  },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError('expected exactly one key, path or URL');
    const target = positionals[0]!;
    const store = loadConfigOrReport(values.config as string | undefined);
    if (!store) return EXIT_USAGE;
    const config = store.current;
    const notBefore = values['not-before'] === undefined ? undefined : new Date(String(values['not-before']));
    if (notBefore && Number.isNaN(notBefore.getTime())) throw new UsageError('--not-before is not a date');
    const opts = {
      expiresInSeconds: seconds(values.expires),
      notBefore,
      ipRange: values.ip as string | undefined,
      wildcardResource: values.wildcard as string | undefined,
    };
    const url =
      /^https?:\/\//.test(target) || target.startsWith('/') ? target : viewerUrlForKey(config, target);
    try {
      if (values.cookies) {
        const resource = opts.wildcardResource ?? url;
        const cookies = signViewerCookies(config, { ...opts, resource });
        for (const line of setCookieHeaders(config, cookies)) process.stdout.write(`Set-Cookie: ${line}\n`);
      } else {
        process.stdout.write(`${signViewerUrl(config, url, opts)}\n`);
      }
    } catch (err) {
      if (isCodedError(err) && (err.code === SigningNotConfigured.code || err.code === BadSignRequest.code)) {
        process.stderr.write(`edgewise sign url: ${err.message}\n`);
        return EXIT_USAGE;
      }
      throw err;
    }
    return EXIT_OK;
  },
};
