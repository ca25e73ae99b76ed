import type { FastifyPluginAsync } from 'fastify';

/**
 * /healthz: the process answers (liveness; exempt from overload shedding in src/http/plugin.ts
 * so a busy process is not restarted). /readyz: storage is reachable and writable, and the
 * process is not shedding load (readiness; a 503 makes load balancers send traffic elsewhere).
 * Neither may be cached by anything in front: each answer is about this instant.
 */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });
  app.get('/readyz', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    try {
      await app.edgewise.storage.check();
      return { status: 'ready', storage: app.edgewise.storage.name };
    } catch (err) {
      request.log.warn({ err }, 'readiness check failed');
      return reply.code(503).send({ status: 'unavailable', storage: app.edgewise.storage.name });
    }
  });
};
