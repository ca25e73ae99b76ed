import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import type { CrossCheck } from '../schema.js';

/**
 * CloudFront: the distribution the plan describes, the keys that sign and verify viewer URLs,
 * and the options of the generated CloudFront Functions. The limits are CloudFront's own
 * (signed URLs: CloudFront accepts any expiry, we cap it so a leaked URL cannot live for years).
 */
const KeyPairId = Type.String({
  pattern: '^[A-Za-z0-9_-]{1,128}$',
  description: 'CloudFront public key id (K2JCJMDEHXQW5F style) or any id you choose locally.',
});

export const CloudfrontSection = Type.Object(
  {
    distribution: Type.Object(
      {
        baseUrl: Type.Optional(
          Type.String({
            format: 'uri',
            description:
              'Public URL viewers use (https://cdn.example.com); paths are signed against it. Default: server.publicUrl, else the local edge (http://127.0.0.1:<edge.port>).',
          }),
        ),
        aliases: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
          default: [],
          maxItems: 100,
          uniqueItems: true,
          description: 'Alternate domain names (CNAMEs) of the distribution; CloudFront allows 100.',
        }),
        certificateArn: Type.Optional(
          Type.String({
            pattern: '^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[A-Za-z0-9-]{1,128}$',
            description:
              'ACM certificate (in us-east-1, where CloudFront reads certificates) covering the aliases; served by SNI with TLSv1.2_2021 as the minimum. Required when aliases are set; unset: the *.cloudfront.net certificate.',
          }),
        ),
        originDomainName: Type.String({
          default: 'origin.example.com',
          minLength: 1,
          maxLength: 253,
          description:
            'DNS name CloudFront connects to for the origin (the load balancer in front of `edgewise serve`).',
        }),
        originId: Type.String({
          default: 'edgewise-origin',
          minLength: 1,
          maxLength: 128,
          description:
            'Id of the origin inside the distribution; behaviors target it (CloudFront caps ids at 128 characters).',
        }),
        originProtocolPolicy: Type.Union(
          [Type.Literal('https-only'), Type.Literal('http-only'), Type.Literal('match-viewer')],
          { default: 'https-only', description: 'How CloudFront connects to the origin.' },
        ),
        priceClass: Type.Union(
          [Type.Literal('PriceClass_100'), Type.Literal('PriceClass_200'), Type.Literal('PriceClass_All')],
          {
            default: 'PriceClass_100',
            description:
              'Edge locations used: 100 is North America and Europe, the cheapest; All is every location.',
          },
        ),
        httpVersion: Type.Union(
          [Type.Literal('http2'), Type.Literal('http2and3'), Type.Literal('http3'), Type.Literal('http1.1')],
          {
            default: 'http2and3',
            description:
              'HTTP versions CloudFront offers viewers; http2and3 adds QUIC where clients support it.',
          },
        ),
        comment: Type.String({
          default: 'edgewise',
          maxLength: 128,
          description: 'Distribution comment shown in the console (CloudFront allows 128 characters).',
        }),
        namePrefix: Type.String({
          default: 'edgewise',
          pattern: '^[A-Za-z0-9_-]{1,40}$',
          description: 'Prefix of policy, function and key-group names in the plan (names are account-wide).',
        }),
        s3OriginClasses: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }), {
          default: [],
          uniqueItems: true,
          description:
            'Classes CloudFront reads straight from the storage.s3 bucket through Origin Access Control instead of from `edgewise serve` (their image-prefix patterns stay on the origin, which renders variants). Needs storage.driver s3 and a storage.s3.prefix that is empty or ends with /.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    signing: Type.Object(
      {
        keyPairId: Type.Optional(KeyPairId),
        privateKeyFile: Type.Optional(
          Type.String({ minLength: 1, description: 'PEM file of the RSA private key that signs URLs.' }),
        ),
        privateKey: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'PEM text of the private key (for EDGEWISE__CLOUDFRONT__SIGNING__PRIVATEKEY); wins over the file.',
          }),
        ),
        defaultExpiresSeconds: Type.Integer({
          default: 3600,
          minimum: 1,
          maximum: 31536000,
          description: 'Lifetime of a signed URL when the caller gives none.',
        }),
        maxExpiresSeconds: Type.Integer({
          default: 604800,
          minimum: 1,
          maximum: 31536000,
          description: 'Longest lifetime a caller may ask for; a week by default so a leaked URL dies soon.',
        }),
        cookieDomain: Type.Optional(
          Type.String({
            pattern: '^\\.?[A-Za-z0-9-]{1,63}(\\.[A-Za-z0-9-]{1,63})*$',
            maxLength: 253,
            description:
              'Domain attribute of signed-cookie Set-Cookie lines (example.com, so cookies set by www.example.com reach cdn.example.com). Unset: host-only cookies.',
          }),
        ),
        algorithm: Type.Union([Type.Literal('SHA1'), Type.Literal('SHA256')], {
          default: 'SHA1',
          description:
            'Signature hash. SHA256 adds Hash-Algorithm=SHA256 to the URL (CloudFront accepts both).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    trustedKeys: Type.Array(
      Type.Object(
        {
          id: KeyPairId,
          publicKeyFile: Type.Optional(
            Type.String({ minLength: 1, description: 'PEM file of the RSA-2048 public key.' }),
          ),
          publicKey: Type.Optional(Type.String({ minLength: 1, description: 'PEM text of the public key.' })),
        },
        { additionalProperties: false },
      ),
      {
        default: [],
        maxItems: 5,
        description:
          'Public keys that verify signed URLs, besides the signing key itself (CloudFront allows 5 per key group). Add the next key here before rotating.',
      },
    ),
    forwardHeaders: Type.Record(
      Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }),
      Type.Array(Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$" }), {
        maxItems: 10,
        uniqueItems: true,
      }),
      {
        default: {},
        description:
          'Per class: request headers sent to the origin without being in the cache key (an origin request policy). CloudFront refuses Authorization here: it must be in the cache key.',
      },
    ),
    allowAllMethods: Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' }), {
      default: ['api_responses'],
      uniqueItems: true,
      description:
        'Classes whose behaviors accept POST/PUT/PATCH/DELETE (forwarded, never cached); others allow GET, HEAD, OPTIONS only. Names of classes that do not exist are ignored with a plan warning, so redefining classes never breaks this default.',
    }),
    apiKey: Type.Optional(
      Type.String({
        minLength: 16,
        description:
          'Bearer key for POST /_edgewise/signed-urls (set it with EDGEWISE__CLOUDFRONT__APIKEY). Unset: the endpoint answers 404.',
      }),
    ),
    functions: Type.Object(
      {
        classSource: Type.Union([Type.Literal('inline'), Type.Literal('kvs')], {
          default: 'inline',
          description:
            'inline: the class table is compiled into the function; kvs: read from a KeyValueStore so TTL edits need no function publish.',
        }),
        kvsId: Type.String({
          default: 'REPLACE_WITH_KVS_ID',
          pattern: '^[A-Za-z0-9_-]{1,64}$',
          description:
            'KeyValueStore id used with classSource kvs (from `aws cloudfront describe-key-value-store`).',
        }),
        maxUriBytes: Type.Integer({
          default: 8192,
          minimum: 256,
          maximum: 8192,
          description: 'Longer URIs get 414 at the edge; CloudFront itself stops at 8 KB.',
        }),
        hstsMaxAge: Type.Integer({
          default: 63072000,
          minimum: 0,
          maximum: 63072000,
          description:
            'Strict-Transport-Security max-age (2 years, the preload-list minimum is 1 year); 0 omits the header.',
        }),
        hstsIncludeSubdomains: Type.Boolean({
          default: true,
          description:
            'Add includeSubDomains to Strict-Transport-Security (required for the browsers’ preload list).',
        }),
        referrerPolicy: Type.Union(
          [
            'no-referrer',
            'no-referrer-when-downgrade',
            'origin',
            'origin-when-cross-origin',
            'same-origin',
            'strict-origin',
            'strict-origin-when-cross-origin',
            'unsafe-url',
          ].map((v) => Type.Literal(v)),
          { default: 'strict-origin-when-cross-origin', description: 'Referrer-Policy sent to browsers.' },
        ),
        serverTiming: Type.Boolean({
          default: true,
          description:
            'Add Server-Timing: edgewise;desc="<class>" so a browser devtools shows the class that answered.',
        }),
        imagePathPrefix: Type.String({
          default: '/img/',
          pattern: '^/',
          description:
            'Paths under this prefix are image variants: w/h/q snap to images.widths/images.qualities, and Accept picks fmt.',
        }),
        kvsKeyPrefix: Type.String({
          default: 'edgewise:',
          pattern: '^[A-Za-z0-9:_.-]{0,32}$',
          description: 'Prefix of the KeyValueStore keys the build emits (a store may be shared).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type CloudfrontConfig = Static<typeof CloudfrontSection>;

export const cloudfrontRules: CrossCheck = (config, report) => {
  const cf = config.cloudfront;
  const s = cf.signing;
  if (s.defaultExpiresSeconds > s.maxExpiresSeconds)
    report({
      path: 'cloudfront.signing.defaultExpiresSeconds',
      message: `must be ≤ cloudfront.signing.maxExpiresSeconds (${s.maxExpiresSeconds})`,
      value: s.defaultExpiresSeconds,
    });
  const hasKey = s.privateKey !== undefined || s.privateKeyFile !== undefined;
  if (hasKey !== (s.keyPairId !== undefined))
    report({
      path: 'cloudfront.signing',
      message: 'keyPairId and privateKey/privateKeyFile must be set together',
    });
  if (s.privateKey === undefined && s.privateKeyFile !== undefined && !existsSync(s.privateKeyFile))
    report({ path: 'cloudfront.signing.privateKeyFile', message: 'file not found', value: s.privateKeyFile });
  else if (s.privateKey !== undefined || s.privateKeyFile !== undefined) {
    const at =
      s.privateKey !== undefined ? 'cloudfront.signing.privateKey' : 'cloudfront.signing.privateKeyFile';
    const problem = keyProblem(() =>
      createPrivateKey(s.privateKey ?? readFileSync(s.privateKeyFile as string, 'utf8')),
    );
    if (problem) report({ path: at, message: problem });
  }
  // CloudFront refuses alternate domain names without a certificate that covers them.
  if (cf.distribution.aliases.length > 0 && cf.distribution.certificateArn === undefined)
    report({
      path: 'cloudfront.distribution.aliases',
      message:
        'need cloudfront.distribution.certificateArn: CloudFront serves alternate domain names only with an ACM certificate (us-east-1) that covers them',
      value: cf.distribution.aliases,
    });
  const classNames = new Set(config.classes.map((c) => c.name));
  const s3Classes = cf.distribution.s3OriginClasses;
  for (const name of s3Classes)
    if (!classNames.has(name))
      report({ path: 'cloudfront.distribution.s3OriginClasses', message: 'unknown class', value: name });
  if (s3Classes.length > 0) {
    if (config.storage.driver !== 's3' || config.storage.s3.bucket === undefined)
      report({
        path: 'cloudfront.distribution.s3OriginClasses',
        message: 'an S3 origin reads the storage bucket: needs storage.driver s3 and storage.s3.bucket',
        value: s3Classes,
      });
    // The bucket key is prefix + path without its /, and CloudFront can only prepend an OriginPath
    // that ends at a / boundary.
    const prefix = config.storage.s3.prefix;
    if (prefix !== '' && !prefix.endsWith('/'))
      report({
        path: 'storage.s3.prefix',
        message: 'must be empty or end with / for an S3 origin (CloudFront prepends it as the OriginPath)',
        value: prefix,
      });
  }
  for (const name of Object.keys(cf.forwardHeaders))
    if (!classNames.has(name))
      report({ path: `cloudfront.forwardHeaders.${name}`, message: 'unknown class', value: name });
  const ids = new Set<string>();
  cf.trustedKeys.forEach((k, i) => {
    const at = `cloudfront.trustedKeys[${i}]`;
    if (ids.has(k.id)) report({ path: `${at}.id`, message: 'duplicate key id', value: k.id });
    ids.add(k.id);
    if ((k.publicKey === undefined) === (k.publicKeyFile === undefined))
      report({ path: at, message: 'set exactly one of publicKey or publicKeyFile' });
    else if (k.publicKey === undefined && k.publicKeyFile !== undefined && !existsSync(k.publicKeyFile))
      report({ path: `${at}.publicKeyFile`, message: 'file not found', value: k.publicKeyFile });
    else {
      const problem = keyProblem(() =>
        createPublicKey(k.publicKey ?? readFileSync(k.publicKeyFile as string, 'utf8')),
      );
      if (problem)
        report({
          path: `${at}.${k.publicKey !== undefined ? 'publicKey' : 'publicKeyFile'}`,
          message: problem,
        });
    }
  });
};

/** CloudFront key groups take RSA-2048 public keys; anything else fails at deploy or at the edge. */
function keyProblem(load: () => KeyObject): string | undefined {
  let key: KeyObject;
  try {
    key = load();
  } catch (err) {
    return `not a readable PEM key (${(err as Error).message})`;
  }
  if (key.asymmetricKeyType !== 'rsa')
    return `must be an RSA key (got ${key.asymmetricKeyType ?? 'unknown'})`;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== 2048) return `must be RSA-2048, the size CloudFront accepts (got ${bits ?? '?'} bits)`;
  return undefined;
}
