/**
 * The edge cache: the local edge's stored responses, in two byte-bounded tiers behind the shared cache-store seam
 * (src/cache-store, `CacheStore<V>`). Small objects live in the memory tier; objects of at
 * least `diskThresholdBytes` go to the disk tier, whose entries point at files under `dir`, so
 * one large download cannot flush thousands of hot small objects. Each tier evicts by its own
 * policy and never holds more than its bytes; an evicted disk entry's file is unlinked.
 *
 * Vary (RFC 9111 §4.1): a response that varies on request headers is stored under a secondary
 * key made of those headers' values; `variesOn` remembers the header names per primary key.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keyPath } from '../../cache-key.js';
import { createCacheStore, POLICY_ENTRY_BYTES, type PolicyName } from '../../cache-store/index.js';
import type { CacheStore } from '../../cache-store/types.js';
import { type CachedResponse, entryCost, headerBytes } from '../entry.js';
import { DiskFiles, type OpenFile } from './disk-files.js';

export type Tier = 'memory' | 'disk';

export interface EdgeCacheOptions {
  policy: PolicyName;
  memoryBytes: number;
  diskBytes: number;
  diskDir: string;
  diskThresholdBytes: number;
  onEvict?: (tier: Tier, entry: CachedResponse, bytes: number) => void;
}

/** At most this many primary keys remember their Vary header names (bounded like the tiers). */
const MAX_VARY_KEYS = 100_000;

export class EdgeCache {
  readonly memory: CacheStore<CachedResponse>;
  readonly disk: CacheStore<CachedResponse> | undefined;
  readonly #options: EdgeCacheOptions;
  readonly #vary = new Map<string, string[]>();
  #seq = 0;
  /** Open descriptors of disk-tier files, reused across hits (src/edge/cache/disk-files.ts). */
  readonly files = new DiskFiles();
  readonly #prefix = randomBytes(4).toString('hex');
  /** What the memory tier's policy holds per entry beyond entryCost (its miniature simulations). */
  readonly #policyBytes: number;

  constructor(options: EdgeCacheOptions) {
    this.#options = options;
    this.#policyBytes = POLICY_ENTRY_BYTES[options.policy];
    this.memory = createCacheStore<CachedResponse>(options.policy, {
      maxBytes: options.memoryBytes,
      onEvict: (_k, entry, bytes) => options.onEvict?.('memory', entry, bytes),
    });
    if (options.diskBytes > 0) {
      // The disk tier does not survive restarts: its index lives in memory, so leftover files
      // are orphans and are removed.
      rmSync(options.diskDir, { recursive: true, force: true });
      mkdirSync(options.diskDir, { recursive: true });
      this.disk = createCacheStore<CachedResponse>(options.policy, {
        maxBytes: options.diskBytes,
        onEvict: (_k, entry, bytes) => {
          this.#unlink(entry);
          options.onEvict?.('disk', entry, bytes);
        },
      });
    }
  }

  /** Header names the stored responses for this primary key vary on, if any. */
  variesOn(primary: string): string[] | undefined {
    return this.#vary.get(primary);
  }

  /** Looks a key up (recording an access in the tier that holds it). */
  get(key: string): CachedResponse | undefined {
    return this.memory.get(key) ?? this.disk?.get(key);
  }

  /**
   * A descriptor for a disk-tier entry's file, to read its body at positions; `release` it when
   * done. Rejects when the file is gone (the entry was dropped since the lookup).
   */
  openBody(entry: CachedResponse & { body: { file: string } }): Promise<OpenFile> {
    return this.files.acquire(entry.body.file);
  }

  /** Closes the disk tier's descriptors (the edge is shutting down). */
  closeFiles(): void {
    this.files.closeAll();
  }

  peek(key: string): CachedResponse | undefined {
    return this.memory.peek(key) ?? this.disk?.peek(key);
  }

  /**
   * Stores an entry whose body is in memory; large bodies are written to the disk tier first.
   * Returns the tier used, or undefined when no tier took it.
   */
  async set(
    entry: CachedResponse & { body: Buffer },
    primary: string,
    varyNames: string[],
  ): Promise<Tier | undefined> {
    if (varyNames.length > 0) {
      if (this.#vary.size >= MAX_VARY_KEYS && !this.#vary.has(primary)) this.#vary.clear();
      this.#vary.set(primary, varyNames);
    } else {
      this.#vary.delete(primary);
    }
    if (entry.size >= this.#options.diskThresholdBytes && this.disk) {
      const cost = entry.size + headerBytes(entry.headers);
      if (cost > this.disk.maxBytes) return undefined;
      const file = join(this.#options.diskDir, `${this.#prefix}-${(++this.#seq).toString(36)}`);
      await writeFile(file, entry.body);
      const onDisk: CachedResponse = { ...entry, body: { file } };
      this.memory.delete(entry.key);
      this.#replace(this.disk, entry.key);
      if (this.disk.set(entry.key, onDisk, cost)) return 'disk';
      this.#unlink(onDisk);
      return undefined;
    }
    this.#replace(this.disk, entry.key);
    return this.memory.set(entry.key, entry, entryCost(entry) + this.#policyBytes) ? 'memory' : undefined;
  }

  /** Replaces stored metadata (a 304 refreshed the headers) without touching the body. */
  update(entry: CachedResponse): void {
    if (typeof (entry.body as { file?: string }).file === 'string')
      this.disk?.set(entry.key, entry, entry.size + headerBytes(entry.headers));
    else this.memory.set(entry.key, entry, entryCost(entry) + this.#policyBytes);
  }

  delete(key: string): boolean {
    const inMemory = this.memory.delete(key);
    return this.#replace(this.disk, key) || inMemory;
  }

  /**
   * Removes every key (every variant, every encoding) whose path matches: exactly, or by
   * prefix when the pattern ends in `*` (CloudFront invalidation paths). Returns the count.
   */
  invalidate(pattern: string): number {
    const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : undefined;
    const matches = (path: string) => (prefix === undefined ? path === pattern : path.startsWith(prefix));
    let removed = 0;
    for (const tier of [this.memory, this.disk]) {
      if (!tier) continue;
      for (const key of [...tier.keys()]) if (matches(keyPath(key)) && this.delete(key)) removed++;
    }
    for (const primary of [...this.#vary.keys()]) if (matches(keyPath(primary))) this.#vary.delete(primary);
    return removed;
  }

  bytes(tier: Tier): number {
    return tier === 'memory' ? this.memory.bytes : (this.disk?.bytes ?? 0);
  }

  clear(): void {
    this.memory.clear();
    if (this.disk) for (const key of [...this.disk.keys()]) this.#replace(this.disk, key);
    this.#vary.clear();
  }

  #replace(tier: CacheStore<CachedResponse> | undefined, key: string): boolean {
    const old = tier?.peek(key);
    if (!old || !tier) return false;
    tier.delete(key);
    this.#unlink(old);
    return true;
  }

  #unlink(entry: CachedResponse): void {
    const file = (entry.body as { file?: string }).file;
    // No later hit reads it; a response already reading keeps its descriptor until it is done.
    if (typeof file === 'string') this.files.remove(file);
  }
}
