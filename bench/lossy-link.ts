/**
 * A lossy mobile link between the benchmark's client and one server, as a TCP proxy on
 * 127.0.0.1:0. Linux `tc netem` would be the faithful tool, but this kernel has no sch_netem
 * (`tc qdisc add dev lo root netem` → "Specified qdisc kind is unknown"), so the link is
 * modelled in user space, with what each part assumes stated here:
 *
 * - Round-trip time: every byte arrives one-way delay (rtt / 2) after it was sent, in both
 *   directions, and a new connection pays one RTT (the handshake) before its first byte.
 * - Loss: a TCP flow on a path with random loss rate p settles at about
 *   MSS / RTT · √(3/2) / √p bytes per second (Mathis, Semke, Mahdavi, Ott, "The macroscopic
 *   behavior of the TCP congestion avoidance algorithm", 1997). Each connection is capped at
 *   that rate: loss costs throughput per connection, which is what parallel parts win back.
 *   Slow start and the retransmissions themselves are not modelled (the cap is the long-run
 *   rate; bytes are never delivered twice by the link).
 * - Capacity: the connections sending in one direction share `capacityBytesPerSec` equally
 *   (each gets the smaller of its loss-limited rate and its share).
 * - Cuts: `cut(ms)` is the link going away (a train in a tunnel): every open connection is
 *   reset at once and new ones are reset for `ms`. A real drop would more often stall until
 *   the client's timeout; a reset makes the benchmark measure the protocol, not timeouts.
 *
 * Bytes are counted per direction as the link carries them, so the benchmark can say how much
 * was sent twice.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface LinkModel {
  rttMs: number;
  /** Random packet loss rate, 0 < p < 1. */
  lossRate: number;
  mssBytes: number;
  /** Shared by all connections, per direction. */
  capacityBytesPerSec: number;
}

/** The per-connection rate the model gives a TCP flow (bytes per second). */
export function mathisRate(m: LinkModel): number {
  return (m.mssBytes / (m.rttMs / 1000)) * (Math.sqrt(1.5) / Math.sqrt(m.lossRate));
}

/** Slices no larger than this are scheduled one by one, so pacing is smooth. */
const SLICE = 16 * 1024;
/** Bytes a direction of one connection holds in flight before its source is paused. */
const IN_FLIGHT = 256 * 1024;

/** One direction of the link: its capacity, shared equally by the connections sending. */
class Direction {
  bytes = 0;
  /** Connections with bytes queued in this direction. */
  sending = 0;
  constructor(readonly capacity: number) {}
}

/**
 * One direction of one connection: source → pacing → one-way delay → sink. Each slice leaves
 * at this connection's rate (its loss-limited rate, or its fair share of the capacity when
 * that is smaller) and arrives one-way delay later. Slices wait in one FIFO with one timer,
 * so they can never be delivered out of order (timers of different delays can fire out of
 * the order they were set for within one millisecond).
 */
function pace(
  source: Socket,
  sink: Socket,
  dir: Direction,
  perFlow: number,
  oneWayMs: number,
  notBefore: number,
): void {
  let flowFree = notBefore;
  let queued = 0;
  let ended = false;
  let active = false;
  const fifo: Array<{ at: number; slice: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  const pump = () => {
    timer = undefined;
    const now = performance.now();
    while (fifo.length > 0 && fifo[0]!.at <= now) {
      const { slice } = fifo.shift()!;
      queued -= slice.length;
      if (sink.destroyed) continue;
      dir.bytes += slice.length;
      sink.write(slice);
    }
    if (queued === 0 && active) {
      active = false;
      dir.sending--;
    }
    if (queued <= IN_FLIGHT / 2 && source.isPaused()) source.resume();
    if (fifo.length > 0) timer = setTimeout(pump, Math.max(0, fifo[0]!.at - now));
    else if (ended && !sink.destroyed) sink.end();
  };
  source.on('data', (chunk: Buffer) => {
    for (let off = 0; off < chunk.length; off += SLICE) {
      const slice = chunk.subarray(off, Math.min(chunk.length, off + SLICE));
      const now = performance.now();
      if (!active) {
        active = true;
        dir.sending++;
      }
      const rate = Math.min(perFlow, dir.capacity / Math.max(1, dir.sending));
      flowFree = Math.max(now, flowFree) + (slice.length / rate) * 1000;
      fifo.push({ at: flowFree + oneWayMs, slice });
      queued += slice.length;
    }
    if (queued > IN_FLIGHT) source.pause();
    timer ??= setTimeout(pump, Math.max(0, fifo[0]!.at - performance.now()));
  });
  // The end travels behind the last byte.
  source.on('end', () => {
    ended = true;
    if (fifo.length === 0 && !sink.destroyed) sink.end();
  });
  source.on('close', () => {
    if (timer) clearTimeout(timer);
    if (active) dir.sending--;
    active = false;
    queued = 0;
    fifo.length = 0;
  });
}

export class LossyLink {
  readonly up: Direction;
  readonly down: Direction;
  readonly perFlow: number;
  #server: Server;
  #sockets = new Set<Socket>();
  #downUntil = 0;
  cuts = 0;
  port = 0;

  private constructor(
    readonly model: LinkModel,
    readonly target: { host: string; port: number },
  ) {
    this.up = new Direction(model.capacityBytesPerSec);
    this.down = new Direction(model.capacityBytesPerSec);
    this.perFlow = mathisRate(model);
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(model: LinkModel, target: { host: string; port: number }): Promise<LossyLink> {
    const link = new LossyLink(model, target);
    await new Promise<void>((resolve) => link.#server.listen(0, '127.0.0.1', resolve));
    link.port = (link.#server.address() as { port: number }).port;
    return link;
  }

  #accept(client: Socket): void {
    if (performance.now() < this.#downUntil) return void client.resetAndDestroy();
    const rtt = this.model.rttMs;
    const server = connect(this.target.port, this.target.host);
    for (const s of [client, server]) {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        server.destroy();
      });
    }
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
    const firstByte = performance.now() + rtt;
    pace(client, server, this.up, this.perFlow, rtt / 2, firstByte);
    pace(server, client, this.down, this.perFlow, rtt / 2, firstByte);
  }

  /** The link goes away: open connections are reset, new ones refused for `downMs`. */
  cut(downMs: number): void {
    this.cuts++;
    this.#downUntil = performance.now() + downMs;
    for (const s of this.#sockets) s.resetAndDestroy();
  }

  get isDown(): boolean {
    return performance.now() < this.#downUntil;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
