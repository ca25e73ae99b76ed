/**
 * A worker's end of the cluster channel: fill leases (one origin fetch per cold key for the
 * whole edge), invalidations acknowledged by every worker before the API answers, metrics
 * totals from the primary, and the store changes other workers made.
 */
import type { Registry } from 'prom-client';
import type { ToPrimary, ToWorker } from './protocol.js';
import type { ReplicatedStore } from './replicated-store.js';

export class WorkerLink {
  #store: ReplicatedStore | undefined;
  registry: Registry | undefined;
  /** Changes that arrive before the store exists (the warm-up snapshot), applied once it does. */
  readonly #early: ToWorker[] = [];
  #warm!: () => void;
  readonly #warmed = new Promise<void>((resolve) => {
    this.#warm = resolve;
  });
  #seq = 0;
  readonly #pending = new Map<number, (m: ToWorker) => void>();
  readonly #held = new Set<string>();
  /** Invalidations seen while a snapshot arrives: snapshot entries they match are dropped. */
  #snapshotting = true;
  readonly #invalidatedDuringSnapshot: string[] = [];

  constructor() {
    process.on('message', (m: ToWorker) => {
      if (!this.#store && m.t !== 'snapshot-end' && m.t !== 'metrics-json') this.#early.push(m);
      else this.#on(m);
    });
  }

  get store(): ReplicatedStore | undefined {
    return this.#store;
  }

  set store(store: ReplicatedStore) {
    this.#store = store;
    for (const m of this.#early.splice(0)) this.#on(m);
  }

  /**
   * Asks for a live worker's replica and resolves when it has arrived (at once on a first
   * start), so a replacement worker starts serving with the cache the others hold.
   */
  warm(): Promise<void> {
    this.send({ t: 'hello' });
    return this.#warmed;
  }

  get slot(): number {
    return Number(process.env.EDGEWISE_EDGE_WORKER_SLOT ?? 0);
  }

  /** Worker processes the primary runs (each follow-prefetches with its share of the bound). */
  get workers(): number {
    return Math.max(1, Number(process.env.EDGEWISE_EDGE_WORKERS ?? 1) || 1);
  }

  send(m: ToPrimary): void {
    process.send?.(m);
  }

  #ask(make: (id: number) => ToPrimary): Promise<ToWorker> {
    const id = ++this.#seq;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.send(make(id));
    });
  }

  /** 'lead': fetch it; 'done': another worker's fill ended (look in the store again). */
  async lease(key: string): Promise<'lead' | 'done'> {
    const m = await this.#ask((id) => ({ t: 'lease', id, key }));
    const r = (m as { r: 'lead' | 'done' }).r;
    if (r === 'lead') this.#held.add(key);
    // The leader's stored entry was relayed before its release: wait until it is applied here.
    else await this.store?.settled();
    return r;
  }

  release(key: string): void {
    if (this.#held.delete(key)) this.send({ t: 'release', key });
  }

  /** Invalidates here and in every other worker; resolves once all have applied it. */
  async invalidateAll(patterns: string[]): Promise<number> {
    const here = this.store?.invalidateLocally(patterns) ?? 0;
    const m = await this.#ask((id) => ({ t: 'invalidate-all', id, patterns }));
    return Math.max(here, (m as { removed: number }).removed);
  }

  async metrics(): Promise<{ text: string; contentType: string }> {
    const m = (await this.#ask((id) => ({ t: 'metrics', id }))) as { text: string; contentType: string };
    return { text: m.text, contentType: m.contentType };
  }

  #on(m: ToWorker): void {
    const store = this.store;
    switch (m.t) {
      case 'set':
        if (m.snapshot && this.#invalidatedDuringSnapshot.some((p) => matches(p, m.entry.path))) return;
        store?.apply(m);
        return;
      case 'update':
      case 'delete':
        store?.apply(m);
        return;
      case 'invalidate':
        if (this.#snapshotting) this.#invalidatedDuringSnapshot.push(...m.patterns);
        store?.apply(m);
        return;
      case 'invalidate-ack': {
        if (this.#snapshotting) this.#invalidatedDuringSnapshot.push(...m.patterns);
        const removed = store?.invalidateLocally(m.patterns) ?? 0;
        this.send({ t: 'invalidated', id: m.id, removed });
        return;
      }
      case 'snapshot-end':
        this.#warm();
        this.#snapshotting = false;
        this.#invalidatedDuringSnapshot.length = 0;
        return;
      case 'metrics-json':
        void (this.registry?.getMetricsAsJSON() ?? Promise.resolve([])).then((json) =>
          this.send({ t: 'metrics-json', id: m.id, json }),
        );
        return;
      case 'snapshot':
        void this.#sendSnapshot(m.to);
        return;
      case 'lease':
      case 'invalidated':
      case 'metrics': {
        const resolve = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        resolve?.(m);
        return;
      }
      case 'shutdown':
        return;
    }
  }

  async #sendSnapshot(to: number): Promise<void> {
    if (this.store) for await (const c of this.store.snapshot()) this.send({ ...c, to });
    this.send({ t: 'snapshot-end', to });
  }
}

function matches(pattern: string, path: string): boolean {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern;
}
