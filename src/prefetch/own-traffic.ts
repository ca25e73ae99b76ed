/**
 * Which requests are the prefetch worker's own: those whose User-Agent starts with
 * `prefetch.userAgent`. One rule for the worker (it skips its own lines when it reads the logs)
 * and the edge (it labels them `traffic="prefetch"` and keeps them out of the viewer hit ratio).
 */
/** `operator`: the edge's own admin routes (metrics, dashboard, invalidations), set by src/edge/admin.ts. */
export type Traffic = 'viewer' | 'prefetch' | 'operator';

export function trafficOf(userAgent: string | undefined, prefetchUserAgent: string): Traffic {
  return userAgent !== undefined && prefetchUserAgent !== '' && userAgent.startsWith(prefetchUserAgent)
    ? 'prefetch'
    : 'viewer';
}
