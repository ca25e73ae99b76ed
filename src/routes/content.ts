import type { FastifyPluginAsync } from 'fastify';
import { classify } from '../classes.js';
import type { EdgewiseConfig } from '../config/schema.js';
import type { ContentClassConfig } from '../config/sections/classes.js';
import { keyFromUrlPath } from '../storage/keys.js';
import { sendObject } from './serve-object.js';

interface Target {
  key: string;
  path: string;
  cls: ContentClassConfig;
}

/** Entries per config before the memo starts over (paths are client-chosen: it must not grow). */
const TARGETS_MAX = 4096;
/**
 * What a request path names (key, content class), per config object so a reload starts afresh:
 * decoding, key validation and class matching cost ~0.5 µs and hot paths repeat. Only valid
 * paths are remembered; a refused one is worked out (and refused) every time.
 */
const targets = new WeakMap<Readonly<EdgewiseConfig>, Map<string, Target>>();

function targetOf(config: Readonly<EdgewiseConfig>, url: string): Target {
  let memo = targets.get(config);
  if (!memo) {
    memo = new Map();
    targets.set(config, memo);
  }
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  let t = memo.get(rawPath);
  if (t === undefined) {
    const key = keyFromUrlPath(rawPath);
    const path = `/${key}`;
    t = { key, path, cls: classify(config, path) };
    if (memo.size >= TARGETS_MAX) memo.clear();
    memo.set(rawPath, t);
  }
  return t;
}

/** GET/HEAD /<key>: stored objects, with the headers of the path's content class. */
export const contentRoutes: FastifyPluginAsync = async (app) => {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: (request, reply) => {
      const { key, path, cls } = targetOf(app.edgewise.config.current, request.url);
      return sendObject(request, reply, { storage: app.edgewise.storage, key, cls, path });
    },
  });
};
