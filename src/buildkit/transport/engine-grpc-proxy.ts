import { mkdtemp, rm } from "node:fs/promises";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * grpc-js cannot dial through an HTTP upgrade, so each connection grpc-js opens to this proxy becomes one
 * `POST /grpc` + `Upgrade: h2c` request to the Docker Engine (WIRE.md §9.2), after which bytes are piped both ways.
 */
export interface EngineGrpcProxy {
  /** grpc-js target of the proxy, `unix:///…/engine-grpc.sock`. */
  readonly target: string;
  /** The last reason an upgrade failed (non-101 answer with the Engine's message, or socket error), if any. */
  readonly lastError: Error | undefined;
  close(): Promise<void>;
}

export async function startEngineGrpcProxy(engineSocket: string): Promise<EngineGrpcProxy> {
  const dir = await mkdtemp(join(tmpdir(), "bkb-engine-"));
  const socketPath = join(dir, "engine-grpc.sock");
  const open = new Set<net.Socket>();
  let lastError: Error | undefined;

  const server = net.createServer((downstream) => {
    open.add(downstream);
    downstream.on("close", () => open.delete(downstream));
    downstream.on("error", () => downstream.destroy());
    downstream.pause();
    upgrade(engineSocket).then(
      ({ upstream, head }) => {
        open.add(upstream);
        upstream.on("close", () => {
          open.delete(upstream);
          downstream.destroy();
        });
        upstream.on("error", () => upstream.destroy());
        downstream.on("close", () => upstream.destroy());
        if (downstream.destroyed) {
          upstream.destroy();
          return;
        }
        // The Engine's first HTTP/2 frames often arrive together with the 101; they must reach grpc-js first.
        if (head.length > 0) downstream.write(head);
        upstream.pipe(downstream);
        downstream.pipe(upstream);
        downstream.resume();
      },
      (err: Error) => {
        lastError = err;
        downstream.destroy();
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });

  return {
    target: `unix://${socketPath}`,
    get lastError() {
      return lastError;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One `POST /grpc` upgrade; resolves with the upgraded socket or rejects with the Engine's answer. */
function upgrade(engineSocket: string): Promise<{ upstream: net.Socket; head: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath: engineSocket,
      method: "POST",
      path: "/grpc",
      headers: { Connection: "Upgrade", Upgrade: "h2c" },
    });
    req.on("upgrade", (res, socket, head) => {
      if (res.statusCode !== 101) {
        socket.destroy();
        reject(new Error(`Docker Engine answered ${res.statusCode} to POST /grpc`));
        return;
      }
      resolve({ upstream: socket, head });
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => reject(new Error(`Docker Engine refused POST /grpc (${res.statusCode}): ${engineMessage(Buffer.concat(chunks))}`)));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function engineMessage(body: Buffer): string {
  const text = body.toString("utf8").trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON: use the text as is
  }
  return text.slice(0, 500) || "(empty answer)";
}
