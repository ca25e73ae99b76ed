/** The public surface: what embedding applications and tests need, nothing more. */
export { type BuildOriginOptions, buildOrigin } from './app.js';
export {
  type CacheStore,
  type CacheStoreOptions,
  createCacheStore,
  POLICIES,
  type PolicyName,
} from './cache-store/index.js';
export { classify } from './classes.js';
export { buildFunctions, writeBuild } from './cloudfront/build.js';
export { ensureDevSigningKeys } from './cloudfront/keys.js';
export { buildPlan } from './cloudfront/plan.js';
export { type CfEvent, loadViewerFunction, type RunResult } from './cloudfront/runtime.js';
export { signViewerCookies, signViewerUrl } from './cloudfront/signer.js';
export { verifySignedRequest } from './cloudfront/verifier.js';
export { buildConfig, ConfigError, type EdgewiseConfig, LiveConfig, loadConfig } from './config/index.js';
export { type BuildEdgeOptions, buildEdge, type EdgeApp } from './edge/app.js';
export { type RunningEdge, startEdge } from './edge/server.js';
export { catalogue as errorCatalogue } from './errors.js';
export { imageUrl, srcset } from './images/srcset.js';
export { imageVariantKey, imageVariantPrefix } from './images/variant-key.js';
export { createLogger } from './logger.js';
export { createMetrics, type EdgewiseMetrics, instrumentStorage } from './metrics.js';
export { type RunningOrigin, startOrigin } from './server.js';
export { cleanupIncomplete, lifecycleRule } from './storage/cleanup.js';
export { FsDriver } from './storage/fs.js';
export { createStorage } from './storage/index.js';
export { MemoryDriver, type MemoryDriverOptions } from './storage/memory.js';
export { S3Driver, type S3DriverOptions } from './storage/s3.js';
export type { Leftover, ObjectMeta, S3Target, StorageDriver, StoredObject } from './storage/types.js';
export { grantFor, signedUploadUrl, type UploadUrlRequest } from './uploads/grant.js';
export { type UploadGrant, verifyUploadParams } from './uploads/signing.js';
