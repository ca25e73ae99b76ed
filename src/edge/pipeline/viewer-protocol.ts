/**
 * Viewer protocol policy (CloudFront): allow-all serves both schemes; redirect-to-https
 * answers an http GET/HEAD with 301 to the https URL (other methods get 403, as redirecting a
 * POST would drop its body); https-only answers http with 403.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-https-viewers-to-cloudfront.html
 */
import type { ContentClassConfig } from '../../config/sections/classes.js';

export type ProtocolDecision =
  | { action: 'pass' }
  | { action: 'redirect'; location: string }
  | { action: 'forbid' };

export function viewerProtocol(
  policy: ContentClassConfig['viewerProtocolPolicy'],
  scheme: 'http' | 'https',
  enforce: boolean,
  method: string,
  host: string,
  pathAndQuery: string,
): ProtocolDecision {
  if (!enforce || policy === 'allow-all' || scheme === 'https') return { action: 'pass' };
  if (policy === 'redirect-to-https' && (method === 'GET' || method === 'HEAD') && host !== '')
    return { action: 'redirect', location: `https://${host}${pathAndQuery}` };
  return { action: 'forbid' };
}
