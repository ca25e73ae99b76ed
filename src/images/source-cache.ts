/**
 * A short-lived memo of source metadata (ETag, size) by key, so a warm variant request costs
 * one storage read (the variant) instead of two (source HEAD, then variant). The price is
 * bounded staleness: for up to `ttlMs` after a source is replaced, a request may still get
 * the variant of the previous upload — far below the edge's own TTL for /img/*, which
 * already serves old variants for longer. `ttlMs = 0` turns it off (always HEAD the source).
 * Bounded by entry count: the oldest entries go first.
 */
import type { ObjectMeta } from '../storage/types.js';

export const SOURCE_CACHE_MAX_ENTRIES = 10_000;

export class SourceMetaCache {
  readonly #entries = new Map<string, { meta: ObjectMeta; expires: number }>();

  constructor(private readonly now: () => number = () => Date.now()) {}

  get(key: string, ttlMs: number): ObjectMeta | undefined {
    if (ttlMs <= 0) return undefined;
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    // The entry's own expiry, and the current TTL, so lowering the TTL by reload takes effect.
    if (hit.expires <= this.now() || hit.expires - ttlMs > this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return hit.meta;
  }

  set(key: string, meta: ObjectMeta, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { meta, expires: this.now() + ttlMs });
    if (this.#entries.size > SOURCE_CACHE_MAX_ENTRIES) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
