import { type Static, Type } from '@sinclair/typebox';

const Seconds = (description: string, dflt?: number) =>
  Type.Integer({
    minimum: 0,
    maximum: 31536000,
    description,
    ...(dflt === undefined ? {} : { default: dflt }),
  });

const NameList = (description: string, maxItems: number) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 256 }), {
    default: [],
    maxItems,
    uniqueItems: true,
    description,
  });

/**
 * A content class: a set of paths that share caching, compression and access rules. The
 * edge TTLs follow CloudFront's cache-policy semantics: the origin's s-maxage / max-age /
 * Expires is clamped into [min, max], and `default` applies when the origin sends none.
 */
export const ContentClass = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z][a-z0-9_]{0,62}$',
      description: 'Identifier (lowercase, digits, _).',
    }),
    pathPatterns: Type.Array(Type.String({ pattern: '^[/*]', minLength: 1, maxLength: 255 }), {
      minItems: 1,
      maxItems: 25,
      description: 'CloudFront path patterns (* any characters, ? one character), matched in declared order.',
    }),
    ttl: Type.Object(
      {
        min: Seconds('Minimum edge TTL.', 0),
        default: Seconds('Edge TTL when the origin sends no freshness.'),
        max: Seconds('Maximum edge TTL.'),
      },
      { additionalProperties: false },
    ),
    browserTtl: Seconds('max-age sent to browsers.'),
    compress: Type.Boolean({ default: true, description: 'Serve gzip/Brotli for compressible types.' }),
    cacheKey: Type.Object(
      {
        headers: NameList('Request headers in the cache key (CloudFront allows 10).', 10),
        cookies: NameList('Cookies in the cache key (CloudFront allows 10).', 10),
        queryStrings: NameList(
          'Query parameters in the cache key (CloudFront allows 10); others are dropped. Used with queryStringBehavior allowlist.',
          10,
        ),
        queryStringBehavior: Type.Union([Type.Literal('allowlist'), Type.Literal('all')], {
          default: 'allowlist',
          description:
            "allowlist: only queryStrings are in the key and reach the origin (none when the list is empty); all: every parameter is (CloudFront's QueryStringBehavior all), for APIs whose parameters are not known in advance.",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    signed: Type.Boolean({ default: false, description: 'Require CloudFront-style signed URLs or cookies.' }),
    viewerProtocolPolicy: Type.Union(
      [Type.Literal('allow-all'), Type.Literal('redirect-to-https'), Type.Literal('https-only')],
      {
        default: 'redirect-to-https',
        description:
          'CloudFront viewer protocol policy: allow-all, redirect-to-https (301/302 to https), https-only (403 on http).',
      },
    ),
    staleWhileRevalidate: Seconds(
      'stale-while-revalidate the origin sends for the class (RFC 5861); the edge serves stale only when a response carries it.',
      0,
    ),
    staleIfError: Seconds(
      'stale-if-error the origin sends for the class (RFC 5861); the edge serves stale on errors only when a response carries it.',
      0,
    ),
  },
  { additionalProperties: false },
);
export type ContentClassConfig = Static<typeof ContentClass>;

const day = 86400;

/** The behaviors this project was specified with. */
export const DEFAULT_CLASSES: ContentClassConfig[] = [
  {
    name: 'static_assets',
    pathPatterns: ['/static/*', '/assets/*', '/img/*'],
    ttl: { min: 0, default: day, max: 365 * day },
    browserTtl: 3600,
    compress: true,
    cacheKey: {
      headers: [],
      cookies: [],
      queryStrings: ['w', 'h', 'fit', 'q', 'fmt'],
      queryStringBehavior: 'allowlist',
    },
    signed: false,
    viewerProtocolPolicy: 'redirect-to-https',
    staleWhileRevalidate: 60,
    staleIfError: day,
  },
  {
    name: 'api_responses',
    pathPatterns: ['/api/*'],
    ttl: { min: 0, default: 300, max: 3600 },
    browserTtl: 0,
    compress: false,
    // Every query parameter: `/api/items?page=2` and `?page=3` are different answers.
    cacheKey: { headers: ['authorization'], cookies: [], queryStrings: [], queryStringBehavior: 'all' },
    signed: false,
    viewerProtocolPolicy: 'allow-all',
    staleWhileRevalidate: 0,
    staleIfError: 60,
  },
  {
    name: 'user_content',
    pathPatterns: ['/u/*'],
    ttl: { min: 0, default: 3600, max: day },
    browserTtl: 3600,
    compress: true,
    cacheKey: { headers: [], cookies: [], queryStrings: [], queryStringBehavior: 'allowlist' },
    signed: true,
    viewerProtocolPolicy: 'redirect-to-https',
    staleWhileRevalidate: 0,
    staleIfError: 3600,
  },
];

export const ClassesSection = Type.Array(ContentClass, {
  minItems: 1,
  maxItems: 25,
  default: DEFAULT_CLASSES,
  description: 'Content classes, in order; the first class with a matching pattern wins.',
});

export const DefaultClassSection = Type.String({
  default: 'static_assets',
  description: 'Class for paths no pattern matches (CloudFront default cache behavior).',
});
