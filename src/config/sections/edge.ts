import { type Static, Type } from '@sinclair/typebox';
import { SIGNED_COOKIES } from '../../redact.js';
import { metricsAccessRules, metricsAccessSchema } from './metrics-access.js';

/**
 * The local edge (`edgewise edge`, and part of `edgewise dev`): a caching reverse proxy that
 * applies the content classes the way a CloudFront POP applies cache behaviors. Classes carry
 * the per-behavior rules (patterns, TTLs, cache key, protocol policy, compression, signing);
 * this section holds what belongs to the edge process itself.
 */
const MiB = 1024 * 1024;

export const EdgeOriginTarget = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z][a-z0-9_-]{0,62}$',
      description: 'Name classes refer to in edge.targets. "origin" is reserved for origin.url.',
    }),
    url: Type.String({ format: 'uri', description: 'Base URL (http or https) of this upstream.' }),
  },
  { additionalProperties: false },
);

export const EdgeSection = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address the edge binds to.' }),
    port: Type.Integer({
      default: 8081,
      minimum: 0,
      maximum: 65535,
      description:
        'Edge port (origin is 8080 by default, so the edge takes the next one); 0 picks a free port.',
    }),
    tls: Type.Optional(
      Type.Object(
        {
          cert: Type.String({ minLength: 1, description: 'PEM certificate chain for the viewer listener.' }),
          key: Type.String({ minLength: 1, description: 'PEM private key.' }),
        },
        {
          additionalProperties: false,
          description:
            'Serve HTTPS with HTTP/2 and HTTP/1.1 (ALPN). Without it the edge speaks cleartext and viewer protocol policies can only be enforced with trustForwardedProto.',
        },
      ),
    ),
    workers: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 256,
      description:
        'Worker processes serving the edge port (node:cluster), one cache across them: a cold key is fetched once, invalidations reach every worker, metrics are totals. 0: one per core (os.availableParallelism()); 1: a single process.',
    }),
    h2c: Type.Boolean({
      default: false,
      description: 'Without tls: speak cleartext HTTP/2 (prior knowledge) instead of HTTP/1.1.',
    }),
    trustForwardedProto: Type.Boolean({
      default: false,
      description:
        'Take the viewer scheme from X-Forwarded-Proto (set it only behind a TLS terminator you control: a viewer could forge it).',
    }),
    keepAliveTimeoutMs: Type.Integer({
      default: 65000,
      minimum: 1000,
      maximum: 600000,
      description: 'Idle viewer keep-alive; longer than the load balancers that usually sit in front (60 s).',
    }),
    origins: Type.Array(EdgeOriginTarget, {
      default: [],
      maxItems: 25,
      description: 'Upstreams besides the edgewise origin (CloudFront allows 25 origins per distribution).',
    }),
    targets: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }), Type.String({ minLength: 1 }), {
      default: {},
      description: 'Class name → origin name; classes not listed go to "origin" (origin.url).',
    }),
    functions: Type.Object(
      {
        dir: Type.String({
          default: 'edge-functions/dist',
          minLength: 1,
          description: 'Directory of the built CloudFront Functions (`edgewise cloudfront build`).',
        }),
        viewerRequest: Type.Boolean({
          default: true,
          description: 'Run viewer-request.js from dir on every request when the file exists.',
        }),
        viewerResponse: Type.Boolean({
          default: true,
          description:
            'Run viewer-response.js from dir on every response below 400 when the file exists (CloudFront skips it for origin errors).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    cache: Type.Object(
      {
        policy: Type.Union(
          [Type.Literal('adaptive'), Type.Literal('s3fifo'), Type.Literal('sieve'), Type.Literal('lru')],
          {
            default: 'adaptive',
            description:
              'Eviction policy of both tiers. adaptive holds entries under LRU or S3-FIFO, whichever sampled miniature simulations of both show winning on the traffic (S3-FIFO is scan-resistant and wins on typical CDN traces; LRU wins where new content is re-requested at medium distances and then forgotten); `npm run bench cache-policy` measures all four.',
          },
        ),
        memoryBytes: Type.Integer({
          default: 256 * MiB,
          minimum: MiB,
          maximum: 64 * 1024 * MiB,
          description:
            'Bytes the memory tier holds at most, each entry counted at what the process holds for it (body, headers, keys and ~1.6 KiB of per-entry structures), so the setting bounds the process.',
        }),
        diskBytes: Type.Integer({
          default: 4096 * MiB,
          minimum: 0,
          maximum: 16 * 1024 * 1024 * MiB,
          description: 'Bytes the disk tier holds at most; 0 disables the disk tier.',
        }),
        diskDir: Type.String({
          default: 'data/.edge-cache',
          minLength: 1,
          description: 'Disk tier directory; emptied at start (the cache does not survive restarts).',
        }),
        diskThresholdBytes: Type.Integer({
          default: MiB,
          minimum: 1024,
          maximum: 1024 * MiB,
          description:
            'Objects at least this large go to the disk tier, so one video does not flush the memory tier.',
        }),
        maxObjectBytes: Type.Integer({
          default: 512 * MiB,
          minimum: 1024,
          maximum: 50 * 1024 * MiB,
          description:
            'Larger responses stream through uncached (CloudFront caches up to 50 GB; a fill is buffered while it streams, so keep this well under memory).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    cacheControlTargets: Type.Array(Type.String({ pattern: '^[a-z0-9-]+-cache-control$', maxLength: 64 }), {
      default: ['edgewise-cache-control', 'cdn-cache-control'],
      maxItems: 8,
      description:
        'Targeted cache-control fields (RFC 9213) the edge obeys instead of Cache-Control, first present wins; [] ignores them all (CloudFront reads none).',
    }),
    errorCachingMinTtl: Type.Integer({
      default: 10,
      minimum: 0,
      maximum: 31536000,
      description:
        'Seconds a 4xx/5xx error without its own freshness is cached (CloudFront error caching minimum TTL, 10 s by default); 0 disables.',
    }),
    logs: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Write CloudFront standard access logs.' }),
        dir: Type.String({ default: 'data/logs', minLength: 1, description: 'Root directory of log files.' }),
        prefix: Type.String({
          default: 'edge/',
          maxLength: 200,
          pattern: '^[A-Za-z0-9!_.*()/-]*$',
          description: 'Key prefix under dir, as in CloudFront logging config.',
        }),
        distributionId: Type.String({
          default: 'EDGEWISELOCAL',
          pattern: '^[A-Z0-9]{1,32}$',
          description: 'Distribution id in file names.',
        }),
        edgeLocation: Type.String({
          default: 'LCL1-P1',
          pattern: '^[A-Za-z0-9-]{1,32}$',
          description: 'x-edge-location written in every line.',
        }),
        distributionDomain: Type.String({
          default: '',
          maxLength: 253,
          pattern: '^([A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*)?$',
          description:
            "cs(Host) in every line: CloudFront writes the distribution's domain name (d111111abcdef8.cloudfront.net); empty (the default): the viewer's Host without its port.",
        }),
        includeCookies: Type.Boolean({
          default: false,
          description:
            "Write the viewer's Cookie header in cs(Cookie), as CloudFront's logging IncludeCookies (off by default: the field is -). Cookies are credentials more often than not; those in redactCookies keep only their names.",
        }),
        redactCookies: Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\s;=,]+$' }), {
          default: [...SIGNED_COOKIES],
          maxItems: 64,
          description:
            'With includeCookies: cookie names (case-insensitive) whose values are logged as [redacted]; add your session cookies. The default is the CloudFront signed-cookie triple.',
        }),
        flushIntervalMs: Type.Integer({
          default: 1000,
          minimum: 10,
          maximum: 60000,
          description:
            'Lines are batched in memory and written at most this often (never on the response path).',
        }),
        rotateSeconds: Type.Integer({
          default: 3600,
          minimum: 1,
          maximum: 3600,
          description:
            'A file is closed and published at least this often (hourly as CloudFront; lower it so readers see lines sooner).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    invalidation: Type.Object(
      {
        apiKeys: Type.Array(Type.String({ minLength: 16, maxLength: 256 }), {
          default: [],
          maxItems: 16,
          description:
            'Bearer keys accepted by POST /_edge/invalidations (set by env, EDGEWISE__EDGE__INVALIDATION__APIKEYS). None: the API answers 401 to everyone.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    metricsPath: Type.String({
      default: '/_edge/metrics',
      pattern: '^/',
      description:
        "Path of the edge's Prometheus metrics (not forwarded to the origin); readable only as edge.metricsAccess allows.",
    }),
    metricsAccess: metricsAccessSchema(
      "the edge's metrics (edge.metricsPath) and the origin's /metrics reached through the edge, which the edge otherwise answers 401 and never forwards. Separate from invalidation.apiKeys: a scraper gets read access only",
      'EDGEWISE__EDGE__METRICSACCESS',
    ),
    shutdownDeadlineMs: Type.Integer({
      default: 30000,
      minimum: 0,
      maximum: 600000,
      description: 'On SIGTERM, how long in-flight requests may run before the edge exits.',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type EdgeConfig = Static<typeof EdgeSection>;

/** Cross-field rules: targets name known classes and origins; the edge does not take the origin's port. */
export const edgeRules = (
  config: {
    edge: EdgeConfig;
    classes: ReadonlyArray<{ name: string }>;
    server: { host: string; port: number };
  },
  report: (issue: { path: string; message: string; value?: unknown }) => void,
): void => {
  const e = config.edge;
  const origins = new Set(['origin']);
  e.origins.forEach((o, i) => {
    if (origins.has(o.name))
      report({
        path: `edge.origins[${i}].name`,
        message: 'duplicate or reserved origin name',
        value: o.name,
      });
    origins.add(o.name);
  });
  const classes = new Set(config.classes.map((c) => c.name));
  for (const [cls, target] of Object.entries(e.targets)) {
    if (!classes.has(cls)) report({ path: `edge.targets.${cls}`, message: 'unknown class' });
    if (!origins.has(target))
      report({
        path: `edge.targets.${cls}`,
        message: `unknown origin; defined: ${[...origins].join(', ')}`,
        value: target,
      });
  }
  if (e.port !== 0 && e.port === config.server.port && e.host === config.server.host)
    report({
      path: 'edge.port',
      message: 'must differ from server.port (the origin listens there)',
      value: e.port,
    });
  if (e.tls && e.h2c)
    report({
      path: 'edge.h2c',
      message: 'h2c is cleartext; with edge.tls set, HTTP/2 is negotiated by ALPN',
    });
  metricsAccessRules('edge.metricsAccess', e.metricsAccess, report);
  if (e.cache.diskThresholdBytes > e.cache.maxObjectBytes)
    report({
      path: 'edge.cache.diskThresholdBytes',
      message: `must be ≤ edge.cache.maxObjectBytes (${e.cache.maxObjectBytes})`,
      value: e.cache.diskThresholdBytes,
    });
};
