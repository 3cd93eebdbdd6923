import net from "node:net";
import { freePort } from "./stack/free-port.js";

/** A TCP pipe in front of a real daemon. */
export interface TcpPipe {
  /** `tcp://127.0.0.1:<port>`: the builder's address as the pool knows it. */
  address: string;
  /** Closes every connection and stops listening: the builder now refuses connections at an address the probe knew. */
  down(): Promise<void>;
  /** Listens again at the same port. */
  up(): Promise<void>;
  /** The same as `down`. */
  close(): Promise<void>;
}

export async function tcpPipe(target: string): Promise<TcpPipe> {
  const [host, port] = target.replace("tcp://", "").split(":") as [string, string];
  const listenPort = await freePort();
  let server: net.Server | undefined;
  const sockets = new Set<net.Socket>();
  const up = async (): Promise<void> => {
    const listening = net.createServer((client) => {
      const upstream = net.connect(Number(port), host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    server = listening;
    await new Promise<void>((resolve) => listening.listen(listenPort, "127.0.0.1", resolve));
  };
  const down = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    const listening = server;
    server = undefined;
    await new Promise<void>((resolve) => (listening ? listening.close(() => resolve()) : resolve()));
  };
  await up();
  return { address: `tcp://127.0.0.1:${listenPort}`, down, up, close: down };
}
