/**
 * Who may use an operator endpoint, for the origin and the edge alike (one implementation):
 * the edge's invalidation API takes a bearer key from `edge.invalidation.apiKeys`; the metrics
 * take a bearer key or a client address from a `metricsAccess` block: `edge.metricsAccess` for
 * the edge's own metrics and for the origin's `/metrics` reached through the edge,
 * `server.metricsAccess` for the origin's `/metrics` however it is reached (directly, through
 * the local edge, or through CloudFront, which forwards `/metrics` like any other path).
 *
 * Why separate key lists: a Prometheus scraper needs read access only; a key that can empty the
 * cache should not sit in every scrape config. Why an address allowlist for metrics: scrapers
 * often sit on a known network. Every list is empty by default, so nothing is public until an
 * operator opens it. The client address is the TCP peer; X-Forwarded-For is never trusted here
 * (any viewer can send one).
 */
import { timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { Unauthorized } from '../errors.js';

export interface MetricsAccess {
  /** Bearer keys (`Authorization: Bearer <key>`). */
  readonly apiKeys: readonly string[];
  /** Addresses or CIDR ranges (`10.0.0.0/8`, `::1`, `fd00::/8`) allowed without a key. */
  readonly allowIps: readonly string[];
}

export interface AdminCaller {
  /** The Authorization header as received. */
  authorization: string | undefined;
  /** The TCP peer address (`socket.remoteAddress`). */
  remoteAddress: string | undefined;
}

/**
 * True when `header` is `Bearer <k>` (RFC 6750 §2.1, scheme case-insensitive) for one of
 * `keys`. Every key is compared, in constant time for keys of the given length.
 */
export function bearerMatches(header: string | undefined, keys: readonly string[]): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  let ok = false;
  for (const k of keys) {
    const want = Buffer.from(k);
    if (want.length === given.length && timingSafeEqual(want, given)) ok = true;
  }
  return ok;
}

/** A BlockList of the allowed ranges; throws on an entry that is not an address or CIDR range. */
export function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = '', bits] = entry.split('/', 2);
    const family = isIP(addr);
    if (family === 0) throw new Error(`not an IP address or CIDR range: ${entry}`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else {
      if (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128))
        throw new Error(`bad prefix length in ${entry}`);
      list.addSubnet(addr, Number(bits), type);
    }
  }
  return list;
}

/** The problem with one allowIps entry, for config validation; undefined when it parses. */
export function allowIpProblem(entry: string): string | undefined {
  try {
    allowList([entry]);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function addressAllowed(list: BlockList, remote: string | undefined): boolean {
  if (!remote) return false;
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; match them as IPv4.
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote)?.[1];
  if (v4) return list.check(v4, 'ipv4');
  const family = isIP(remote);
  if (family === 0) return false;
  return list.check(remote, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * A check for a metrics endpoint: undefined when the caller may proceed, else the 401 to
 * answer. `access` is read on every call (a config reload applies at once); the allowlist is
 * parsed again only when the access object changes (config objects are frozen and replaced).
 */
export function metricsGuard(
  access: () => MetricsAccess,
): (caller: AdminCaller) => InstanceType<typeof Unauthorized> | undefined {
  let seen: MetricsAccess | undefined;
  let list = new BlockList();
  return (caller) => {
    const a = access();
    if (a !== seen) {
      list = allowList(a.allowIps);
      seen = a;
    }
    if (addressAllowed(list, caller.remoteAddress) || bearerMatches(caller.authorization, a.apiKeys))
      return undefined;
    return new Unauthorized();
  };
}
