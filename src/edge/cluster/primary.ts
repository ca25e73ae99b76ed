/**
 * The edge's primary process (`edge.workers` > 1): forks the workers that share the edge port
 * (node:cluster, round-robin accept), and makes them one cache: it relays each worker's store
 * changes to the others, grants one fill lease per cold key for the whole edge, collects every
 * worker's acknowledgement of an invalidation before the asking worker answers, and sums
 * metrics. A worker that dies is replaced in its slot and warmed from a live worker's replica.
 * SIGHUP is passed to every worker (each reloads its config); SIGTERM drains all, then exits.
 */
import cluster, { type Worker } from 'node:cluster';
import { Registry } from 'prom-client';
import type { Logger } from '../../logger.js';
import { registerProcessMetrics } from '../metrics.js';
import { aggregateMetrics } from './metrics.js';
import type { ToPrimary, ToWorker } from './protocol.js';

interface Waiting<T> {
  from: Worker;
  id: number;
  left: Set<number>;
  acc: T;
}

export function runEdgePrimary(count: number, logger: Logger, deadlineMs: number): { stop(): Promise<void> } {
  const log = logger.child({ module: 'edge-primary' });
  cluster.setupPrimary({ serialization: 'advanced' });
  const slots: Array<Worker | undefined> = [];
  const leases = new Map<string, { holder: number; waiters: Array<{ w: Worker; id: number }> }>();
  const invalidations = new Map<number, Waiting<number>>();
  const scrapes = new Map<number, Waiting<unknown[][]>>();
  // The primary's own RSS, heap and event loop, added to the workers' in the edge totals.
  const own = new Registry();
  registerProcessMetrics(own);
  let seq = 0;
  let stopping = false;
  let announced = false;
  const listening = new Set<number>();
  const live = () => slots.filter((w): w is Worker => w?.isConnected() === true);
  const send = (w: Worker, m: ToWorker) => {
    if (w.isConnected()) w.send(m);
  };

  const grantNext = (key: string) => {
    const lease = leases.get(key);
    if (!lease) return;
    leases.delete(key);
    // Every waiter looks in its replica again: the leader's entry was relayed before this.
    for (const x of lease.waiters) send(x.w, { t: 'lease', id: x.id, r: 'done' });
  };

  const finishInvalidation = (pid: number) => {
    const inv = invalidations.get(pid);
    if (!inv || inv.left.size > 0) return;
    invalidations.delete(pid);
    send(inv.from, { t: 'invalidated', id: inv.id, removed: inv.acc });
  };

  const finishScrape = async (pid: number) => {
    const s = scrapes.get(pid);
    if (!s || s.left.size > 0) return;
    scrapes.delete(pid);
    const { text, contentType } = await aggregateMetrics(s.acc, await own.getMetricsAsJSON());
    send(s.from, { t: 'metrics', id: s.id, text, contentType });
  };

  const onMessage = (w: Worker, m: ToPrimary) => {
    switch (m.t) {
      case 'set':
      case 'update':
      case 'delete':
      case 'invalidate':
        if (m.t === 'set' && m.to !== undefined) {
          const target = live().find((x) => x.id === m.to);
          if (target) send(target, m);
          return;
        }
        for (const other of live()) if (other !== w) send(other, m);
        return;
      case 'lease': {
        const lease = leases.get(m.key);
        if (!lease) {
          leases.set(m.key, { holder: w.id, waiters: [] });
          send(w, { t: 'lease', id: m.id, r: 'lead' });
        } else lease.waiters.push({ w, id: m.id });
        return;
      }
      case 'release':
        if (leases.get(m.key)?.holder === w.id) grantNext(m.key);
        return;
      case 'invalidate-all': {
        const pid = ++seq;
        const others = live().filter((x) => x !== w);
        invalidations.set(pid, { from: w, id: m.id, left: new Set(others.map((x) => x.id)), acc: 0 });
        for (const o of others) send(o, { t: 'invalidate-ack', id: pid, patterns: m.patterns });
        finishInvalidation(pid);
        return;
      }
      case 'invalidated': {
        const inv = invalidations.get(m.id);
        if (!inv) return;
        inv.acc = Math.max(inv.acc, m.removed);
        inv.left.delete(w.id);
        finishInvalidation(m.id);
        return;
      }
      case 'metrics': {
        const pid = ++seq;
        const all = live();
        scrapes.set(pid, { from: w, id: m.id, left: new Set(all.map((x) => x.id)), acc: [] });
        for (const x of all) send(x, { t: 'metrics-json', id: pid });
        return;
      }
      case 'metrics-json': {
        const s = scrapes.get(m.id);
        if (!s) return;
        s.acc.push(m.json);
        s.left.delete(w.id);
        void finishScrape(m.id);
        return;
      }
      case 'snapshot-end': {
        const target = live().find((x) => x.id === m.to);
        if (target) send(target, { t: 'snapshot-end' });
        return;
      }
      case 'hello':
        return;
      case 'listening':
        listening.add(w.id);
        if (!announced && listening.size >= count) {
          announced = true;
          log.info({ url: m.url, workers: count, pid: process.pid }, 'edge listening');
        } else if (announced) {
          log.info({ worker: w.process.pid, listening: listening.size }, 'replacement worker listening');
        }
        return;
    }
  };

  const fork = (slot: number, replacing: boolean) => {
    const w = cluster.fork({ EDGEWISE_EDGE_WORKER_SLOT: String(slot), EDGEWISE_EDGE_WORKERS: String(count) });
    slots[slot] = w;
    w.on('message', (m: ToPrimary) => {
      onMessage(w, m);
      if (m.t === 'hello') {
        // A new worker starts empty: a live peer sends it its replica; a first start has none.
        const peer = replacing ? live().find((x) => x !== w && listening.has(x.id)) : undefined;
        if (peer) log.info({ from: peer.process.pid, to: w.process.pid }, 'warming the new worker');
        if (peer) send(peer, { t: 'snapshot', to: w.id });
        else send(w, { t: 'snapshot-end' });
      }
    });
    w.on('exit', (code, signal) => {
      listening.delete(w.id);
      if (slots[slot] === w) slots[slot] = undefined;
      // Whatever the dead worker held or owed is released, so nobody waits on it.
      for (const [key, lease] of leases) if (lease.holder === w.id) grantNext(key);
      for (const [pid, inv] of invalidations) {
        inv.left.delete(w.id);
        finishInvalidation(pid);
      }
      for (const [pid, s] of scrapes) {
        s.left.delete(w.id);
        void finishScrape(pid);
      }
      if (stopping) return;
      log.warn({ worker: w.process.pid, code, signal, slot }, 'edge worker exited; starting a replacement');
      fork(slot, true);
    });
  };
  for (let i = 0; i < count; i++) fork(i, false);

  process.on('SIGHUP', () => {
    log.info({ workers: live().length }, 'SIGHUP: every worker reloads its config');
    for (const w of live()) w.process.kill('SIGHUP');
  });

  return {
    stop() {
      stopping = true;
      const workers = live();
      return new Promise<void>((resolve) => {
        if (workers.length === 0) return resolve();
        let left = workers.length;
        const timer = setTimeout(() => {
          for (const w of live()) w.process.kill('SIGKILL');
        }, deadlineMs + 5000);
        timer.unref();
        for (const w of workers) {
          w.once('exit', () => {
            if (--left === 0) {
              clearTimeout(timer);
              resolve();
            }
          });
          // Each worker drains on SIGTERM (its own graceful shutdown) and exits.
          w.process.kill('SIGTERM');
        }
      });
    },
  };
}
