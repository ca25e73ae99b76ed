import { type Static, Type } from '@sinclair/typebox';

/**
 * The prefetch worker (`edgewise prefetch run|watch`): where it reads access logs, what it
 * learns, and how hard it may push the edge and the origin while warming. The limits bound
 * memory (model sizes) and protect the origin (rate, concurrency, bytes).
 */
const MiB = 1024 * 1024;

export const PrefetchTarget = Type.Object(
  {
    url: Type.String({
      format: 'uri',
      pattern: '^https?://',
      description: 'Base URL of an edge to warm (a CloudFront domain, or the local edge).',
    }),
    pinnedIps: Type.Array(
      Type.String({
        pattern: '^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$',
      }),
      {
        default: [],
        maxItems: 16,
        description:
          "Connect to these addresses instead of resolving the URL's host (to reach chosen CloudFront POPs); Host and TLS SNI stay the URL's host. Used round-robin.",
      },
    ),
  },
  { additionalProperties: false },
);

const Hhmm = (description: string) =>
  Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description });

export const PrefetchSection = Type.Object(
  {
    logs: Type.Object(
      {
        source: Type.Union([Type.Literal('dir'), Type.Literal('storage')], {
          default: 'dir',
          description:
            'dir: a local directory (the local edge writes there); storage: the configured storage driver (e.g. the S3 bucket CloudFront logs to).',
        }),
        dir: Type.String({
          default: 'data/logs',
          minLength: 1,
          description: 'Log root for source "dir" (same default as edge.logs.dir).',
        }),
        prefix: Type.String({
          default: 'edge/',
          maxLength: 512,
          description: 'Only files (keys) under this prefix are read (same default as edge.logs.prefix).',
        }),
        lookbackHours: Type.Integer({
          default: 48,
          minimum: 25,
          maximum: 720,
          description:
            'Files for hours older than this are ignored and forgotten by the state file. At least 25: CloudFront delivers some entries up to 24 h late.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    stateFile: Type.String({
      default: 'data/prefetch-state.json',
      minLength: 1,
      description: 'Which log files were read, and the learned model, between runs.',
    }),
    targets: Type.Array(PrefetchTarget, {
      default: [],
      maxItems: 32,
      description: 'Edges to warm. Empty: the local edge (http://edge.host:edge.port).',
    }),
    userAgent: Type.String({
      default: 'edgewise-prefetch/0.1',
      minLength: 1,
      maxLength: 200,
      description: 'User-Agent of warming requests; requests with it are ignored when reading logs.',
    }),
    budget: Type.Object(
      {
        bytes: Type.Optional(
          Type.Integer({
            minimum: 0,
            description:
              'Bytes one pass may warm per target. Absent: capacityShare of the edge cache (memory + disk).',
          }),
        ),
        capacityShare: Type.Number({
          default: 0.1,
          minimum: 0,
          maximum: 1,
          description:
            "Share of the local edge's cache capacity one pass may fill when budget.bytes is absent.",
        }),
        wastedBytes: Type.Optional(
          Type.Integer({
            minimum: 0,
            description:
              'Origin bytes that warms made within the last wastedWindowSeconds may hold while no viewer has been seen using them (pending or wasted), across targets; passes warm less once it is reached, so wasted warm bytes over any such window stay under it. Absent: no cap over a window (only bytes per pass).',
          }),
        ),
        wastedWindowSeconds: Type.Integer({
          default: 3600,
          minimum: 60,
          maximum: 7 * 86400,
          description: 'The sliding window budget.wastedBytes counts over.',
        }),
        requestsPerSecond: Type.Number({
          default: 20,
          minimum: 0.1,
          maximum: 10000,
          description:
            'Warming requests started per second at most, across targets (the origin sees at most this many fills).',
        }),
        concurrency: Type.Integer({
          default: 4,
          minimum: 1,
          maximum: 256,
          description: 'Warming requests in flight at most, across targets.',
        }),
        window: Type.Optional(
          Type.Object(
            {
              start: Hhmm('HH:MM (UTC) the window opens.'),
              end: Hhmm('HH:MM (UTC) the window closes (exclusive).'),
            },
            {
              additionalProperties: false,
              description:
                'UTC hours during which warming may run (e.g. 01:00–05:00); end before start wraps midnight.',
            },
          ),
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    backoff: Type.Object(
      {
        minUsefulShare: Type.Number({
          default: 0.2,
          minimum: 0,
          maximum: 1,
          description:
            'A content class whose warms a viewer later hit fall below this share (of at least minSamples outcomes) stops being warmed; 0 never backs off.',
        }),
        minSamples: Type.Integer({
          default: 20,
          minimum: 1,
          maximum: 100000,
          description: 'Warm outcomes (used or wasted) a class needs before its share is judged.',
        }),
        useWindowSeconds: Type.Integer({
          default: 3600,
          minimum: 1,
          maximum: 7 * 86400,
          description:
            "A warm no viewer requested within this many seconds (or the class's default TTL, if shorter) counts as wasted.",
        }),
        initialSeconds: Type.Integer({
          default: 600,
          minimum: 1,
          maximum: 7 * 86400,
          description: 'First suspension of a class that backed off; doubles after each failed probe.',
        }),
        maxSeconds: Type.Integer({
          default: 86400,
          minimum: 1,
          maximum: 30 * 86400,
          description: 'Longest suspension.',
        }),
        probeWarms: Type.Integer({
          default: 10,
          minimum: 1,
          maximum: 10000,
          description:
            'Keys warmed when a suspension ends, to test whether the class pays again; enough of them used and it is warmed in full.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    model: Type.Object(
      {
        halfLifeSeconds: Type.Integer({
          default: 3600,
          minimum: 60,
          maximum: 30 * 86400,
          description: 'Half-life of the decayed request rate: how fast popularity is forgotten.',
        }),
        maxKeys: Type.Integer({
          default: 200000,
          minimum: 100,
          maximum: 10000000,
          description:
            'Cache keys remembered at most (~300 bytes each); the least recently seen are forgotten.',
        }),
        maxClients: Type.Integer({
          default: 20000,
          minimum: 10,
          maximum: 1000000,
          description: 'Client sessions (IP + User-Agent) followed at once for "what follows what".',
        }),
        sessionWindowSeconds: Type.Integer({
          default: 30,
          minimum: 1,
          maximum: 3600,
          description: 'A request follows another when the same client makes it within this many seconds.',
        }),
        minConfidence: Type.Number({
          default: 0.3,
          minimum: 0,
          maximum: 1,
          description:
            'Warm a successor only when it followed its predecessor at least this share of the time.',
        }),
        minCount: Type.Integer({
          default: 1,
          minimum: 1,
          maximum: 1000,
          description: 'Warm a successor only when it was seen following at least this many times.',
        }),
        maxCandidates: Type.Integer({
          default: 1000,
          minimum: 1,
          maximum: 100000,
          description: 'Hot keys considered per pass (each expands to its variants).',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    follow: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description:
            'The local edge fills what usually follows a request (the assets a page pulls) when that request arrives, in the background, learning what follows what from the requests it serves (see docs/prefetch.md, "Follow-on-request prefetch"); it backs off by itself where its fills are not used. CloudFront cannot: there only the worker warms.',
        }),
        minConfidence: Type.Number({
          default: 0.3,
          minimum: 0,
          maximum: 1,
          description: 'Fill a successor only when it followed the request at least this share of the time.',
        }),
        minCount: Type.Integer({
          default: 2,
          minimum: 1,
          maximum: 1000,
          description:
            'Fill a successor only when it was seen following at least this many times (1 lets a single coincidence trigger fills).',
        }),
        maxPerRequest: Type.Integer({
          default: 4,
          minimum: 1,
          maximum: 4,
          description: 'Successors filled per request at most (the model keeps 4 per key, strongest first).',
        }),
        maxInFlight: Type.Integer({
          default: 16,
          minimum: 1,
          maximum: 1024,
          description:
            'Follow fills in flight at most; successors beyond it are not filled (bounds the origin load a burst of requests can cause).',
        }),
        maxObjectBytes: Type.Integer({
          default: 8 * MiB,
          minimum: 1024,
          maximum: 50 * 1024 * MiB,
          description: 'Objects larger than this (by the size last seen) are never follow-filled.',
        }),
        maxWastedShare: Type.Number({
          default: 0.08,
          minimum: 0,
          maximum: 1,
          description:
            'No new fill while the origin bytes of follow fills judged wasted exceed this share of the origin bytes of viewer misses, both since the follower started (wasted fills are most of what follow adds to origin bytes; 0.08 keeps the total within the 1.10x goal on a 0.1 % cache, see docs/prefetch.md). 1: fills stop only once wasted bytes exceed all viewer miss bytes.',
        }),
        useWindowSeconds: Type.Integer({
          default: 60,
          minimum: 1,
          maximum: 86400,
          description:
            "A follow fill no viewer requested within this many seconds (or the class's default TTL, if shorter) counts as wasted for the back-off (prefetch.backoff.*, judged per class as for the worker's warms). Short, because a follower comes within the session window; the worker's backoff.useWindowSeconds is for log-paced warms.",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    variants: Type.Object(
      {
        acceptEncodings: Type.Array(
          Type.Union([Type.Literal('br,gzip'), Type.Literal('gzip'), Type.Literal('br'), Type.Literal('')]),
          {
            default: ['br,gzip', 'gzip', 'br', ''],
            minItems: 1,
            uniqueItems: true,
            description:
              'Normalised Accept-Encoding values warmed for classes that compress (each is its own edge cache entry); "" is identity.',
          },
        ),
        imagePatterns: Type.Array(Type.String({ pattern: '^[/*]', minLength: 1, maxLength: 255 }), {
          default: ['/img/*'],
          maxItems: 25,
          description: 'Paths whose responses vary on Accept (image format negotiation).',
        }),
        imageAccepts: Type.Array(Type.String({ maxLength: 512 }), {
          default: [
            'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8',
            'image/webp,*/*',
            '*/*',
          ],
          minItems: 1,
          maxItems: 8,
          uniqueItems: true,
          description:
            'Accept headers warmed for image paths: AVIF-capable, WebP-capable and original. The edge keys on the exact value (Vary: Accept), so these should be what viewers send.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    freshCheck: Type.Boolean({
      default: true,
      description:
        'Before warming, ask the edge with HEAD + Cache-Control: only-if-cached and skip what it holds fresh. The local edge answers such probes without a fill; turn off for edges that do not (CloudFront).',
    }),
    requestTimeoutMs: Type.Integer({
      default: 30000,
      minimum: 1000,
      maximum: 120000,
      description: 'Per warming request (headers and body).',
    }),
    maxObjectBytes: Type.Integer({
      default: 64 * MiB,
      minimum: 1024,
      maximum: 50 * 1024 * MiB,
      description: 'Objects larger than this are never warmed (one large file would take the whole budget).',
    }),
    inDev: Type.Boolean({
      default: true,
      description:
        "`edgewise dev` runs the worker against its own edge, reading the edge's logs every watchIntervalSeconds (set edge.logs.rotateSeconds low to see it act within seconds).",
    }),
    watchIntervalSeconds: Type.Integer({
      default: 60,
      minimum: 1,
      maximum: 3600,
      description: '`prefetch watch`: how often it looks for new log files.',
    }),
  },
  { additionalProperties: false, default: {} },
);
export type PrefetchConfig = Static<typeof PrefetchSection>;
export type PrefetchTargetConfig = Static<typeof PrefetchTarget>;

/** Cross-field rules: a warming window of zero length would never open. */
export const prefetchRules = (
  config: { prefetch: PrefetchConfig },
  report: (issue: { path: string; message: string; value?: unknown }) => void,
): void => {
  const w = config.prefetch.budget.window;
  if (w && w.start === w.end)
    report({
      path: 'prefetch.budget.window.end',
      message: 'must differ from window.start (an empty window never opens)',
      value: w.end,
    });
};
