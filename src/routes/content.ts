import type { FastifyPluginAsync } from 'fastify';
import { classify } from '../classes.js';
import { keyFromUrlPath } from '../storage/keys.js';
import { sendObject } from './serve-object.js';

/** GET/HEAD /<key>: stored objects, with the headers of the path's content class. */
export const contentRoutes: FastifyPluginAsync = async (app) => {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: async (request, reply) => {
      const key = keyFromUrlPath(request.url);
      const path = `/${key}`;
      const cls = classify(app.edgewise.config.current, path);
      return sendObject(request, reply, { storage: app.edgewise.storage, key, cls, path });
    },
  });
};
