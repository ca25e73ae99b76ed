/**
 * What every route and subsystem of a running origin shares: the live config and the storage
 * driver. Reached as `app.edgewise` (declaration merging below), never through globals.
 */
import type { ConfigStore } from './config/store.js';
import type { StorageDriver } from './storage/types.js';

export interface EdgewiseContext {
  config: ConfigStore;
  storage: StorageDriver;
}

declare module 'fastify' {
  interface FastifyInstance {
    edgewise: EdgewiseContext;
  }
}
