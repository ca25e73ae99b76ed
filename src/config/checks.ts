/**
 * Cross-field rules JSON Schema cannot express. Each check reports every problem it finds;
 * the loader lists them all together.
 */

import { existsSync } from 'node:fs';
import { patternShadows } from './patterns.js';
import type { CrossCheck } from './schema.js';
import { cloudfrontRules } from './sections/cloudfront.js';
import { corsRules } from './sections/cors.js';
import { devRules } from './sections/dev.js';
import { edgeRules } from './sections/edge.js';
import { imagesRules } from './sections/images.js';
import { kpiRules } from './sections/kpi.js';
import { metricsAccessRules } from './sections/metrics-access.js';
import { prefetchRules } from './sections/prefetch.js';
import { serverServingRules } from './sections/server.js';
import { uploadsRules } from './sections/uploads.js';

const classRules: CrossCheck = (config, report) => {
  const names = new Set<string>();
  config.classes.forEach((cls, i) => {
    const at = `classes[${i}]`;
    if (names.has(cls.name)) report({ path: `${at}.name`, message: 'duplicate class name', value: cls.name });
    names.add(cls.name);
    const { min, max } = cls.ttl;
    const dflt = cls.ttl.default;
    if (min > max) report({ path: `${at}.ttl.min`, message: `must be ≤ ttl.max (${max})`, value: min });
    if (dflt < min) report({ path: `${at}.ttl.default`, message: `must be ≥ ttl.min (${min})`, value: dflt });
    if (dflt > max) report({ path: `${at}.ttl.default`, message: `must be ≤ ttl.max (${max})`, value: dflt });
    if (cls.cacheKey.queryStringBehavior === 'all' && cls.cacheKey.queryStrings.length > 0)
      report({
        path: `${at}.cacheKey.queryStrings`,
        message: 'must be empty with queryStringBehavior all (every parameter is already in the key)',
        value: cls.cacheKey.queryStrings,
      });
    const authInKey = cls.cacheKey.headers.some((h) => h.toLowerCase() === 'authorization');
    if (authInKey && cls.ttl.max === 0) {
      report({
        path: `${at}.cacheKey.headers`,
        message: 'Authorization in the cache key needs a TTL above 0 (CloudFront rule)',
      });
    }
  });
  if (!names.has(config.defaultClass)) {
    report({
      path: 'defaultClass',
      message: `unknown class; defined: ${[...names].join(', ')}`,
      value: config.defaultClass,
    });
  }
  // First match wins, as in CloudFront's ordered cache behaviors; a pattern that an earlier one
  // always matches first can never apply, which is nearly always an ordering mistake.
  const seen: Array<{ pattern: string; at: string }> = [];
  config.classes.forEach((cls, i) => {
    cls.pathPatterns.forEach((pattern, j) => {
      const at = `classes[${i}].pathPatterns[${j}]`;
      const shadow = seen.find((s) => patternShadows(s.pattern, pattern));
      if (shadow) {
        report({
          path: at,
          message: `can never match: ${shadow.at} ("${shadow.pattern}") is checked first`,
          value: pattern,
        });
      }
      seen.push({ pattern, at });
    });
  });
};

const serverRules: CrossCheck = (config, report) => {
  const s = config.server;
  metricsAccessRules('server.metricsAccess', s.metricsAccess, report);
  if (s.headersTimeoutMs <= s.keepAliveTimeoutMs) {
    report({
      path: 'server.headersTimeoutMs',
      message: `must be > server.keepAliveTimeoutMs (${s.keepAliveTimeoutMs})`,
      value: s.headersTimeoutMs,
    });
  }
  if (s.keepAliveTimeoutMs <= config.origin.keepAliveMs) {
    report({
      path: 'server.keepAliveTimeoutMs',
      message: `must be > origin.keepAliveMs (${config.origin.keepAliveMs}) so the origin never closes a connection the edge is about to reuse`,
      value: s.keepAliveTimeoutMs,
    });
  }
  if (s.tls) {
    for (const k of ['cert', 'key'] as const) {
      if (!existsSync(s.tls[k]))
        report({ path: `server.tls.${k}`, message: 'file not found', value: s.tls[k] });
    }
  }
  if (s.tls && s.h2c)
    report({
      path: 'server.h2c',
      message: 'h2c is cleartext; with server.tls set, HTTP/2 is negotiated by ALPN',
    });
};

const storageRules: CrossCheck = (config, report) => {
  if (config.storage.driver === 's3' && !config.storage.s3.bucket) {
    report({ path: 'storage.s3.bucket', message: 'is required when storage.driver is "s3"' });
  }
};

export const crossChecks: CrossCheck[] = [
  corsRules,
  devRules,
  classRules,
  serverRules,
  storageRules,
  cloudfrontRules,
  imagesRules,
  edgeRules,
  serverServingRules,
  uploadsRules,
  prefetchRules,
  kpiRules,
];
