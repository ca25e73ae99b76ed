/**
 * A TCP proxy on 127.0.0.1 that a test puts between a client (a browser) and a server, to play
 * a bad network: it can throttle what the client sends, cut every open connection at once and
 * then refuse new ones for a while (a tunnel, a dropped Wi-Fi), and it counts the bytes that
 * pass, so a test can tell how much an upload sent again after a cut.
 *
 * It knows nothing of HTTP: it moves bytes. Throttling pauses reading from the client, so the
 * client's own socket buffers fill and its sending slows as on a slow uplink; a byte is counted
 * when the proxy has read it, i.e. when it really left the client.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface CutProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Bytes read from clients (client → server) since start. */
  bytesUp(): number;
  /** Bytes read from the server (server → client) since start. */
  bytesDown(): number;
  /** Connections accepted and passed on since start. */
  connections(): number;
  /** Client → server rate in bytes per second; undefined for no limit. */
  throttle(bytesPerSecond: number | undefined): void;
  /**
   * Resets every open connection (both sides) and resets each new one at once until
   * `refuseMs` have passed; resolves when the proxy passes connections again.
   */
  cut(refuseMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCutProxy(upstream: { host?: string; port: number }): Promise<CutProxy> {
  const host = upstream.host ?? '127.0.0.1';
  const open = new Set<Socket>();
  let up = 0;
  let down = 0;
  let accepted = 0;
  let rate: number | undefined;
  let refuseUntil = 0;
  // The time at which the throttled uplink is free again (a shared pipe for all connections).
  let uplinkFree = 0;

  const server: Server = createServer((client) => {
    if (Date.now() < refuseUntil) {
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const target = createConnection({ host, port: upstream.port });
    open.add(client);
    open.add(target);
    const drop = () => {
      open.delete(client);
      open.delete(target);
      if (!client.destroyed) client.destroy();
      if (!target.destroyed) target.destroy();
    };
    client.on('error', drop).on('close', drop);
    target.on('error', drop).on('close', drop);

    let waiting: NodeJS.Timeout | undefined;
    client.on('data', (chunk: Buffer) => {
      up += chunk.length;
      const flowing = target.write(chunk);
      let pauseMs = 0;
      if (rate !== undefined) {
        const now = Date.now();
        uplinkFree = Math.max(uplinkFree, now) + (chunk.length * 1000) / rate;
        pauseMs = uplinkFree - now;
      }
      if (!flowing || pauseMs > 1) {
        client.pause();
        const resume = () => {
          if (waiting) return;
          if (target.writableNeedDrain) target.once('drain', resume);
          else if (!client.destroyed) client.resume();
        };
        if (pauseMs > 1) {
          waiting = setTimeout(() => {
            waiting = undefined;
            resume();
          }, pauseMs);
        } else target.once('drain', resume);
      }
    });
    client.on('end', () => target.end());
    client.on('close', () => clearTimeout(waiting));
    target.on('data', (chunk: Buffer) => {
      down += chunk.length;
      if (!client.write(chunk)) {
        target.pause();
        client.once('drain', () => target.resume());
      }
    });
    target.on('end', () => client.end());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  if (typeof addr !== 'object' || !addr) throw new Error('cut proxy: no address');
  const port = addr.port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    bytesUp: () => up,
    bytesDown: () => down,
    connections: () => accepted,
    throttle(bytesPerSecond) {
      rate = bytesPerSecond;
      uplinkFree = 0;
    },
    async cut(refuseMs) {
      refuseUntil = Date.now() + refuseMs;
      for (const s of open) s.resetAndDestroy();
      open.clear();
      uplinkFree = 0;
      await new Promise((ok) => setTimeout(ok, refuseMs));
    },
    async close() {
      for (const s of open) s.destroy();
      open.clear();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
