/**
 * A local CloudFront KeyValueStore: what `cf.kvs()` reads inside a CloudFront Function, loaded
 * from AWS's import file format (`{"data":[{"key":..,"value":..}]}`, "File format for key-value
 * pairs") and held to the same limits (file 5 MB, key 512 characters, value 1024 characters, no
 * duplicate keys), so a file the local edge accepts is one CloudFront would import.
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/kvs-with-functions-create-s3-kvp.html
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-custom-methods.html
 *
 * The store is a reusable piece: `replace()` swaps the contents atomically (a reload, or a
 * later live update of values), and every read sees either the old or the new contents.
 */
import { readFileSync, statSync } from 'node:fs';

export const KVS_MAX_FILE_BYTES = 5 * 1024 * 1024;
export const KVS_MAX_KEY_CHARS = 512;
export const KVS_MAX_VALUE_CHARS = 1024;

export interface KvsEntry {
  key: string;
  value: string;
}

/** What `meta()` resolves to (Helper methods for key value stores, meta() method). */
export interface KvsMeta {
  creationDateTime: string;
  lastUpdatedDateTime: string;
  keyCount: number;
}

export class KvsFormatError extends Error {
  override name = 'KvsFormatError';
}

/** Checks an import document and returns its entries; throws KvsFormatError naming the problem. */
export function parseKvsImport(doc: unknown, at = 'KeyValueStore file'): KvsEntry[] {
  const data = (doc as { data?: unknown } | null)?.data;
  if (doc === null || typeof doc !== 'object' || !Array.isArray(data))
    throw new KvsFormatError(`${at}: expected {"data":[{"key":...,"value":...}]}`);
  const seen = new Set<string>();
  return data.map((e: unknown, i) => {
    const { key, value } = (e ?? {}) as { key?: unknown; value?: unknown };
    if (typeof key !== 'string' || typeof value !== 'string')
      throw new KvsFormatError(`${at}: data[${i}] must be {"key": string, "value": string}`);
    if (key.length === 0 || key.length > KVS_MAX_KEY_CHARS)
      throw new KvsFormatError(`${at}: data[${i}].key must be 1–${KVS_MAX_KEY_CHARS} characters`);
    if (value.length > KVS_MAX_VALUE_CHARS)
      throw new KvsFormatError(`${at}: value of "${key}" is over ${KVS_MAX_VALUE_CHARS} characters`);
    if (seen.has(key)) throw new KvsFormatError(`${at}: duplicate key "${key}"`);
    seen.add(key);
    return { key, value };
  });
}

export class KeyValueStore {
  #map = new Map<string, string>();
  #created: Date;
  #updated: Date;

  /** `id` is the store's id (what `cf.kvs(id)` names); undefined accepts any id, as one association. */
  constructor(
    entries: readonly KvsEntry[] = [],
    readonly id?: string,
    created = new Date(),
  ) {
    this.#created = created;
    this.#updated = created;
    this.replace(entries, created);
  }

  /** Loads an import file; a bad file throws KvsFormatError with the path and the reason. */
  static fromFile(path: string, id?: string): KeyValueStore {
    const st = statSync(path);
    if (st.size > KVS_MAX_FILE_BYTES)
      throw new KvsFormatError(`${path}: ${st.size} bytes, over the ${KVS_MAX_FILE_BYTES}-byte import limit`);
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new KvsFormatError(`${path}: not JSON (${(err as Error).message})`);
    }
    const store = new KeyValueStore(parseKvsImport(doc, path), id, st.birthtime);
    store.#updated = st.mtime;
    return store;
  }

  /** Swaps in new contents at once (a reload or a live update). Validated like an import. */
  replace(entries: readonly KvsEntry[], at = new Date()): void {
    const next = new Map<string, string>();
    for (const e of parseKvsImport({ data: entries })) next.set(e.key, e.value);
    this.#map = next;
    this.#updated = at;
  }

  get(key: string): string | undefined {
    return this.#map.get(key);
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  meta(): KvsMeta {
    return {
      creationDateTime: this.#created.toISOString(),
      lastUpdatedDateTime: this.#updated.toISOString(),
      keyCount: this.#map.size,
    };
  }
}
