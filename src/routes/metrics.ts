/**
 * `/metrics` in the Prometheus text format (for callers server.metricsAccess lets in), and the hooks that record every request's
 * duration and body bytes. Registered with fastify-plugin so the hooks see every route.
 */
import { Transform } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import type { CounterSeries, HistogramSeries } from '../fast-metrics.js';
import { metricsGuard } from '../http/operator-access.js';

const UNMATCHED = 'unmatched';
const metered = new WeakSet<FastifyReply>();

const plugin: FastifyPluginAsync = async (app) => {
  const { metrics } = app.edgewise;
  app.decorateRequest('edgewiseClass', '');

  // Series cached by their label values in nested maps: no key string is built per request,
  // and the set of (route, class, method, status) seen in practice is small.
  const durations = new Map<string, Map<string, Map<string, Map<number, HistogramSeries>>>>();
  const bytes = new Map<string, Map<string, CounterSeries>>();
  const durationOf = (route: string, cls: string, method: string, status: number): HistogramSeries => {
    const byClass = at(durations, route, () => new Map());
    const byMethod = at(byClass, cls, () => new Map());
    const byStatus = at(byMethod, method, () => new Map());
    return at(byStatus, status, () => metrics.requestDuration.labels({ route, class: cls, method, status }));
  };
  const bytesOf = (route: string, cls: string): CounterSeries =>
    at(
      at(bytes, route, () => new Map()),
      cls,
      () => metrics.bytesSent.labels({ route, class: cls }),
    );

  // Streams sent without a Content-Length (on-the-fly compression) are counted as they flow.
  // Callback-style hooks: an async hook costs a promise per request on the hot path.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (
      payload === null ||
      typeof payload !== 'object' ||
      typeof (payload as { pipe?: unknown }).pipe !== 'function' ||
      reply.hasHeader('content-length')
    )
      return done(null, payload);
    const counter = bytesOf(request.routeOptions.url ?? UNMATCHED, request.edgewiseClass);
    metered.add(reply);
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        counter.inc(chunk.length);
        cb(null, chunk);
      },
    });
    const source = payload as NodeJS.ReadableStream & { destroy?(err?: Error): void };
    source.on('error', (err: Error) => meter.destroy(err));
    meter.on('close', () => source.destroy?.());
    done(null, source.pipe(meter));
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED;
    const cls = request.edgewiseClass;
    const status = reply.statusCode;
    durationOf(route, cls, request.method, status).observe(reply.elapsedTime / 1000);
    if (!metered.has(reply) && request.method !== 'HEAD' && status !== 304 && status !== 204) {
      // onResponse runs on 'finish' (all bytes handed to the OS) or on a stream error; count
      // the declared length only for the former.
      const length = reply.raw.writableEnded ? Number(reply.getHeader('content-length')) : 0;
      if (length > 0) bytesOf(route, cls).inc(length);
    }
    done();
  });

  // Not public (server.metricsAccess): CloudFront forwards /metrics like any path, so the origin
  // decides for itself, with the guard the edge uses for its own metrics.
  const guard = metricsGuard(() => app.edgewise.config.current.server.metricsAccess);
  app.get('/metrics', async (request, reply) => {
    const refused = guard({
      authorization: request.headers.authorization,
      remoteAddress: request.socket.remoteAddress,
    });
    if (refused) {
      // RFC 9110 §15.5.2: a 401 names the scheme that would be accepted (RFC 6750 §3).
      reply.header('www-authenticate', 'Bearer realm="edgewise-origin"').header('cache-control', 'no-store');
      throw refused;
    }
    const text = await metrics.registry.metrics();
    return reply
      .header('content-type', metrics.registry.contentType)
      .header('cache-control', 'no-store')
      .send(text);
  });
};

function at<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

export const metricsRoutes = fp(plugin, { name: 'edgewise-metrics', fastify: '5.x' });
