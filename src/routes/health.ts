import type { FastifyPluginAsync } from 'fastify';

/** /healthz: the process answers. /readyz: storage is reachable and writable. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await app.edgewise.storage.check();
      return { status: 'ready', storage: app.edgewise.storage.name };
    } catch (err) {
      request.log.warn({ err }, 'readiness check failed');
      return reply.code(503).send({ status: 'unavailable', storage: app.edgewise.storage.name });
    }
  });
};
