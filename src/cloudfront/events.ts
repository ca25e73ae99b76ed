/**
 * Node HTTP messages ⇄ CloudFront Functions event objects, shaped as the "CloudFront Functions
 * event structure" documentation describes: lowercase header names, `value` plus `multiValue`
 * (all values, first included) when a name repeats, the Cookie header moved into `cookies`,
 * query names and values as they appear in the URL (CloudFront does not decode them), and the
 * headers CloudFront never exposes removed.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import {
  type CfEvent,
  type CfMap,
  type CfRequest,
  type CfResponse,
  isDisallowedLowercase,
} from './runtime.js';

function add(map: CfMap, name: string, value: string): void {
  // Own fields only: a header named `constructor` found Object's and grew a list on it.
  const e = Object.hasOwn(map, name) ? map[name] : undefined;
  if (!e) {
    map[name] = { value };
    return;
  }
  e.multiValue ??= [{ value: e.value }];
  e.multiValue.push({ value });
}

export function toCfHeaders(
  headers: IncomingHttpHeaders | OutgoingHttpHeaders,
  skip: readonly string[] = [],
): CfMap {
  const out: CfMap = {};
  for (const [raw, v] of Object.entries(headers)) {
    const name = raw.toLowerCase();
    if (v === undefined || name.startsWith(':') || isDisallowedLowercase(name) || skip.includes(name))
      continue;
    for (const one of Array.isArray(v) ? v : [v]) add(out, name, String(one));
  }
  return out;
}

/**
 * `fromCfHeaders(toCfHeaders(headers, skip))` in one pass, without the CloudFront map between:
 * what a header object becomes when a function leaves it as it was.
 */
export function passHeaders(
  headers: IncomingHttpHeaders | OutgoingHttpHeaders,
  skip: readonly string[] = [],
  /** Fields left out by their exact name before anything else (the edge's own, hidden from functions). */
  hidden: readonly string[] = [],
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const raw of Object.keys(headers)) {
    const v = headers[raw];
    if (v === undefined || hidden.includes(raw)) continue;
    const name = raw.toLowerCase();
    if (name.charCodeAt(0) === 58 || isDisallowedLowercase(name) || skip.includes(name)) continue;
    if (name === '__proto__') continue; // a CloudFront map cannot hold it either
    if (!Array.isArray(v)) put(out, name, String(v));
    else for (const one of v) put(out, name, String(one));
  }
  return out;
}

function put(out: Record<string, string | string[]>, name: string, value: string): void {
  const prev = Object.hasOwn(out, name) ? out[name] : undefined;
  if (prev === undefined) out[name] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else out[name] = [prev, value];
}

export function parseQuery(rawQuery: string): CfMap {
  const out: CfMap = {};
  if (!rawQuery) return out;
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    add(out, eq === -1 ? part : part.slice(0, eq), eq === -1 ? '' : part.slice(eq + 1));
  }
  return out;
}

export function parseCookies(header: string | string[] | undefined): CfMap {
  const out: CfMap = {};
  for (const line of Array.isArray(header) ? header : header ? [header] : []) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1) continue;
      const name = part.slice(0, eq).trim();
      if (name) add(out, name, part.slice(eq + 1).trim());
    }
  }
  return out;
}

/** HTTP/2 carries the host as :authority (RFC 9113 §8.3.1); CloudFront shows it as host. */
function withHost(map: CfMap, headers: IncomingHttpHeaders): CfMap {
  const authority = headers[':authority'];
  if (map.host === undefined && typeof authority === 'string') map.host = { value: authority };
  return map;
}

export interface RequestEventInput {
  method: string;
  /** Path and query as received (`/a/b?x=1`), not decoded. */
  url: string;
  headers: IncomingHttpHeaders;
  clientIp: string;
  distributionDomainName?: string;
  requestId?: string;
}

export function requestEvent(input: RequestEventInput): CfEvent {
  const q = input.url.indexOf('?');
  const request: CfRequest = {
    method: input.method.toUpperCase(),
    uri: q === -1 ? input.url : input.url.slice(0, q),
    querystring: parseQuery(q === -1 ? '' : input.url.slice(q + 1)),
    headers: withHost(toCfHeaders(input.headers, ['cookie']), input.headers),
    cookies: parseCookies(input.headers.cookie),
  };
  return {
    version: '1.0',
    context: {
      eventType: 'viewer-request',
      ...(input.distributionDomainName ? { distributionDomainName: input.distributionDomainName } : {}),
      ...(input.requestId ? { requestId: input.requestId } : {}),
    },
    viewer: { ip: input.clientIp },
    request,
  };
}

/** The viewer-response event for a request (as the viewer-request function returned it) and a response. */
export function responseEvent(
  request: CfRequest,
  clientIp: string,
  response: { statusCode: number; statusDescription?: string; headers: OutgoingHttpHeaders },
): CfEvent {
  const cookies = parseSetCookies(response.headers['set-cookie']);
  return {
    version: '1.0',
    context: { eventType: 'viewer-response' },
    viewer: { ip: clientIp },
    request,
    response: {
      statusCode: response.statusCode,
      statusDescription: response.statusDescription ?? '',
      headers: toCfHeaders(response.headers, ['set-cookie']),
      cookies,
    },
  };
}

/** Set-Cookie lines as the response event's `cookies` (one per name, the last line winning). */
export function parseSetCookies(setCookie: OutgoingHttpHeaders[string]): NonNullable<CfResponse['cookies']> {
  const cookies: NonNullable<CfResponse['cookies']> = {};
  for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [String(setCookie)] : []) {
    const semi = line.indexOf(';');
    const pair = semi === -1 ? line : line.slice(0, semi);
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const attributes = semi === -1 ? undefined : line.slice(semi + 1).trim();
    cookies[pair.slice(0, eq).trim()] = {
      value: pair.slice(eq + 1).trim(),
      ...(attributes ? { attributes } : {}),
    };
  }
  return cookies;
}

/** Query string from a CloudFront querystring object, in the object's key order. */
export function serializeQuery(qs: CfMap): string {
  const parts: string[] = [];
  for (const [name, e] of Object.entries(qs)) {
    const values = e.multiValue ?? [{ value: e.value }];
    for (const v of values) parts.push(v.value === '' ? name : `${name}=${v.value}`);
  }
  return parts.join('&');
}

/** Node header object from a CloudFront header map (multiValue expanded). */
export function fromCfHeaders(headers: CfMap | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, e] of Object.entries(headers ?? {}))
    out[name] = e.multiValue ? e.multiValue.map((v) => v.value) : e.value;
  return out;
}
