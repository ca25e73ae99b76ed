import { type Static, Type } from '@sinclair/typebox';

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
  },
  { additionalProperties: false, default: {} },
);
export type ServerConfig = Static<typeof ServerSection>;
