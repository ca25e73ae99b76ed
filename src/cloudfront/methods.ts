/**
 * The methods a request's CloudFront behavior allows, from one place: the plan writes them into
 * each behavior's AllowedMethods and the local edge answers any other method with 403, as
 * CloudFront does (it never forwards a method a behavior does not allow).
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesCacheBehavior.html#DownloadDistValuesAllowedHTTPMethods
 */
import type { Method } from '@aws-sdk/client-cloudfront';
import { compilePathPattern } from '../config/patterns.js';
import type { ContentClassConfig } from '../config/sections/classes.js';

export const ALL_METHODS: readonly Method[] = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'];
export const READ_METHODS: readonly Method[] = ['GET', 'HEAD', 'OPTIONS'];

/** Upload and upload-URL paths: behaviors ahead of every class, all methods, never cached. */
export const UPLOAD_PATHS = ['/uploads*', '/upload-urls', '/_edgewise/*'];
/** The upload demo's signing endpoint (POST /_dev/upload-urls): one more such behavior while `dev.demoUploads` is on. */
export const DEMO_UPLOAD_PATHS = ['/_dev/*'];
const UPLOAD_RX = UPLOAD_PATHS.map(compilePathPattern);
const DEMO_RX = DEMO_UPLOAD_PATHS.map(compilePathPattern);

export function uploadPaths(dev: { demoUploads: boolean }): string[] {
  return dev.demoUploads ? [...UPLOAD_PATHS, ...DEMO_UPLOAD_PATHS] : UPLOAD_PATHS;
}

export function isUploadPath(path: string, dev: { demoUploads: boolean }): boolean {
  return UPLOAD_RX.some((re) => re.test(path)) || (dev.demoUploads && DEMO_RX.some((re) => re.test(path)));
}

/** AllowedMethods of a class's behavior: all for `cloudfront.allowAllMethods`, else GET/HEAD/OPTIONS. */
export function classMethods(
  cf: { allowAllMethods: readonly string[] },
  cls: Pick<ContentClassConfig, 'name'>,
): readonly Method[] {
  return cf.allowAllMethods.includes(cls.name) ? ALL_METHODS : READ_METHODS;
}

/**
 * Whether the behavior a request falls under (upload paths first, then its class) allows
 * `method`. A behavior that allows all methods lets extension methods (M-SEARCH, WebDAV's)
 * through as well: CloudFront knows only its seven, the local edge in front of a self-hosted
 * origin does not refuse what the origin may serve (docs/edge.md lists this difference).
 */
export function methodAllowed(
  cf: { allowAllMethods: readonly string[] },
  dev: { demoUploads: boolean },
  path: string,
  cls: Pick<ContentClassConfig, 'name'>,
  method: string,
): boolean {
  const methods = classMethods(cf, cls);
  return (
    methods === ALL_METHODS || (methods as readonly string[]).includes(method) || isUploadPath(path, dev)
  );
}
