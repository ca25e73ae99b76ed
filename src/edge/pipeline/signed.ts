/**
 * Signed URL / signed cookie check for classes marked `signed`, with the CloudFront verifier
 * (src/cloudfront/verifier.ts). It checks the URL as the viewer sent it, before any
 * viewer-request rewrite, because that is what was signed. A rejection is the catalogue's
 * error for the verifier's code (a 403, as CloudFront answers).
 */
import { verifySignedRequest } from '../../cloudfront/verifier.js';
import type { LiveConfig } from '../../config/live.js';
import { catalogue } from '../../errors.js';
import type { EdgeContext } from '../context.js';
import type { RequestStep } from '../edge.js';
import { headerString } from '../entry.js';

export function signedCheck(config: LiveConfig): RequestStep {
  return (ctx: EdgeContext, cls) => {
    if (!cls.signed) return undefined;
    const result = verifySignedRequest(config.current, {
      url: ctx.viewerUrl,
      clientIp: ctx.clientIp,
      cookies: headerString(ctx.req.headers.cookie),
    });
    if (result.ok) return undefined;
    // The catalogue's status and message for the code, as the origin words it.
    return Promise.resolve(new catalogue[result.code](result.reason));
  };
}
