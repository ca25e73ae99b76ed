/**
 * One request from an access log, reduced to what the prefetch worker uses. Field names and
 * meanings follow CloudFront's standard log reference (legacy W3C and v2 share them).
 */
import { LOG_FIELDS } from '../access-log/format.js';

export interface AccessRecord {
  /** Milliseconds since the epoch (UTC). */
  time: number;
  clientIp: string;
  userAgent: string;
  method: string;
  /** cs(Host): the distribution's domain, or the Host the viewer sent for the local edge. */
  host: string;
  /** x-host-header: the Host header the viewer sent ('' when absent). */
  hostHeader: string;
  /** Path as the viewer sent it (percent-encoding of the request preserved). */
  path: string;
  /** Query string without '?' ('' when none). */
  query: string;
  status: number;
  /** Bytes of the response body when known (sc-content-len), else sc-bytes. */
  bytes: number;
  contentType: string;
  /** x-edge-result-type: Hit, RefreshHit, Miss, LimitExceeded, CapacityExceeded, Error, Redirect. */
  resultType: string;
  protocol: string;
}

/** The 33 fields of a CloudFront standard log (legacy), in CloudFront's order: the same list the edge writes. */
export const CLOUDFRONT_FIELDS = LOG_FIELDS;

/** Results that mean the edge went to the origin for this request. */
export function isFill(resultType: string): boolean {
  return resultType === 'Miss' || resultType === 'RefreshHit';
}

/** Statuses the worker (and the simulator, which reads logs as it does) learns from: responses the edge caches, or a 304 validating one. */
export const CACHEABLE = new Set([200, 203, 206, 304]);
