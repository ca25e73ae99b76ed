import { type Static, Type } from '@sinclair/typebox';

/**
 * How an edge (CloudFront or the local edge) connects to the origin. Defaults are the ones the
 * project was specified with; the limits are CloudFront's own (connect 1–10 s, response
 * 1–60 s without a quota increase, keep-alive 1–60 s).
 */
export const OriginSection = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        format: 'uri',
        description: 'Origin base URL the edge fetches from. Defaults to http://<server.host>:<server.port>.',
      }),
    ),
    connectTimeoutMs: Type.Integer({
      default: 10000,
      minimum: 1000,
      maximum: 10000,
      description: 'TCP/TLS connect timeout towards the origin (CloudFront allows 1–10 s).',
    }),
    responseTimeoutMs: Type.Integer({
      default: 30000,
      minimum: 1000,
      maximum: 60000,
      description:
        'Time to first byte and between bytes from the origin (CloudFront: 1–60 s without a quota increase).',
    }),
    keepAliveMs: Type.Integer({
      default: 5000,
      minimum: 1000,
      maximum: 60000,
      description:
        'How long the edge keeps an idle origin connection (CloudFront: 1–60 s); the origin idles longer.',
    }),
    protocol: Type.Union([Type.Literal('http2'), Type.Literal('http1.1')], {
      default: 'http2',
      description: 'Protocol the edge prefers towards the origin (h2 needs TLS or h2c on the origin).',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type OriginConfig = Static<typeof OriginSection>;
