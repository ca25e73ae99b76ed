/**
 * The `cloudfront` module of JavaScript runtime 2.0 (`import cf from 'cloudfront'`), as the local
 * runtime offers it.
 *
 * KeyValueStore helpers (functions-custom-methods): `cf.kvs([id])` returns a handle whose
 * `get(key, {format})`, `exists(key)` and `meta()` return promises. A function has at most one
 * associated store, so `cf.kvs()` reads it and `cf.kvs(id)` must name it; `get` of a missing key
 * rejects, as CloudFront's does.
 *
 * Origin modification helpers (helper-functions-origin-modification): `updateRequestOrigin`,
 * `selectRequestOriginById` and `createRequestOriginGroup` change where CloudFront sends the
 * origin request. The local edge has one configured origin and no distribution origin table, so
 * it cannot do what they ask; applying nothing would answer from the wrong origin silently, so
 * each call fails the function (503, EDGEWISE_FUNCTION_ERROR) with that reason. AWS's own
 * TestFunction does not apply origin changes either ("The Test API and Test console pages don't
 * test whether an origin modification has occurred").
 */
import type { KvsMeta } from './kvs.js';

/** What the runtime needs from a store: a KeyValueStore (./kvs.js) or any read-only map. */
export interface KvsSource {
  readonly id?: string;
  get(key: string): string | undefined;
  has?(key: string): boolean;
  meta?(): KvsMeta;
}

const FORMATS = ['string', 'json', 'bytes'];

function handle(store: KvsSource) {
  return {
    async get(key: unknown, options?: { format?: unknown }): Promise<unknown> {
      if (typeof key !== 'string') throw new TypeError('kvs.get: key must be a string');
      const format = options?.format ?? 'string';
      if (!FORMATS.includes(format as string))
        throw new TypeError(`kvs.get: format must be string, json or bytes, not ${String(format)}`);
      const value = store.get(key);
      if (value === undefined) throw new Error(`KeyValueStore: key "${key}" not found`);
      if (format === 'json') return JSON.parse(value);
      if (format === 'bytes') return Buffer.from(value, 'utf8');
      return value;
    },
    async exists(key: unknown): Promise<boolean> {
      if (typeof key !== 'string') throw new TypeError('kvs.exists: key must be a string');
      return store.has ? store.has(key) : store.get(key) !== undefined;
    },
    async meta(): Promise<KvsMeta> {
      if (!store.meta) throw new Error('KeyValueStore: this store has no metadata');
      return store.meta();
    },
  };
}

function notLocal(name: string): never {
  throw new Error(
    `cf.${name}() changes the request's origin, which the local edge cannot do: it has one configured origin and no distribution origins to select (CloudFront applies it only in a deployed distribution)`,
  );
}

export function cloudfrontModule(store: KvsSource | undefined) {
  const cf = {
    kvs(id?: unknown) {
      if (!store) throw new Error('cf.kvs(): no KeyValueStore is associated with this function');
      if (id !== undefined && store.id !== undefined && id !== store.id)
        throw new Error(`cf.kvs(): KeyValueStore ${String(id)} is not associated with this function`);
      return handle(store);
    },
    updateRequestOrigin(): never {
      return notLocal('updateRequestOrigin');
    },
    selectRequestOriginById(): never {
      return notLocal('selectRequestOriginById');
    },
    createRequestOriginGroup(): never {
      return notLocal('createRequestOriginGroup');
    },
  };
  // `import cf from 'cloudfront'` reads the default export; `require('cloudfront')` the module.
  return Object.assign(cf, { default: cf });
}
