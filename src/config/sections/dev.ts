import { type Static, Type } from '@sinclair/typebox';
import { keyProblem, RESERVED_PREFIX } from '../../storage/keys.js';
import { patternWithin } from '../../uploads/content-type.js';
import type { CrossCheck } from '../schema.js';

const MiB = 1024 * 1024;

export const DEFAULT_DEMO_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
  'text/plain',
  'application/pdf',
];

/**
 * Development-only features. The upload demo signs upload URLs for anyone who can reach the
 * origin, so its limits are small and `edgewise serve` refuses to start with it on.
 */
export const DevSection = Type.Object(
  {
    demoUploads: Type.Boolean({
      default: false,
      description:
        'Serve the upload demo page at / and POST /_dev/upload-urls, which hands out signed upload URLs without an API key, within dev.demo limits; pages on loopback origins (127.0.0.1, localhost, [::1]) get CORS. `edgewise dev` turns it on (EDGEWISE__DEV__DEMOUPLOADS=false keeps it off); `edgewise serve` refuses to start with it on.',
    }),
    demo: Type.Object(
      {
        prefix: Type.String({
          default: 'demo/',
          minLength: 1,
          maxLength: 200,
          pattern: '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$',
          description:
            'Key prefix of demo uploads; each file is stored at <prefix><random id>/<file name>. Outside user_content (/u/*) so the page can show files without CloudFront-signed URLs.',
        }),
        maxBytes: Type.Integer({
          default: 10 * MiB,
          minimum: 1,
          maximum: 1024 * MiB,
          description:
            'Largest demo upload (10 MiB): small, because the endpoint asks for no credentials. At most uploads.maxBytes.',
        }),
        contentTypes: Type.Array(Type.String({ minLength: 3, maxLength: 255 }), {
          default: DEFAULT_DEMO_TYPES,
          minItems: 1,
          maxItems: 20,
          uniqueItems: true,
          description:
            'Types a demo upload may have (type/subtype or type/*), each within uploads.allowedTypes; 20 at most, as for POST /upload-urls.',
        }),
        expiresSeconds: Type.Integer({
          default: 300,
          minimum: 10,
          maximum: 3600,
          description:
            'Lifetime of a demo upload URL (5 min): long enough for a slow upload to start, short enough that a copied URL is soon useless. At most uploads.signing.maxExpiresSeconds.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type DevConfig = Static<typeof DevSection>;

/**
 * The demo's limits must fit inside the upload limits, or every demo signing would fail. Only
 * checked when the demo is on: an origin with a small upload limit and the demo off is fine.
 * The prefix is checked always.
 */
export const devRules: CrossCheck = (config, report) => {
  const { demo } = config.dev;
  const uploads = config.uploads;
  // A prefix follows the key rules (no "." or ".." segments); the schema pattern checks its characters.
  const problem =
    keyProblem(`${demo.prefix}x`)?.replace(/^key/, 'prefix') ??
    (demo.prefix.startsWith(RESERVED_PREFIX) ? `prefix is under the reserved ${RESERVED_PREFIX}` : undefined);
  if (problem) report({ path: 'dev.demo.prefix', message: problem, value: demo.prefix });
  if (!config.dev.demoUploads) return;
  if (demo.maxBytes > uploads.maxBytes)
    report({
      path: 'dev.demo.maxBytes',
      message: `must be ≤ uploads.maxBytes (${uploads.maxBytes})`,
      value: demo.maxBytes,
    });
  if (demo.expiresSeconds > uploads.signing.maxExpiresSeconds)
    report({
      path: 'dev.demo.expiresSeconds',
      message: `must be ≤ uploads.signing.maxExpiresSeconds (${uploads.signing.maxExpiresSeconds})`,
      value: demo.expiresSeconds,
    });
  demo.contentTypes.forEach((t, i) => {
    if (!patternWithin(t, uploads.allowedTypes))
      report({
        path: `dev.demo.contentTypes[${i}]`,
        message: 'is not within uploads.allowedTypes',
        value: t,
      });
  });
};
