/**
 * The base URL that upload answers put in front of a key (the `url` of an upload answer, the
 * signed upload URL of POST /upload-urls, the demo page's links). Never the request's Host
 * header: a client sending `Host: evil.example` must not get back URLs that send the next
 * upload, or the next download, to evil.example (and a shared cache in front could store that
 * answer for others). In order:
 *   1. server.publicUrl, the URL clients reach content at (the edge or CloudFront);
 *   2. in `edgewise dev`, the local edge's URL (the config reference: "defaults to the local edge
 *      in dev"), which the dev command hands the origin once the edge listens;
 *   3. the origin's own listen address. When it listens on a wildcard address, the local address
 *      of the connection (chosen by the network, not by anything the client wrote).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyRequest } from 'fastify';

export function publicBase(request: FastifyRequest): string {
  const app = request.server;
  const cfg = app.edgewise.config.current.server;
  const base = cfg.publicUrl ?? app.edgewise.devEdgeUrl?.() ?? listenUrl(request);
  return base.replace(/\/+$/, '');
}

function listenUrl(request: FastifyRequest): string {
  const app = request.server;
  const scheme = app.edgewise.config.current.server.tls ? 'https' : 'http';
  const bound = app.server.address() as AddressInfo | string | null;
  let host = typeof bound === 'object' && bound ? bound.address : app.edgewise.config.current.server.host;
  if (host === '0.0.0.0' || host === '::') host = request.raw.socket?.localAddress ?? '127.0.0.1';
  if (host.startsWith('::ffff:')) host = host.slice(7); // IPv4 reached through a dual-stack socket
  const port = typeof bound === 'object' && bound ? bound.port : app.edgewise.config.current.server.port;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
