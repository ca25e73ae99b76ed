import { type Static, Type } from '@sinclair/typebox';
import { metricsAccessSchema } from './metrics-access.js';

/**
 * The origin's own listener. Timeouts are chosen so that the origin never closes an idle
 * keep-alive connection before the client in front of it does (CloudFront keeps origin
 * connections 5 s by default, up to 60 s; an AWS ALB 60 s): a server that closes first races
 * the client's next request and turns it into a 502 at the edge.
 */
export const ServerSection = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address the origin binds to.' }),
    port: Type.Integer({
      default: 8080,
      minimum: 0,
      maximum: 65535,
      description: 'Origin port; 0 picks a free port.',
    }),
    publicUrl: Type.Optional(
      Type.String({
        format: 'uri',
        description:
          'Base URL clients use to reach content (the edge or CloudFront domain). Defaults to the local edge in dev.',
      }),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          cert: Type.String({ minLength: 1, description: 'Path to a PEM certificate chain.' }),
          key: Type.String({ minLength: 1, description: 'Path to the PEM private key.' }),
        },
        { additionalProperties: false },
      ),
    ),
    h2c: Type.Boolean({
      default: false,
      description: 'Serve cleartext HTTP/2 (prior knowledge) instead of HTTP/1.1.',
    }),
    keepAliveTimeoutMs: Type.Integer({
      default: 65000,
      minimum: 1000,
      maximum: 600000,
      description: 'Idle keep-alive; longer than every upstream (CloudFront 5 s default, ALB 60 s).',
    }),
    headersTimeoutMs: Type.Integer({
      default: 66000,
      minimum: 1000,
      maximum: 600000,
      description: 'Time to receive request headers; must exceed keepAliveTimeoutMs (Node closes otherwise).',
    }),
    requestTimeoutMs: Type.Integer({
      default: 30000,
      minimum: 1000,
      maximum: 3600000,
      description: 'Whole-request deadline for non-upload routes (slowloris bound).',
    }),
    uploadTimeoutMs: Type.Integer({
      default: 3600000,
      minimum: 1000,
      maximum: 86400000,
      description: 'Whole-request deadline on upload routes, which legitimately last long.',
    }),
    http2SessionTimeoutMs: Type.Integer({
      default: 72000,
      minimum: 1000,
      maximum: 600000,
      description: 'Idle HTTP/2 session timeout; above keepAliveTimeoutMs for the same reason.',
    }),
    shutdownDeadlineMs: Type.Integer({
      default: 30000,
      minimum: 0,
      maximum: 600000,
      description: 'On SIGTERM, how long in-flight requests may run before the process exits.',
    }),
    userContentClasses: Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
      default: ['user_content'],
      maxItems: 25,
      uniqueItems: true,
      description:
        'Content classes holding files uploaded by users: active types (HTML, SVG, XML, JS, PDF) are served as attachments, every response gets CSP sandbox, and Cache-Control is private unless the class is signed at the edge. Names of classes that do not exist match nothing.',
    }),
    trustedActiveContentClasses: Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
      default: [],
      maxItems: 25,
      uniqueItems: true,
      description:
        "Content classes whose HTML, SVG and XML may run script (the operator's own site pages). Everywhere else those types are served with a sandboxing Content-Security-Policy, because uploads can land in any class. Anyone who may write keys in a listed class can publish script on this domain. Must not name a user-content class.",
    }),
    compression: Type.Object(
      {
        thresholdBytes: Type.Integer({
          default: 1024,
          minimum: 0,
          maximum: 1048576,
          description:
            'On-the-fly compression only for bodies larger than this; below ~1 KB the framing overhead eats the gain.',
        }),
        brotliQuality: Type.Integer({
          default: 4,
          minimum: 0,
          maximum: 5,
          description:
            'Brotli quality for on-the-fly compression; capped at 5 because higher levels cost several times the CPU for a few percent (precompressed variants use the high levels).',
        }),
        gzipLevel: Type.Integer({
          default: 6,
          minimum: 1,
          maximum: 9,
          description: 'gzip level for on-the-fly compression (zlib default 6).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    overload: Type.Object(
      {
        maxEventLoopDelayMs: Type.Integer({
          default: 1000,
          minimum: 0,
          maximum: 60000,
          description: 'Mean event-loop delay above which new requests get 503; 0 disables.',
        }),
        maxEventLoopUtilization: Type.Number({
          default: 0.98,
          minimum: 0,
          maximum: 1,
          description: 'Event-loop utilisation (0–1) above which new requests get 503; 0 disables.',
        }),
        maxHeapUsedBytes: Type.Integer({
          default: 0,
          minimum: 0,
          description: 'V8 heap used above which new requests get 503; 0 disables.',
        }),
        maxRssBytes: Type.Integer({
          default: 0,
          minimum: 0,
          description: 'Resident set size above which new requests get 503; 0 disables.',
        }),
        sampleIntervalMs: Type.Integer({
          default: 1000,
          minimum: 10,
          maximum: 60000,
          description: 'How often load is sampled; the 10 ms floor is the delay monitor resolution.',
        }),
        retryAfterSeconds: Type.Integer({
          default: 10,
          minimum: 1,
          maximum: 3600,
          description: 'Retry-After sent with the 503.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    metricsAccess: metricsAccessSchema(
      "the origin's /metrics, however it is reached: directly, through the local edge (which also applies edge.metricsAccess) or through CloudFront (which forwards /metrics like any path)",
      'EDGEWISE__SERVER__METRICSACCESS',
    ),
  },
  { additionalProperties: false, default: {} },
);
export type ServerConfig = Static<typeof ServerSection>;

/**
 * Cross-field rules of the serving options: timeouts Node accepts; no class both user content
 * and trusted with active content. (userContentClasses may name
 * classes a config does not define — redefining the classes must not make the default invalid —
 * and such names simply match nothing.)
 */
export const serverServingRules = (
  config: { classes: ReadonlyArray<{ name: string }>; server: ServerConfig },
  report: (issue: { path: string; message: string; value?: unknown }) => void,
): void => {
  const s = config.server;
  // A class cannot be both: user content is never trusted to run script on our domain.
  s.trustedActiveContentClasses.forEach((name, i) => {
    if (s.userContentClasses.includes(name))
      report({
        path: `server.trustedActiveContentClasses[${i}]`,
        message:
          'names a class listed in server.userContentClasses; user uploads are never trusted with script',
        value: name,
      });
  });
  // Node refuses (or silently misbehaves with) a headers deadline beyond the request deadline.
  if (s.headersTimeoutMs > Math.max(s.requestTimeoutMs, s.uploadTimeoutMs)) {
    report({
      path: 'server.headersTimeoutMs',
      message: `must be ≤ the larger of server.requestTimeoutMs and server.uploadTimeoutMs (${Math.max(s.requestTimeoutMs, s.uploadTimeoutMs)})`,
      value: s.headersTimeoutMs,
    });
  }
};
