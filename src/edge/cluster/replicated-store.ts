/**
 * The worker side of the edge's one cache: a EdgeCache whose changes (stored fills, 304
 * refreshes, deletions, invalidations) are sent to the primary, which relays them to every
 * other worker, and which applies the changes other workers made. Every worker therefore
 * holds the whole cache and a hit never leaves its process; eviction stays local (each
 * replica is bounded by edge.cache.memoryBytes / diskBytes on its own).
 */
import { readFile } from 'node:fs/promises';
import CachePolicy from 'http-cache-semantics';
import { EdgeCache, type EdgeCacheOptions } from '../cache/edge-cache.js';
import type { CachedResponse } from '../entry.js';
import { varyNames } from '../fill.js';
import type { StoreChange, ToPrimary, WireEntry } from './protocol.js';

export function toWire(entry: CachedResponse, body: Buffer | undefined): WireEntry {
  return { ...entry, policy: entry.policy.toObject(), body };
}

function fromWire(w: WireEntry): CachedResponse & { body: Buffer } {
  // A deserialized Uint8Array is a view into the IPC read that carried it (up to 64 KiB, shared
  // with the messages around it): kept as the body, a replicated 100-byte entry pinned that whole
  // read. Copied into a backing store of its own (not Buffer's shared pool), the replica holds
  // what entryCost counts.
  const body = w.body ? Buffer.allocUnsafeSlow(w.body.byteLength) : Buffer.alloc(0);
  if (w.body) body.set(w.body);
  return { ...w, policy: CachePolicy.fromObject(w.policy), body };
}

export class ReplicatedStore extends EdgeCache {
  readonly #send: (m: ToPrimary) => void;
  /** Set while a synchronous change made here must not be sent again (invalidate → delete). */
  #quiet = false;
  /** Remote disk-tier writes still running: a lease answer waits for them. */
  #applying: Promise<unknown> = Promise.resolve();

  constructor(options: EdgeCacheOptions, send: (m: ToPrimary) => void) {
    super(options);
    this.#send = send;
  }

  override async set(
    entry: CachedResponse & { body: Buffer },
    primary: string,
    vary: string[],
  ): ReturnType<EdgeCache['set']> {
    const tier = await super.set(entry, primary, vary);
    if (tier) this.#send({ t: 'set', entry: toWire(entry, entry.body), primary, vary });
    return tier;
  }

  override update(entry: CachedResponse): void {
    super.update(entry);
    this.#send({ t: 'update', entry: toWire(entry, undefined) });
  }

  override delete(key: string): boolean {
    const removed = super.delete(key);
    if (!this.#quiet) this.#send({ t: 'delete', key });
    return removed;
  }

  override invalidate(pattern: string): number {
    const removed = this.#invalidateHere([pattern]);
    this.#send({ t: 'invalidate', patterns: [pattern] });
    return removed;
  }

  /** Invalidates here only (the caller tells the others and waits for them). */
  invalidateLocally(patterns: string[]): number {
    return this.#invalidateHere(patterns);
  }

  #invalidateHere(patterns: string[]): number {
    this.#quiet = true;
    try {
      let removed = 0;
      for (const p of patterns) removed += super.invalidate(p);
      return removed;
    } finally {
      this.#quiet = false;
    }
  }

  /** Applies another worker's change without sending it back. */
  apply(m: StoreChange): void {
    switch (m.t) {
      case 'set':
        this.#applying = Promise.all([this.#applying, super.set(fromWire(m.entry), m.primary, m.vary)]);
        return;
      case 'update': {
        const mine = this.peek(m.entry.key);
        // Only the metadata travels: keep this replica's own body (buffer or disk file).
        if (mine) super.update({ ...fromWire(m.entry), body: mine.body });
        return;
      }
      case 'delete':
        this.#quiet = true;
        try {
          super.delete(m.key);
        } finally {
          this.#quiet = false;
        }
        return;
      case 'invalidate':
        this.#invalidateHere(m.patterns);
        return;
    }
  }

  /** Resolves once every remote change received so far is stored. */
  settled(): Promise<unknown> {
    return this.#applying;
  }

  /** Every entry held here, as `set` changes, for a worker that starts empty. */
  async *snapshot(): AsyncGenerator<StoreChange & { t: 'set' }> {
    for (const tier of [this.memory, this.disk]) {
      if (!tier) continue;
      for (const key of [...tier.keys()]) {
        const entry = tier.peek(key);
        if (!entry) continue;
        let body: Buffer;
        if (Buffer.isBuffer(entry.body)) body = entry.body;
        else {
          try {
            body = await readFile(entry.body.file);
          } catch {
            continue; // evicted while we walked
          }
        }
        const vary = varyNames(entry.headers);
        const cut = entry.key.indexOf('\u0002');
        const primary = vary.length > 0 && cut !== -1 ? entry.key.slice(0, cut) : entry.key;
        yield { t: 'set', entry: toWire(entry, body), primary, vary, snapshot: true };
      }
    }
  }
}
