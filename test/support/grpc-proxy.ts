import { mkdtemp, rm } from "node:fs/promises";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";

/**
 * Stand-ins for a standalone buildkitd in tests: servers that hand every accepted connection to the Docker Engine's
 * `POST /grpc` (h2c upgrade), so `unix://` and `tcp://` (mTLS) transports can be exercised against the real Engine.
 */
export interface EngineForwarder {
  /** `unix:///…` or `tcp://127.0.0.1:<port>` */
  address: string;
  /** Connections accepted so far (TLS: only those that completed the handshake). */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startUnixForwarder(engineSocket: string): Promise<EngineForwarder> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-fwd-"));
  const path = join(dir, "buildkitd.sock");
  const server = net.createServer();
  const forwarder = await serve(server, engineSocket, "connection", () => server.listen(path));
  return {
    address: `unix://${path}`,
    get accepted() {
      return forwarder.accepted();
    },
    async close() {
      await forwarder.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A TLS server requiring a client certificate signed by `ca`. */
export async function startTlsForwarder(
  engineSocket: string,
  credentials: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<EngineForwarder> {
  const server = tls.createServer({ ...credentials, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ["h2"] });
  const forwarder = await serve(server, engineSocket, "secureConnection", () => server.listen(0, "127.0.0.1"));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `tcp://127.0.0.1:${port}`,
    get accepted() {
      return forwarder.accepted();
    },
    close: () => forwarder.close(),
  };
}

async function serve(
  server: net.Server,
  engineSocket: string,
  event: "connection" | "secureConnection",
  listen: () => void,
): Promise<{ accepted(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  server.on("error", () => {});
  server.on("tlsClientError", () => {});
  server.on(event, (client: net.Socket) => {
    accepted++;
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    client.pause();
    const req = http.request({ socketPath: engineSocket, method: "POST", path: "/grpc", headers: { Connection: "Upgrade", Upgrade: "h2c" } });
    req.on("upgrade", (_res, engine, head) => {
      sockets.add(engine);
      engine.on("close", () => {
        sockets.delete(engine);
        client.destroy();
      });
      engine.on("error", () => engine.destroy());
      client.on("close", () => engine.destroy());
      if (head.length > 0) client.write(head);
      engine.pipe(client);
      client.pipe(engine);
      client.resume();
    });
    req.on("response", () => client.destroy());
    req.on("error", () => client.destroy());
    req.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
    listen();
  });
  return {
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
