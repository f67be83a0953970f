// A TCP proxy on 127.0.0.1 in front of a real server that can be black-holed: connections stay open, nothing gets through.

import type { AddressInfo } from "node:net";
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface BlackHoleProxy {
  /** The local port that forwards to the target. */
  port: number;
  /** From now on: bytes on open connections are dropped both ways, new connections are accepted and never answered. */
  blackHole(): void;
  /** New connections are forwarded again; those open while black-holed stay dead (their peer gave up on them). */
  heal(): void;
  close(): Promise<void>;
}

/**
 * Like a partition, or a dead server behind a firewall that drops packets: no reset, no error, no answer. The
 * real server is never touched.
 */
export async function startBlackHoleProxy(targetHost: string, targetPort: number): Promise<BlackHoleProxy> {
  const sockets = new Set<Socket>();
  /** Marks the open connections dead: one function per forwarded connection. */
  const cuts = new Set<() => void>();
  let holed = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  };
  const server: Server = createServer((client) => {
    track(client);
    if (holed) {
      client.on("data", () => {});
      return;
    }
    let dead = false;
    const cut = () => {
      dead = true;
    };
    cuts.add(cut);
    const upstream = createConnection({ host: targetHost, port: targetPort });
    track(upstream);
    client.on("data", (chunk) => {
      if (!dead) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!dead) client.write(chunk);
    });
    // Until black-holed, a closed side closes the other, as the real connection would.
    const closeBoth = () => {
      cuts.delete(cut);
      if (dead) return;
      client.destroy();
      upstream.destroy();
    };
    client.on("close", closeBoth);
    upstream.on("close", closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    blackHole() {
      holed = true;
      for (const cut of cuts) cut();
      cuts.clear();
    },
    heal() {
      holed = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
