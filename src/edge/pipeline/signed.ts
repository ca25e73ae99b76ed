/**
 * Signed URL / signed cookie check for classes marked `signed`, with the CloudFront verifier
 * (src/cloudfront/verifier.ts). It checks the URL as the viewer sent it, before any
 * viewer-request rewrite, because that is what was signed. A rejection is a 403 with the
 * verifier's code, as CloudFront answers.
 */
import { verifySignedRequest } from '../../cloudfront/verifier.js';
import type { ConfigStore } from '../../config/store.js';
import type { EdgeContext } from '../context.js';
import type { RequestStep } from '../edge.js';
import { headerString } from '../entry.js';

export function signedCheck(config: ConfigStore): RequestStep {
  return (ctx: EdgeContext, cls) => {
    if (!cls.signed) return undefined;
    const result = verifySignedRequest(config.current, {
      url: ctx.viewerUrl,
      clientIp: ctx.clientIp,
      cookies: headerString(ctx.req.headers.cookie),
    });
    if (result.ok) return undefined;
    return Promise.resolve({ statusCode: 403, code: result.code, message: result.reason });
  };
}
