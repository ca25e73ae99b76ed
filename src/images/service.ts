/**
 * Makes sure a variant exists in storage, doing the expensive work at most once.
 *
 * For one variant key: concurrent callers join one flight (single flight); the flight waits
 * for a slot in the bounded queue, reads the source (refusing non-images from their first
 * 4 KB and enforcing the byte cap while reading), transforms it, and
 * stores the result under the reserved `.edgewise/img/` prefix. Storage writes are atomic,
 * so a failed or abandoned transform never leaves a partial variant.
 */
import { Readable } from 'node:stream';
import type { ImagesConfig } from '../config/sections/images.js';
import { ImageTimeout, ImageTooLarge, NotFound } from '../errors.js';
import type { ObjectMeta, StorageDriver } from '../storage/types.js';
import { BoundedQueue } from './queue.js';
import { SingleFlight } from './single-flight.js';
import { SourceMetaCache } from './source-cache.js';
import { SNIFF_BYTES, sniffSource } from './source-type.js';
import { sharpTransform, type TransformFn, type TransformOutput } from './transform.js';
import { imageVariantKey, type VariantSpec, variantParams } from './variant-key.js';

export interface ImageServiceOptions {
  storage: StorageDriver;
  /** The live images config, read when each flight starts. */
  config: () => Readonly<ImagesConfig>;
  transform?: TransformFn | undefined;
}

export interface ImageStats {
  /** Calls made to the transform function. */
  transforms: number;
  /** Requests that joined a flight already in progress. */
  joined: number;
  /** Variants written to storage. */
  stored: number;
}

export class ImageService {
  /** The seam: replaced by tests (a counting or gated wrapper) and nothing else. */
  transform: TransformFn;
  readonly stats: ImageStats = { transforms: 0, joined: 0, stored: 0 };
  readonly queue: BoundedQueue;
  /** Recently seen source metadata (see source-cache.ts). */
  readonly sources = new SourceMetaCache();
  readonly #flights = new SingleFlight<string>();
  readonly #storage: StorageDriver;
  readonly #config: () => Readonly<ImagesConfig>;

  constructor(options: ImageServiceOptions) {
    this.#storage = options.storage;
    this.#config = options.config;
    this.transform = options.transform ?? sharpTransform;
    this.queue = new BoundedQueue(() => this.#config());
  }

  /** Variants being made right now. */
  get inFlight(): number {
    return this.#flights.size;
  }

  /**
   * Resolves to the key of the stored variant of `source` (creating it when needed). The key
   * normally is `imageVariantKey(source.key, source.etag, spec)`; if the source was replaced
   * while it was being read, it is the key for the bytes actually transformed.
   */
  ensureVariant(source: ObjectMeta, spec: VariantSpec): Promise<string> {
    const key = imageVariantKey(source.key, source.etag, spec);
    if (this.#flights.has(key)) this.stats.joined++;
    return this.#flights.run(key, () => this.#make(source, spec));
  }

  async #make(source: ObjectMeta, spec: VariantSpec): Promise<string> {
    const key = imageVariantKey(source.key, source.etag, spec);
    const cfg = this.#config();
    if (source.size > cfg.maxInputBytes) throw new ImageTooLarge(cfg.maxInputBytes);
    const { out, etag } = await this.#transformInSlot(source.key, spec, cfg);
    const finalKey = etag === source.etag ? key : imageVariantKey(source.key, etag, spec);
    await this.#storage.put(finalKey, Readable.from([out.data]), {
      contentType: out.contentType,
      metadata: {
        'source-key': encodeURIComponent(source.key),
        'source-etag': etag,
        params: variantParams(spec),
        width: String(out.width),
        height: String(out.height),
      },
    });
    this.stats.stored++;
    return finalKey;
  }

  /**
   * Waits for a queue slot, then reads and transforms the source under a wall-clock deadline.
   * sharp's own timeout only interrupts libvips operations, not every encoder (an AVIF
   * encode runs to the end), so the deadline is enforced here too: the request gets
   * EDGEWISE_IMAGE_TIMEOUT on time, while the slot stays taken until sharp really stops, so
   * abandoned work still counts against `concurrency` and memory stays bounded.
   */
  #transformInSlot(
    key: string,
    spec: VariantSpec,
    cfg: Readonly<ImagesConfig>,
  ): Promise<{ out: TransformOutput; etag: string }> {
    return new Promise((resolve, reject) => {
      this.queue
        .run(async () => {
          const timer = setTimeout(
            () => reject(new ImageTimeout(cfg.transformTimeoutSeconds)),
            cfg.transformTimeoutSeconds * 1000,
          );
          try {
            const { input, etag } = await this.#readAll(key, cfg);
            this.stats.transforms++;
            resolve({ out: await this.transform({ input, spec, limits: cfg }), etag });
          } catch (err) {
            reject(err);
          } finally {
            clearTimeout(timer);
          }
        })
        .catch(reject);
    });
  }

  /**
   * The whole source in memory (what sharp decodes from). Refused as soon as its first
   * SNIFF_BYTES show it is not an allowed image (one storage read, no separate probe) or
   * as soon as more than `maxInputBytes` arrive.
   */
  async #readAll(key: string, cfg: Readonly<ImagesConfig>): Promise<{ input: Buffer; etag: string }> {
    const maxBytes = cfg.maxInputBytes;
    const got = await this.#storage.get(key);
    // Deleted since the route's HEAD: the same answer the route gives for a missing source.
    if (!got) throw new NotFound(`/img/${key}`);
    const chunks: Buffer[] = [];
    let total = 0;
    let sniffed = false;
    try {
      if (got.meta.size > maxBytes) throw new ImageTooLarge(maxBytes);
      for await (const chunk of got.body) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) throw new ImageTooLarge(maxBytes);
        chunks.push(chunk as Buffer);
        if (!sniffed && total >= SNIFF_BYTES) {
          sniffed = true;
          await sniffSource(Buffer.concat(chunks, total), cfg.allowRiskyLoaders);
        }
      }
      const input = Buffer.concat(chunks, total);
      if (!sniffed) await sniffSource(input, cfg.allowRiskyLoaders);
      return { input, etag: got.meta.etag };
    } finally {
      got.body.destroy();
    }
  }
}
